"""The weight presets: every fact about the official checkpoints, once.

One table, `CHECKPOINTS`: a row per published file, with the zoo models it
serves, the preset it belongs to, its input setting, the layout of its
normalisation blobs, its accuracy and where it is hosted. Both the builders
(`keras_nonlocal.applications`) and the loader (`load_weights`) read it; a new
published checkpoint is a new row.

- `"kinetics400"`: the official Kinetics-400 checkpoints (Caffe2 pickles),
  one per model and input setting. The long-clip `128x1` and `32x4` models
  were fine-tuned from `configs/DBG_kinetics_resnet_8gpu_c2d_nonlocal_
  affine_400k.yaml`: every backbone normalisation is a frozen affine map
  (blobs `_bn_s`, `_bn_b` only, `MODEL.USE_AFFINE`) and their non-local
  blocks have no normalisation at all (`NONLOCAL.USE_BN: False`).
- `"imagenet"`: the 2-D ImageNet ResNets that initialise every video model,
  members of the `pretrained_model.tar.gz` archive (2-D kernels, inflated for
  video models).

Sources: the README of `facebookresearch/video-nonlocal-net` ("Pre-trained
Models for Downloads") and its training scripts (`TRAIN.PARAMS_FILE`). The
official code and models are released under CC-BY-NC 4.0; weights converted
from them inherit that licence. No SHA-256 of the files is published, so
`sha256` is `None` in every row: the hash is recorded in the cache the first
time a file is used and checked on every later use
(`keras_nonlocal.weights.cache`). Put a hash in a row to have it checked from
the first download on.
"""

import dataclasses
import os

# Tried in order: the current host, then the bucket's former address.
BASE_URLS = (
    "https://dl.fbaipublicfiles.com/video-nonlocal/",
    "https://s3.amazonaws.com/video-nonlocal/",
)

# Classes of each preset's classifier `pred`.
PRESET_CLASSES = {"kinetics400": 400, "imagenet": 1000}

# The ImageNet-pretrained ResNets that initialise the video models.
IMAGENET_ARCHIVE = "pretrained_model.tar.gz"
IMAGENET_ARCHIVE_SHA256 = None

# Normalisation layouts of a checkpoint's backbone: full BatchNorm (`_s`, `_b`,
# `_rm`, `_riv`) or the frozen affine map (`_s`, `_b`).
LAYOUTS = ("batch_norm", "affine")


@dataclasses.dataclass(frozen=True)
class OfficialCheckpoint:
    """One published file of the official model zoo.

    Attributes:
        name: file name without `.pkl`, e.g.
            `"i3d_nonlocal_8x8_IN_pretrain_400k"`.
        preset: the preset it belongs to, `"kinetics400"` or `"imagenet"`.
        models: the zoo names (`keras_nonlocal.applications.list_models()`)
            it initialises.
        input_setting: the input setting it was trained with (`"32x2"`,
            `"8x8"`, `"128x1"`, `"32x4"`); `None` for the 2-D ImageNet files.
        layout: the backbone's normalisation blobs: `"batch_norm"` or
            `"affine"` (`_bn_s`, `_bn_b` only).
        top1: Kinetics-400 validation top-1 (%), README of the official repo.
        top5: top-5 (%).
        default: whether `weights="<preset>"` picks it (the 400k, 8-GPU runs
            of the README's main tables, and the ImageNet ResNets).
        note: anything that sets the file apart (schedule, GPUs).
        archive: the archive it is a member of, or `None` for a file hosted
            on its own.
        sha256: known SHA-256 of the `.pkl`, or `None`.
        depth: ResNet depth of the backbone.

    Example:

    >>> CHECKPOINTS["i3d_nonlocal_32x4_I3D_pretrain_400k"].input_setting
    '32x4'
    """

    name: str
    preset: str
    models: tuple
    input_setting: str | None
    layout: str
    top1: float | None = None
    top5: float | None = None
    default: bool = True
    note: str = ""
    archive: str | None = None
    sha256: str | None = None
    depth: int = 50

    @property
    def file_name(self):
        """The file name, `name + ".pkl"`."""
        return self.name + ".pkl"

    @property
    def classes(self):
        """Classes of the checkpoint's classifier."""
        return PRESET_CLASSES[self.preset]


