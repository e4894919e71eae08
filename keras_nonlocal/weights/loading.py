"""`load_weights`: the `weights=` argument of every builder.

`weights` may be:

- `None`: nothing is loaded.
- `"kinetics400"`: the official Kinetics-400 checkpoint of the model and its
  input setting (`keras_nonlocal.weights.presets`), downloaded once,
  verified blob by blob, converted once into a `.weights.h5` in the cache.
- `"imagenet"`: the official ImageNet ResNet-50/101 (a member of
  `pretrained_model.tar.gz`), inflated for video models; non-local blocks
  start as the identity.
- the name of an official checkpoint, e.g.
  `"i3d_baseline_8x8_IN_pretrain_300k"`.
- a local path to a `.weights.h5` saved by this package, or to an official
  `.pkl` checkpoint.
- an `http(s)://` or `file://` URL of either, downloaded once into the cache.

An official checkpoint (by preset, by name, or a file or URL keeping its
official file name) carries its input setting, and a model built for another
setting is refused. The non-local layout of a `.pkl` is read from its blobs
(`keras_nonlocal.weights.mapping`).
"""

import hashlib
import os
import pickle
import re
import tarfile
import tempfile
import urllib.parse
import warnings

from keras_nonlocal.weights import cache as _cache
from keras_nonlocal.weights import presets
from keras_nonlocal.weights import sources
from keras_nonlocal.weights.checkpoint import CheckpointFormatError
from keras_nonlocal.weights.checkpoint import read_checkpoint
from keras_nonlocal.weights.download import WEIGHTS_SUFFIXES
from keras_nonlocal.weights.download import check_url
from keras_nonlocal.weights.download import fetch
from keras_nonlocal.weights.download import fetch_url
from keras_nonlocal.weights.download import looks_like_url
from keras_nonlocal.weights.mapping import HEAD_PREFIXES
from keras_nonlocal.weights.mapping import apply_mapping
from keras_nonlocal.weights.mapping import model_slots
from keras_nonlocal.weights.mapping import plan_mapping
from keras_nonlocal.weights.mapping import verify
from keras_nonlocal.weights.safe_pickle import UnsafePickleError

# The ImageNet ResNets hold only the 2-D backbone; blobs that are not backbone
# (an ImageNet classifier under another name, say) are ignored, not an error.
_BACKBONE_BLOB = r"^(conv1_|res_conv1_|res\d+_\d+_|nonlocal_)"

_EXPECTED_WEIGHTS = (
    "The `weights` argument should be either `None` (random initialization), "
    f"a preset name ({', '.join(presets.PRESET_CLASSES)}), an official "
    "checkpoint name, a URL, or the path to the weights file to be loaded."
)


class WeightsIntegrityError(OSError):
    """A cached or downloaded weights file is corrupted and was discarded."""


# --------------------------------------------------------------- resolution


def _is_url(weights):
    return weights.lower().startswith(sources.URL_SCHEMES)


def _downloads_official(weights, row):
    """Whether `weights` is an official name to fetch (not a file or a URL)."""
    return row is not None and not _is_url(weights) and not os.path.exists(weights)


def _model_depth(model):
    blocks = set()
    for layer in model.layers:
        match = re.match(r"res4_(\d+)_branch2a$", layer.name)
        if match:
            blocks.add(int(match.group(1)))
    return {6: 50, 23: 101}.get(len(blocks))


def _imagenet_member(model, row):
    if row is not None:
        return row.file_name
    depth = _model_depth(model)
    if depth is None:
        raise ValueError(
            'weights="imagenet" needs a ResNet-50 or ResNet-101 backbone; '
            f"could not tell the depth of model {model.name!r} (it has no res4 of "
            "6 or 23 blocks). Pass model_name."
        )
    return presets.imagenet_member_for(depth)


def _has_head(model):
    return any(
        re.match(rf"{h}(_|$)", prefix) for prefix, _, _ in model_slots(model) for h in HEAD_PREFIXES
    )


