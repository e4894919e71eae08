"""Argument checks of the builders, with `keras.applications`' messages.

Everything here runs before any layer is built, so a bad combination fails
fast and names the argument and the value it received. The `weights=` value is
checked by `keras_nonlocal.weights.validate_weights_argument`, the one check
that the loader also runs.
"""

import keras


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
