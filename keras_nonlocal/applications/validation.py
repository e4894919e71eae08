"""Argument checks of the builders, with `keras.applications`' messages.

Everything here runs before any layer is built, so a bad combination fails
fast and names the argument and the value it received.
"""

import os

import keras

from keras_nonlocal.applications import presets
from keras_nonlocal.weights.download import WEIGHTS_SUFFIXES
from keras_nonlocal.weights.download import check_url
from keras_nonlocal.weights.download import looks_like_url
from keras_nonlocal.weights.sources import URL_SCHEMES



def _official_checkpoint_accepted(weights, include_top, classes):
    """Whether the weights package accepts `weights` (e.g. an official file name)."""
    try:
        from keras_nonlocal.weights import validate_weights_argument
    except ImportError:
        return False
    try:
        validate_weights_argument(weights, include_top=include_top, classes=classes)
    except ValueError as error:
        if "`classes`" in str(error):  # a known checkpoint with the wrong head size
            raise
        return False
    return True


def validate_weights(weights, model_name, include_top, classes, input_setting=None,
                     video=True):
    """Checks `weights` (and `classes` for pretrained heads), keras-style.

    Args:
        weights: `None`, a preset name (`"kinetics400"`, `"imagenet"`), a
            local path or a URL to a `.weights.h5` / official `.pkl` file.
        model_name: the zoo name the presets are looked up under (may be
            `None` for custom models, which then only accept paths).
        include_top: whether the classifier is built.
        classes: number of classes of the classifier.
        input_setting: name of the video input setting; Kinetics presets
            exist per setting.
        video: whether the model is a video model. Video models initialised
            from `"imagenet"` get a new classifier of any size (the official
            fine-tuning recipe), so `classes` is only checked for images.
    """
    if weights is None:
        return
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            "The `weights` argument should be either `None` (random "
            "initialization), a preset name "
            f"({', '.join(sorted(presets.PRESET_CLASSES))}), or the path to the "
            f"weights file to be loaded. Received: weights={weights!r}"
        )
    weights = os.fspath(weights)
    if weights in presets.PRESET_CLASSES:
        available = presets.available_presets(model_name) if model_name else []
        if weights not in available:
            raise ValueError(
                f"No {weights!r} weights for "
                f"{'model ' + repr(model_name) if model_name else 'a custom model'}; "
                f"its presets are {available or 'none'}. Use `weights=None` or "
                "the path to a weights file."
            )
        expected = presets.PRESET_CLASSES[weights]
        new_head = video and weights == "imagenet"
        if include_top and classes != expected and not new_head:
            raise ValueError(
                f'If using `weights="{weights}"` with `include_top=True`, '
                f"`classes` should be {expected}.  Received classes={classes}"
            )
        if weights == "kinetics400":
            presets.preset_source(model_name, weights, input_setting)
        return
    if looks_like_url(weights):  # an unsupported scheme or name fails here, not later
        check_url(weights, WEIGHTS_SUFFIXES)
    if weights.startswith(URL_SCHEMES) or os.path.exists(os.path.expanduser(weights)):
        return
    if _official_checkpoint_accepted(weights, include_top, classes):
        return
    raise ValueError(
        "The `weights` argument should be either `None` (random initialization), "
        f"a preset name ({', '.join(sorted(presets.PRESET_CLASSES))}), an official "
        "checkpoint name, a URL, or the path to the weights file to be loaded. "
        f"Received: weights={weights!r} (no such file)"
    )


def validate_classifier_activation(classifier_activation, weights):
    """Pretrained heads only allow `None` or softmax, as in keras.

    Args:
        classifier_activation: the requested activation.
        weights: the `weights` argument.
    """
    if weights is None:
        return
    if classifier_activation not in {None, "softmax", keras.activations.softmax}:
        raise ValueError(
            "Only `None` and `softmax` activations are allowed for the "
            "`classifier_activation` argument when using pretrained weights, "
            f"with `include_top=True`; Received: classifier_activation={classifier_activation}"
        )


def validate_pooling(pooling):
    """`pooling` must be `None`, `"avg"` or `"max"`.

    Args:
        pooling: the `pooling` argument.
    """
    if pooling not in (None, "avg", "max"):
        raise ValueError(
            "The `pooling` argument should be one of `None`, 'avg' or 'max'. "
            f"Received: pooling={pooling!r}"
        )


def obtain_input_shape(input_shape, default_shape, min_size, min_frames, require_static):
    """The input shape to build with: `keras.applications`' rules, plus time.

    Args:
        input_shape: the user's `input_shape` (without batch), or `None`.
        default_shape: the standard shape, e.g. `(32, 224, 224, 3)` or
            `(224, 224, 3)`.
        min_size: smallest height/width.
        min_frames: smallest number of frames (videos).
        require_static: `include_top=True` needs every size known.

    Returns:
        A tuple: the input shape without batch.
    """
    rank = len(default_shape)
    names = "(frames, height, width, channels)" if rank == 4 else "(height, width, channels)"
    if input_shape is None:
        input_shape = default_shape if require_static else (None,) * (rank - 1) + (3,)
    else:
        input_shape = tuple(input_shape)
        if len(input_shape) != rank:
            raise ValueError(
                f"`input_shape` must be a tuple of {rank} integers {names}. "
                f"Received: input_shape={input_shape}"
            )
        if input_shape[-1] != 3:
            raise ValueError(
                f"The input must have 3 channels; Received `input_shape={input_shape}`"
            )
        for size in input_shape[-3:-1]:
            if size is not None and size < min_size:
                raise ValueError(
                    f"Input size must be at least {min_size}x{min_size}; "
                    f"Received: input_shape={input_shape}"
                )
        if rank == 4 and input_shape[0] is not None and input_shape[0] < min_frames:
            raise ValueError(
                f"Input must have at least {min_frames} frames for this input "
                f"setting; Received: input_shape={input_shape}"
            )
    if require_static and None in input_shape:
        raise ValueError(
            "If `include_top` is True, you should specify a static `input_shape`. "
            f"Received: input_shape={input_shape}"
        )
    return input_shape