def model_signature(model):
    """A short digest of a model's weight paths and shapes.

    Two models with the same signature accept the same `.weights.h5`; it keys
    the converted files in the cache.

    Example:

    >>> len(model_signature(model))  # doctest: +SKIP
    12
    """
    text = "\n".join(f"{w.path}:{tuple(w.shape)}" for w in model.weights)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# ----------------------------------------------------------- file handling


def _obtain(path, fetcher, known_sha256=None):
    """Makes sure `path` holds an intact file, fetching it when needed.

    A cached file whose hash no longer matches its known or recorded SHA-256
    is discarded and fetched again. Returns `True` when it was fetched now.
    """
    if os.path.isfile(path) and not _cache.is_intact(path, known_sha256):
        warnings.warn(
            f"The cached file {path} does not match its recorded SHA-256; it "
            "is corrupted and is fetched again.",
            stacklevel=3,
        )
        _cache.discard(path)
    if os.path.isfile(path):
        return False
    fetcher()
    return True


def _read_cached_checkpoint(path, refetch):
    """Reads a cached `.pkl`; a truncated one is discarded and fetched again."""
    for attempt in (0, 1):
        try:
            return read_checkpoint(path)
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, CheckpointFormatError, ValueError) as error:
            _cache.discard(path)
            if attempt == 1 or refetch is None:
                raise WeightsIntegrityError(
                    f"The checkpoint {path} could not be read ({type(error).__name__}: "
                    f"{error}); it was removed from the cache. Fetch it again or "
                    "place an intact copy there by hand."
                ) from error
            warnings.warn(
                f"The cached checkpoint {path} could not be read "
                f"({type(error).__name__}); fetching it again.",
                stacklevel=3,
            )
            refetch()


def _official_checkpoint(file_name, cache_dir, base_urls, progress):
    stem = file_name[:-4]
    row = presets.OFFICIAL_CHECKPOINTS.get(stem)
    known = row.sha256 if row else None
    path = _cache.cache_path("official", file_name, cache_dir)
    hint = f'pass the downloaded file\'s path as weights="/path/to/{file_name}"'

    def download():
        fetch(file_name, sources.base_urls(base_urls), path, sha256=known,
              progress=progress, manual_hint=hint)

    _obtain(path, download, known)
    return path, _read_cached_checkpoint(path, download)


def _extract_member(archive, member, destination):
    with tarfile.open(archive, "r:*") as tar:
        for info in tar:
            if info.isfile() and os.path.basename(info.name) == member:
                source = tar.extractfile(info)
                _cache.remove_stale_parts(destination)
                fd, tmp = _cache.create_part(destination)
                try:
                    with open(fd, "wb", closefd=False) as out:
                        for chunk in iter(lambda: source.read(1 << 20), b""):
                            out.write(chunk)
                    os.replace(tmp, destination)
                finally:
                    _cache._remove(tmp)
                    os.close(fd)
                return
    raise WeightsIntegrityError(f"{archive} has no member named {member!r}.")


def _imagenet_checkpoint(member, cache_dir, base_urls, progress):
    archive_name = presets.IMAGENET_ARCHIVE
    archive = _cache.cache_path("official", archive_name, cache_dir)
    path = _cache.cache_path("official", member, cache_dir)
    hint = (
        f"extract {member} from it and place that at {path}, or pass the "
        f'extracted file\'s path as weights="/path/to/{member}"'
    )

    def download_archive():
        fetch(archive_name, sources.base_urls(base_urls), archive,
              sha256=presets.IMAGENET_ARCHIVE_SHA256, progress=progress, manual_hint=hint)

    def extract():
        for attempt in (0, 1):
            _obtain(archive, download_archive, presets.IMAGENET_ARCHIVE_SHA256)
            try:
                _extract_member(archive, member, path)
                return
            except (tarfile.TarError, EOFError, OSError) as error:
                _cache.discard(archive)
                if attempt == 1:
                    raise WeightsIntegrityError(
                        f"The archive {archive} is corrupted ({error}); it was "
                        "removed from the cache."
                    ) from error

    _obtain(path, extract)
    if os.path.isfile(archive) and not _cache.read_record(archive):
        _cache.write_record(archive, source=archive_name)
    return path, _read_cached_checkpoint(path, extract)