def _kinetics(name, model, setting, top1, top5, layout="batch_norm", note=""):
    return OfficialCheckpoint(
        name=name, preset="kinetics400", models=(model,), input_setting=setting,
        layout=layout, top1=top1, top5=top5, default=not note, note=note,
    )


_R50_MODELS = ("c2d_r50", "nl_c2d_r50", "i3d_r50", "nl_i3d_r50", "i3d_3x3x3_r50",
               "resnet50", "nl_resnet50")
_R101_MODELS = ("c2d_r101", "nl_c2d_r101", "i3d_r101", "nl_i3d_r101", "i3d_3x3x3_r101",
                "resnet101", "nl_resnet101")

_ROWS = (
    # Kinetics-400, in the order of the official README.
    _kinetics("c2d_baseline_32x2_IN_pretrain_400k", "c2d_r50", "32x2", 72.0, 90.0),
    _kinetics("c2d_nonlocal_32x2_IN_pretrain_400k", "nl_c2d_r50", "32x2", 73.9, 91.0),
    _kinetics("i3d_baseline_32x2_IN_pretrain_400k", "i3d_r50", "32x2", 73.6, 90.8),
    _kinetics("i3d_nonlocal_32x2_IN_pretrain_400k", "nl_i3d_r50", "32x2", 74.9, 91.6),
    _kinetics("i3d_baseline_128x1_I3D_pretrain_400k", "i3d_r50", "128x1", 75.2, 92.0, "affine"),
    _kinetics("i3d_nonlocal_128x1_I3D_pretrain_400k", "nl_i3d_r50", "128x1", 76.5, 92.7, "affine"),
    _kinetics("c2d_baseline_8x8_IN_pretrain_400k", "c2d_r50", "8x8", 71.9, 90.0),
    _kinetics("c2d_nonlocal_8x8_IN_pretrain_400k", "nl_c2d_r50", "8x8", 74.4, 91.4),
    _kinetics("i3d_baseline_8x8_IN_pretrain_400k", "i3d_r50", "8x8", 73.4, 90.9),
    _kinetics("i3d_nonlocal_8x8_IN_pretrain_400k", "nl_i3d_r50", "8x8", 74.7, 91.6),
    _kinetics("i3d_baseline_32x4_I3D_pretrain_400k", "i3d_r50", "32x4", 75.5, 92.0, "affine"),
    _kinetics("i3d_nonlocal_32x4_I3D_pretrain_400k", "nl_i3d_r50", "32x4", 76.5, 92.6, "affine"),
    _kinetics("i3d_baseline_8x8_IN_pretrain_300k", "i3d_r50", "8x8", 73.2, 90.8,
              note="300k iterations"),
    _kinetics("i3d_baseline_8x8_IN_pretrain_600k_4gpu", "i3d_r50", "8x8", 73.0, 90.4,
              note="4 GPUs, 600k iterations"),
    _kinetics("i3d_baseline_8x8_IN_pretrain_300k_4gpu", "i3d_r50", "8x8", 72.0, 90.1,
              note="4 GPUs, 300k iterations"),
    # ImageNet ResNets (`MODEL.DEPTH` 50 / 101 of the training scripts).
    OfficialCheckpoint(
        name="r50_pretrain_c2_model_iter450450_clean", preset="imagenet", models=_R50_MODELS,
        input_setting=None, layout="batch_norm", archive=IMAGENET_ARCHIVE, depth=50,
    ),
    OfficialCheckpoint(
        name="r101_pretrain_c2_model_iter450450_clean", preset="imagenet", models=_R101_MODELS,
        input_setting=None, layout="batch_norm", archive=IMAGENET_ARCHIVE, depth=101,
    ),
)

# Every official file, by name (without `.pkl`).
CHECKPOINTS = {row.name: row for row in _ROWS}

# The files hosted on their own, which `weights=` accepts by name (the
# Kinetics-400 checkpoints).
OFFICIAL_CHECKPOINTS = {name: row for name, row in CHECKPOINTS.items() if row.archive is None}


