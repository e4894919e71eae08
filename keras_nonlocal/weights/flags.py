"""The `--weights` flag that the commands share: its type and its early check."""

import os

import h5py

from keras_nonlocal.command_line import check_input_file
from keras_nonlocal.weights import presets
from keras_nonlocal.weights.download import WEIGHTS_SUFFIXES
from keras_nonlocal.weights.download import check_url
from keras_nonlocal.weights.download import looks_like_url


def weights_argument(value):
    """The `--weights` flag of the commands: `"none"` (or empty) means `None`.

    Use as `parser.add_argument("--weights", type=weights_argument)`.

    Args:
        value: the flag's text.

    Returns:
        `None` for random initialisation, otherwise `value` unchanged.

    Example:

    >>> weights_argument("none") is None
    True
    >>> weights_argument("kinetics400")
    'kinetics400'
    """
    return None if str(value).lower() in ("none", "") else value


def check_weights_file(weights, flag="--weights"):
    """Checks a `--weights` value before any work.

    Presets (`kinetics400`, `imagenet`), official checkpoint names and URLs
    pass (their download reports its own errors); anything else must be a
    readable file, and a `.h5` file must open as HDF5.

    Args:
        weights: the flag's value (may be `None`).
        flag: the flag's name, for the message.

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError, OSError: the
            file cannot be used (the message names it and the flag).

    Example:

    >>> check_weights_file("kinetics400")
    >>> check_weights_file("missing.weights.h5")
    Traceback (most recent call last):
    ...
    FileNotFoundError: --weights missing.weights.h5: no such file (nor a preset, an official checkpoint name or a URL)
    """
    if weights is None:
        return
    path = os.fspath(weights)
    if not os.path.exists(path):
        official_name = "/" not in path and presets.find_official_checkpoint(path) is not None
        if path in presets.PRESET_CLASSES or official_name:
            return
        if looks_like_url(path):
            check_url(path, WEIGHTS_SUFFIXES)
            return
        raise FileNotFoundError(
            f"{flag} {path}: no such file (nor a preset, an official checkpoint name or a URL)"
        )
    check_input_file(path, flag)
    if path.endswith(".h5"):
        try:
            with h5py.File(path, "r"):
                pass
        except OSError:
            raise OSError(
                f"{flag} {path}: not an HDF5 file (corrupt or truncated?); give a "
                ".weights.h5 file written by Keras or by `keras-nonlocal convert`"
            ) from None