def _url_file(url, file_hash, cache_dir, progress):
    name = os.path.basename(urllib.parse.urlparse(url).path) or "weights"
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    path = _cache.cache_path("downloads", f"{digest}-{name}", cache_dir)

    def download():
        sha = fetch_url(url, path, sha256=file_hash, progress=progress)
        _cache.write_record(path, sha256=sha, source=url)

    _obtain(path, download, file_hash)
    return path


def _save_converted(model, path, record):
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".", suffix=".weights.h5")
    os.close(fd)
    try:
        os.remove(tmp)  # Keras writes the file itself.
        model.save_weights(tmp)
        os.replace(tmp, path)
    finally:
        _cache._remove(tmp)
    _cache.write_record(path, **record)


def _load_converted(model, path):
    if not os.path.isfile(path):
        return False
    if not _cache.read_record(path).get("sha256") or not _cache.is_intact(path):
        warnings.warn(f"Discarding the corrupted converted file {path}.", stacklevel=3)
        _cache.discard(path)
        return False
    model.load_weights(path)
    return True


def _map_and_apply(model, checkpoint, load_head, inflate=False, initialise=(),
                   ignore_unused=None, hint="", verbose=False):
    report = plan_mapping(
        model, checkpoint, load_head=load_head, inflate=inflate, initialise=initialise
    )
    if ignore_unused is not None:
        for blob, shape in list(report.unused):
            if not re.match(ignore_unused, blob):
                report.unused.remove((blob, shape))
                report.ignored.append((blob, "not part of the backbone"))
    verify(report, hint=hint)
    apply_mapping(report)
    if verbose:
        print(report.summary())
    return report


# ------------------------------------------------------------------ public


def _check_classes(weights, expected, include_top, classes):
    if include_top and classes is not None and classes != expected:
        raise ValueError(
            f'If using `weights="{weights}"` with `include_top=True`, '
            f"`classes` should be {expected}.  Received classes={classes}"
        )


