"""Padding at the bottom and right of `(B, H, W, C)` maps, on every backend.

Written with slices and concatenation rather than `keras.ops.pad(...,
mode="symmetric")`: PyTorch's non-constant padding only handles the last
axes of a tensor, and TensorFlow graphs may give the amounts as tensors.
"""

from keras import ops


def _static_or_tensor_max0(value):
    # A Python int on JAX and PyTorch (static shapes), a tensor in a
    # TensorFlow graph with unknown sizes.
    return max(value, 0) if isinstance(value, int) else ops.maximum(value, 0)


def mirror_pad_end(x, axis, pad, size):
    """Appends the last `pad` slices of `axis` in reverse order (`"symmetric"`).

    Args:
        x: a `(B, H, W, C)` tensor.
        axis: 1 (rows) or 2 (columns).
        pad: how many slices to append, at most `size`.
        size: the length of `axis`.

    Returns:
        `x` with `size + pad` slices along `axis`.

    Example:

    >>> import numpy as np
    >>> x = np.arange(3, dtype="float32").reshape(1, 3, 1, 1)
    >>> np.asarray(mirror_pad_end(x, 1, 2, 3))[0, :, 0, 0].tolist()
    [0.0, 1.0, 2.0, 2.0, 1.0]
    """
    tail = x[:, size - pad:] if axis == 1 else x[:, :, size - pad:]
    return ops.concatenate([x, ops.flip(tail, axis=axis)], axis=axis)


def extend_end(x, axis, size, minimum):
    """Repeats the last slice of `axis` until it holds at least `minimum` slices.

    Args:
        x: a `(B, H, W, C)` tensor.
        axis: 1 (rows) or 2 (columns).
        size: the length of `axis`.
        minimum: the length wanted.

    Returns:
        `x`, extended to `max(size, minimum)` slices along `axis`.

    Example:

    >>> import numpy as np
    >>> x = np.arange(2, dtype="float32").reshape(1, 1, 2, 1)
    >>> np.asarray(extend_end(x, 2, 2, 4))[0, 0, :, 0].tolist()
    [0.0, 1.0, 1.0, 1.0]
    """
    missing = _static_or_tensor_max0(minimum - size)
    last = x[:, -1:] if axis == 1 else x[:, :, -1:]
    return ops.concatenate([x, ops.repeat(last, missing, axis=axis)], axis=axis)