def available_presets(model_name):
    """Names of the weight presets a zoo model has.

    Args:
        model_name: a zoo name, e.g. `"nl_i3d_r50"`.

    Returns:
        A sorted list such as `["imagenet", "kinetics400"]` (empty for an
        unknown model).

    Example:

    >>> available_presets("nl_i3d_r101")
    ['imagenet']
    """
    return sorted({row.preset for row in _ROWS if model_name in row.models})


def preset_settings(model_name, preset="kinetics400"):
    """The input settings a model's preset has a checkpoint for.

    Args:
        model_name: a zoo name.
        preset: a preset name.

    Returns:
        A sorted list of setting names.

    Example:

    >>> preset_settings("c2d_r50")
    ['32x2', '8x8']
    """
    return sorted({
        row.input_setting for row in _ROWS
        if row.preset == preset and model_name in row.models and row.default
    })


def preset_checkpoint(model_name, preset, input_setting=None):
    """The official file a preset names for a model (and an input setting).

    Args:
        model_name: a zoo name, e.g. `"nl_i3d_r50"`.
        preset: `"kinetics400"` or `"imagenet"`.
        input_setting: for `"kinetics400"`, the setting whose checkpoint is
            wanted (`"32x2"`, `"8x8"`, `"128x1"`, `"32x4"`).

    Returns:
        An `OfficialCheckpoint`.

    Raises:
        ValueError: if the model has no such preset, or none for the setting.

    Example:

    >>> preset_checkpoint("nl_i3d_r50", "kinetics400", "8x8").file_name
    'i3d_nonlocal_8x8_IN_pretrain_400k.pkl'
    >>> preset_checkpoint("nl_i3d_r101", "imagenet").name
    'r101_pretrain_c2_model_iter450450_clean'
    """
    if preset not in available_presets(model_name):
        raise ValueError(
            f"No {preset!r} weights for "
            f"{'model ' + repr(model_name) if model_name else 'a custom model'}; "
            f"its presets are {available_presets(model_name) or 'none'}. Use "
            "`weights=None` or the path to a weights file."
        )
    for row in _ROWS:
        if row.preset == preset and model_name in row.models and row.default and (
            row.input_setting is None or row.input_setting == input_setting
        ):
            return row
    raise ValueError(
        f"Model {model_name!r} has {preset!r} weights for the input settings "
        f"{preset_settings(model_name, preset)}, not for input_setting={input_setting!r}."
    )


def official_checkpoint(name):
    """Looks up an official Kinetics-400 checkpoint by name.

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
    row = find_official_checkpoint(name)
    if row is None:
        raise ValueError(
            f"Unknown official checkpoint {name!r}. Known checkpoints: "
            f"{sorted(OFFICIAL_CHECKPOINTS)}."
        )
    return row


def find_official_checkpoint(weights):
    """The official checkpoint a `weights` value names, if any.

    A name (with or without `.pkl`), or a path or URL whose file name is an
    official file name (a file downloaded by hand keeps its name), names that
    checkpoint.

    Args:
        weights: a `weights` value (string or path-like).

    Returns:
        An `OfficialCheckpoint`, or `None`.

    Example:

    >>> find_official_checkpoint("/data/i3d_nonlocal_32x4_I3D_pretrain_400k.pkl").input_setting
    '32x4'
    >>> find_official_checkpoint("mine.weights.h5") is None
    True
    """
    if not isinstance(weights, (str, os.PathLike)):
        return None
    text = os.fspath(weights)
    if text in OFFICIAL_CHECKPOINTS:
        return OFFICIAL_CHECKPOINTS[text]
    base = os.path.basename(text)  # of a path or a URL
    if base.endswith(".pkl"):
        return OFFICIAL_CHECKPOINTS.get(base[: -len(".pkl")])
    return None


def imagenet_member_for(depth):
    """The member of `pretrained_model.tar.gz` holding an ImageNet ResNet.

    Args:
        depth: 50 or 101.

    Returns:
        The member's file name.

    Raises:
        ValueError: for another depth.

    Example:

    >>> imagenet_member_for(101)
    'r101_pretrain_c2_model_iter450450_clean.pkl'
    """
    for row in _ROWS:
        if row.preset == "imagenet" and row.depth == depth:
            return row.file_name
    depths = sorted(row.depth for row in _ROWS if row.preset == "imagenet")
    raise ValueError(
        f"No official ImageNet ResNet of depth {depth!r}; available depths: {depths}."
    )
