"""Where the official weights live: hosts, file names, accuracies, hashes.

Everything here is data. A new published checkpoint is a new row of
`OFFICIAL_CHECKPOINTS`; a new mirror is a new entry of `BASE_URLS`.

The official files are those of `facebookresearch/video-nonlocal-net`
(README, "Pre-trained Models for Downloads"), released under CC-BY-NC 4.0.
No SHA-256 of them is published, so `sha256` is `None` for every row: the
hash is recorded in the cache the first time a file is converted and checked
on every later use (see `keras_nonlocal.weights.cache`). Put a hash in a row
to have it checked from the first download on.
"""

import dataclasses
import os

# Tried in order. The current host first, then the bucket's former address.
BASE_URLS = (
    "https://dl.fbaipublicfiles.com/video-nonlocal/",
    "https://s3.amazonaws.com/video-nonlocal/",
)

# URL schemes `weights=` accepts (fetched by `download.fetch_url`).
URL_SCHEMES = ("http://", "https://", "file://")

# Overrides `BASE_URLS` (comma or whitespace separated), e.g. for a mirror or a
# local test server.
BASE_URLS_ENV = "KERAS_NONLOCAL_WEIGHTS_BASE_URLS"

# The ImageNet-pretrained ResNets that initialise the video models.
IMAGENET_ARCHIVE = "pretrained_model.tar.gz"
IMAGENET_ARCHIVE_SHA256 = None


@dataclasses.dataclass(frozen=True)
class OfficialCheckpoint:
    """One published Kinetics-400 checkpoint of the official model zoo.

    Attributes:
        name: file name without `.pkl`, e.g.
            `"i3d_nonlocal_8x8_IN_pretrain_400k"`.
        arch: `"c2d"` or `"i3d"`.
        nonlocal_blocks: whether the model has the 5 non-local blocks.
        input_setting: `"<frames>x<sampling stride>"`, e.g. `"32x2"`.
        affine: `True` when every BatchNorm is stored as a frozen affine map
            (blobs `_bn_s`, `_bn_b` only): the 128×1 and 32×4 models.
        top1: Kinetics-400 validation top-1 (%), README of the official repo.
        top5: top-5 (%).
        note: anything that sets the file apart (schedule, GPUs).
        sha256: known SHA-256 of the `.pkl`, or `None`.
        depth: ResNet depth of the backbone.
    """

    name: str
    arch: str
    nonlocal_blocks: bool
    input_setting: str
    affine: bool
    top1: float
    top5: float
    note: str = ""
    sha256: str | None = None
    depth: int = 50

    @property
    def file_name(self):
        return self.name + ".pkl"


def _row(name, top1, top5, note=""):
    arch, kind, setting = name.split("_")[:3]
    affine = setting in ("128x1", "32x4")
    return OfficialCheckpoint(
        name=name,
        arch=arch,
        nonlocal_blocks=(kind == "nonlocal"),
        input_setting=setting,
        affine=affine,
        top1=top1,
        top5=top5,
        note=note,
    )


# The official model zoo, in the order of its README.
OFFICIAL_CHECKPOINTS = {
    row.name: row
    for row in (
        _row("c2d_baseline_32x2_IN_pretrain_400k", 72.0, 90.0),
        _row("c2d_nonlocal_32x2_IN_pretrain_400k", 73.9, 91.0),
        _row("i3d_baseline_32x2_IN_pretrain_400k", 73.6, 90.8),
        _row("i3d_nonlocal_32x2_IN_pretrain_400k", 74.9, 91.6),
        _row("i3d_baseline_128x1_I3D_pretrain_400k", 75.2, 92.0),
        _row("i3d_nonlocal_128x1_I3D_pretrain_400k", 76.5, 92.7),
        _row("c2d_baseline_8x8_IN_pretrain_400k", 71.9, 90.0),
        _row("c2d_nonlocal_8x8_IN_pretrain_400k", 74.4, 91.4),
        _row("i3d_baseline_8x8_IN_pretrain_400k", 73.4, 90.9),
        _row("i3d_nonlocal_8x8_IN_pretrain_400k", 74.7, 91.6),
        _row("i3d_baseline_32x4_I3D_pretrain_400k", 75.5, 92.0),
        _row("i3d_nonlocal_32x4_I3D_pretrain_400k", 76.5, 92.6),
        _row("i3d_baseline_8x8_IN_pretrain_300k", 73.2, 90.8, "300k iterations"),
        _row(
            "i3d_baseline_8x8_IN_pretrain_600k_4gpu",
            73.0,
            90.4,
            "4 GPUs, 600k iterations",
        ),
        _row(
            "i3d_baseline_8x8_IN_pretrain_300k_4gpu",
            72.0,
            90.1,
            "4 GPUs, 300k iterations",
        ),
    )
}