def validate_weights_argument(weights, include_top=True, classes=None, model_name=None,
                              input_setting=None, default_input_setting=None, video=True):
    """Checks `weights` and returns the official checkpoint it names.

    The one check of every `weights=` value: the builders call it before
    building anything, so that a wrong combination fails fast with the
    message `keras.applications` uses, and `load_weights` calls it again.

    Args:
        weights: the `weights` argument.
        include_top: whether the classifier is built.
        classes: its number of classes (`None`: not checked).
        model_name: the zoo name the presets are looked up under; `None`
            for a custom model, which has no presets.
        input_setting: the input setting the model is built for, or `None`
            when it follows the checkpoint. An official checkpoint of
            another setting is refused.
        default_input_setting: the setting whose `"kinetics400"` file is
            chosen when `input_setting` is `None`.
        video: whether the model is a video model. Video models initialised
            from `"imagenet"` get a new classifier of any size (the official
            fine-tuning recipe), so `classes` is only checked for images.

    Returns:
        The `OfficialCheckpoint` that `weights` names (a preset resolved for
        the model and setting, an official name, or a file or URL whose name
        is an official file name), or `None`.

    Raises:
        ValueError: if `weights` is neither `None`, a preset of the model, an
            official checkpoint name, a URL nor an existing path; if a
            pretrained classifier gets another number of `classes`; or if
            the checkpoint's input setting is not `input_setting`.

    Example:

    >>> validate_weights_argument("kinetics400", include_top=True, classes=10,
    ...                           model_name="nl_i3d_r50", input_setting="8x8")
    Traceback (most recent call last):
    ...
    ValueError: If using `weights="kinetics400"` with `include_top=True`, `classes` should be 400.  Received classes=10
    >>> validate_weights_argument("i3d_nonlocal_32x4_I3D_pretrain_400k").input_setting
    '32x4'
    """
    if weights is None:
        return None
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"{_EXPECTED_WEIGHTS} Received: weights={weights!r}")
    weights = os.fspath(weights)
    if weights in presets.PRESET_CLASSES:
        if weights == "imagenet" and model_name is None:
            # A custom ResNet-50/101: `load_weights` picks the member by depth.
            if not video:
                _check_classes(weights, presets.PRESET_CLASSES[weights], include_top, classes)
            return None
        if model_name is None:
            raise ValueError(
                f"weights={weights!r} needs `model_name` (a zoo name such as "
                "'nl_i3d_r50') to choose the official file; a custom model takes "
                "an official checkpoint name or the path to a weights file."
            )
        new_head = video and weights == "imagenet"
        available = presets.available_presets(model_name)
        if weights in available and not new_head:
            _check_classes(weights, presets.PRESET_CLASSES[weights], include_top, classes)
        if weights == "imagenet":
            return presets.preset_checkpoint(model_name, weights)
        setting = input_setting or default_input_setting
        if weights in available and setting is None:
            raise ValueError(
                f"weights={weights!r} needs the input setting the model is built "
                f"for, to choose its file; pass input_setting= one of "
                f"{presets.preset_settings(model_name, weights)}."
            )
        return presets.preset_checkpoint(model_name, weights, setting)
    if looks_like_url(weights):  # an unsupported scheme or name fails here, not later
        check_url(weights, WEIGHTS_SUFFIXES)
    row = presets.find_official_checkpoint(weights)
    is_name = row is not None and weights in (row.name, row.file_name)
    if not (_is_url(weights) or is_name or os.path.exists(os.path.expanduser(weights))):
        raise ValueError(f"{_EXPECTED_WEIGHTS} Received: weights={weights!r} (no such file)")
    if row is None:
        return None
    _check_classes(weights, row.classes, include_top, classes)
    if input_setting is not None and row.input_setting != input_setting:
        raise ValueError(
            f"weights={weights!r} is the checkpoint of the {row.input_setting!r} input "
            f"setting, but the model is built for input_setting={input_setting!r}. "
            f"Build it with input_setting={row.input_setting!r}, or leave "
            "input_setting=None to follow the checkpoint."
        )
    return row


def fetch_official_checkpoint(name, cache_dir=None, base_urls=None, progress=True):
    """Downloads (once) an official `.pkl` into the cache and returns its path.

    The file is read with the restricted unpickler before it is returned, so
    a truncated cached copy is replaced; its structure is verified when it is
    mapped onto a model.

    Args:
        name: an official file name, with or without `.pkl`
            (see `keras_nonlocal.weights.OFFICIAL_CHECKPOINTS`).
        cache_dir: base directory of the cache instead of `$KERAS_HOME`.
        base_urls: download hosts instead of the official ones.
        progress: show a progress bar.

    Returns:
        The path of the cached `.pkl`.

    Raises:
        ValueError: if `name` is not an official file.
        WeightsDownloadError: if no host delivers it.

    Example:

    >>> fetch_official_checkpoint("c2d_baseline_8x8_IN_pretrain_400k")  # doctest: +SKIP
    '/home/me/.keras/models/keras_nonlocal/official/c2d_baseline_8x8_IN_pretrain_400k.pkl'
    """
    row = presets.official_checkpoint(name)
    path, _ = _official_checkpoint(row.file_name, cache_dir, base_urls, progress)
    return path


def convert_checkpoint(model, checkpoint_path, output=None, include_top=None,
                       inflate=False, overwrite=False, verbose=False):
    """Loads an official `.pkl` into a model and optionally saves it.

    Every blob is verified first: any missing, extra (other than solver
    state) or mis-shaped blob raises before anything is assigned.

    Args:
        model: a model whose layer names are the official blob prefixes.
        checkpoint_path: path of the official `.pkl`.
        output: optional path of a `.weights.h5` to write.
        include_top: whether to load the classifier `pred`; defaults to
            whether the model has one.
        inflate: initialise from 2-D ImageNet kernels (inflation; non-local
            blocks start as the identity, the head is loaded only if its
            shape fits).
        overwrite: replace an existing `output`.
        verbose: print the mapping report.

    Returns:
        The `MappingReport`.

    Raises:
        FileExistsError: if `output` exists and `overwrite` is `False`.
        CheckpointMismatchError: if the checkpoint does not fit the model.

    Example:

    >>> model = keras_nonlocal.applications.get_model("nl_i3d_r50",
    ...     weights=None, input_setting="8x8")  # doctest: +SKIP
    >>> report = convert_checkpoint(model, "i3d_nonlocal_8x8_IN_pretrain_400k.pkl",
    ...     "nl_i3d_r50_8x8.weights.h5")  # doctest: +SKIP
    >>> print(report.summary())  # doctest: +SKIP
    """
    if output is not None:
        output = os.fspath(output)
        if not output.endswith(".weights.h5"):
            raise ValueError(
                f"The output must be a Keras weights file ending in '.weights.h5'; "
                f"received output={output!r}."
            )
        if os.path.exists(output) and not overwrite:
            raise FileExistsError(
                f"{output} exists; pass overwrite=True (--overwrite) to replace it."
            )
    if include_top is None:
        include_top = _has_head(model)
    checkpoint = read_checkpoint(checkpoint_path)
    if inflate:
        report = _map_and_apply(
            model, checkpoint, "if_match" if include_top else False, inflate=True,
            initialise=(r"nonlocal_",), ignore_unused=_BACKBONE_BLOB, verbose=verbose,
        )
    else:
        report = _map_and_apply(model, checkpoint, bool(include_top), verbose=verbose)
    if output is not None:
        directory = os.path.dirname(os.path.abspath(output))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".", suffix=".weights.h5")
        os.close(fd)
        try:
            os.remove(tmp)
            model.save_weights(tmp)
            os.replace(tmp, output)
        finally:
            _cache._remove(tmp)
    return report