# The default file for each (arch, non-local, input setting): the 400k,
# 8-GPU run of the README's main tables.
_DEFAULTS = {
    (row.arch, row.nonlocal_blocks, row.input_setting): row.name
    for row in OFFICIAL_CHECKPOINTS.values()
    if row.note == ""
}

INPUT_SETTINGS = ("32x2", "8x8", "128x1", "32x4")

# Members of `pretrained_model.tar.gz`, by ResNet depth (the official training
# scripts' `TRAIN.PARAMS_FILE`).
IMAGENET_MEMBERS = {
    50: "r50_pretrain_c2_model_iter450450_clean.pkl",
    101: "r101_pretrain_c2_model_iter450450_clean.pkl",
}


def base_urls(override=None):
    """The download hosts, in the order they are tried.

    Args:
        override: a list of base URLs, or a string of them separated by commas
            or whitespace. Defaults to the environment variable
            `KERAS_NONLOCAL_WEIGHTS_BASE_URLS`, then to `BASE_URLS`.

    Returns:
        A tuple of base URLs, each ending with `/`.

    Example:

    >>> base_urls()[0]
    'https://dl.fbaipublicfiles.com/video-nonlocal/'
    """
    if override is None:
        override = os.environ.get(BASE_URLS_ENV) or None
    if override is None:
        urls = BASE_URLS
    elif isinstance(override, str):
        urls = override.replace(",", " ").split()
    else:
        urls = tuple(override)
    if not urls:
        raise ValueError(
            "At least one base URL is needed; received an empty list "
            f"(check ${BASE_URLS_ENV})."
        )
    return tuple(url if url.endswith("/") else url + "/" for url in urls)


def official_checkpoint(name):
    """Looks up an official checkpoint by name.

    Args:
        name: the file name, with or without `.pkl`.

    Returns:
        An `OfficialCheckpoint`.

    Raises:
        ValueError: if `name` is not an official file.

    Example:

    >>> official_checkpoint("i3d_nonlocal_8x8_IN_pretrain_400k").top1
    74.7
    """
    key = name[:-4] if name.endswith(".pkl") else name
    if key not in OFFICIAL_CHECKPOINTS:
        raise ValueError(
            f"Unknown official checkpoint {name!r}. Known checkpoints: "
            f"{sorted(OFFICIAL_CHECKPOINTS)}."
        )
    return OFFICIAL_CHECKPOINTS[key]


def kinetics_checkpoint_for(arch, nonlocal_blocks, input_setting="32x2", depth=50):
    """The official Kinetics-400 checkpoint of a model family and input.

    Args:
        arch: `"c2d"` or `"i3d"`.
        nonlocal_blocks: whether the model has non-local blocks.
        input_setting: one of `"32x2"` (the paper), `"8x8"`, `"128x1"` or
            `"32x4"` (the last two are I3D only, with frozen "affine" BN).
        depth: ResNet depth; only 50 was published.

    Returns:
        An `OfficialCheckpoint`.

    Raises:
        ValueError: if no checkpoint was published for that combination.

    Example:

    >>> kinetics_checkpoint_for("i3d", True, "8x8").name
    'i3d_nonlocal_8x8_IN_pretrain_400k'
    """
    key = (arch, bool(nonlocal_blocks), input_setting)
    if depth != 50 or key not in _DEFAULTS:
        published = sorted(
            f"{a} {'non-local' if n else 'baseline'} {s}" for a, n, s in _DEFAULTS
        )
        raise ValueError(
            "No official Kinetics-400 checkpoint for "
            f"arch={arch!r}, nonlocal_blocks={nonlocal_blocks}, "
            f"input_setting={input_setting!r}, depth={depth} "
            f"(all published models are ResNet-50). Published: {published}."
        )
    return OFFICIAL_CHECKPOINTS[_DEFAULTS[key]]


def imagenet_member_for(depth):
    """The member of `pretrained_model.tar.gz` holding an ImageNet ResNet.

    Args:
        depth: 50 or 101.

    Returns:
        The member's file name.

    Example:

    >>> imagenet_member_for(101)
    'r101_pretrain_c2_model_iter450450_clean.pkl'
    """
    if depth not in IMAGENET_MEMBERS:
        raise ValueError(
            f"No official ImageNet ResNet of depth {depth!r}; "
            f"available depths: {sorted(IMAGENET_MEMBERS)}."
        )
    return IMAGENET_MEMBERS[depth]