def load_weights(
    model,
    weights,
    model_name=None,
    include_top=None,
    classes=None,
    input_setting=None,
    checkpoint=None,
    file_hash=None,
    cache_dir=None,
    base_urls=None,
    progress=True,
    verbose=False,
):
    """Loads pretrained weights into a model built by this package.

    The builders call this for their `weights=` argument, with the input
    setting they were built for. An official checkpoint carries its input
    setting (`keras_nonlocal.weights.presets`); given another
    `input_setting`, it is refused.

    Args:
        model: the model; its layer names are the official blob prefixes.
        weights: `None`; `"kinetics400"`; `"imagenet"`; an official
            checkpoint name (e.g. `"i3d_nonlocal_8x8_IN_pretrain_400k"`); a
            local path to a `.weights.h5` or an official `.pkl`; or an
            `http(s)://` / `file://` URL of one.
        model_name: the zoo name (e.g. `"nl_i3d_r50"`), which selects the
            official file for `"kinetics400"` and `"imagenet"`.
        include_top: whether the model has its classifier; defaults to
            whether it has a `pred` layer. With `False` only the backbone is
            loaded.
        classes: number of classes of the classifier, checked against the
            preset (`"kinetics400"` with `include_top=True` needs 400).
        input_setting: `"32x2"`, `"8x8"`, `"128x1"` or `"32x4"`: the setting
            the model was built for. It chooses the `"kinetics400"` file
            (which needs it) and is checked against an official checkpoint's.
            Nothing is inferred from the model.
        checkpoint: an official file name overriding the choice for
            `"kinetics400"`.
        file_hash: expected SHA-256 of a file given by URL.
        cache_dir: base directory of the cache instead of `$KERAS_HOME`.
        base_urls: download hosts instead of the official ones (or of
            `$KERAS_NONLOCAL_WEIGHTS_BASE_URLS`).
        progress: show a progress bar while downloading.
        verbose: print the mapping report of a conversion.

    Returns:
        The model, with its weights loaded.

    Raises:
        ValueError: for an unusable `weights` / `classes` / `input_setting`
            combination.
        WeightsDownloadError: if no host delivers the file; the message names
            each URL and the cache path where the file can be placed by hand.
        CheckpointMismatchError: if an official checkpoint does not fit the
            model; names every missing, extra and mis-shaped blob.
        UnsafePickleError: if a `.pkl` tries to run code.

    Example:

    >>> model = keras_nonlocal.applications.get_model("nl_i3d_r50",
    ...     input_setting="8x8", weights=None)  # doctest: +SKIP
    >>> load_weights(model, "kinetics400", model_name="nl_i3d_r50",
    ...              input_setting="8x8")  # doctest: +SKIP
    """
    if weights is None:
        return model
    if include_top is None:
        include_top = _has_head(model)
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    named = weights
    if weights == "kinetics400" and checkpoint is not None:
        _check_classes(weights, presets.PRESET_CLASSES[weights], include_top, classes)
        named = checkpoint
    row = validate_weights_argument(
        named, include_top=include_top, classes=classes, model_name=model_name,
        input_setting=input_setting,
    )
    if weights == "imagenet":
        if include_top and classes is not None and classes != presets.PRESET_CLASSES["imagenet"]:
            load_head = False
        else:
            load_head = "if_match" if include_top else False
        member = _imagenet_member(model, row)
        path, ckpt = _imagenet_checkpoint(member, cache_dir, base_urls, progress)
        _map_and_apply(
            model, ckpt, load_head, inflate=True, initialise=(r"nonlocal_",),
            ignore_unused=_BACKBONE_BLOB, verbose=verbose,
            hint=f"Is {member} the right ImageNet ResNet for this model?",
        )
        if not _cache.read_record(path):
            _cache.write_record(path, source=presets.IMAGENET_ARCHIVE)
        return model
    if weights == "kinetics400" or _downloads_official(named, row):
        return _load_official(model, row.file_name, include_top, cache_dir, base_urls,
                              progress, verbose)
    if _is_url(weights):
        path = _url_file(weights, file_hash, cache_dir, progress)
    else:
        path = os.path.expanduser(weights)
    return _load_file(model, path, include_top, verbose)


def _load_official(model, file_name, include_top, cache_dir, base_urls, progress, verbose):
    stem = file_name[:-4]
    converted = _cache.cache_path(
        "converted", f"{stem}-{model_signature(model)}.weights.h5", cache_dir
    )
    if _load_converted(model, converted):
        return model
    path, ckpt = _official_checkpoint(file_name, cache_dir, base_urls, progress)
    report = _map_and_apply(
        model, ckpt, bool(include_top), verbose=verbose,
        hint=f"Is {file_name} the checkpoint of this model and input setting?",
    )
    if not _cache.read_record(path):
        _cache.write_record(path, source=file_name)
    if not report.initialised:
        _save_converted(
            model, converted,
            {"source": file_name, "source_sha256": _cache.read_record(path)["sha256"],
             "model": model.name, "include_top": bool(include_top)},
        )
    return model


def _load_file(model, path, include_top, verbose):
    if not os.path.isfile(path):
        raise ValueError(f"No weights file at {path!r}.")
    if path.endswith(".weights.h5"):
        model.load_weights(path)
        return model
    if path.endswith(".pkl"):
        ckpt = read_checkpoint(path)
        _map_and_apply(model, ckpt, bool(include_top), verbose=verbose)
        return model
    raise ValueError(
        f"Cannot load {path!r}: expected a Keras weights file ending in "
        "'.weights.h5' or an official Caffe2 checkpoint ending in '.pkl'."
    )
