"""A 1×1 projection as one GEMM over the flattened positions."""

import keras
from keras import ops


def linear(x, kernel, bias=None):
    """`x @ kernel + bias` over the last axis of `x`.

    The positions are flattened so the product is one 2-D GEMM. On
    TensorFlow the bias goes through `tf.nn.bias_add`, which grappler fuses
    into the GEMM (forward) and reduces with its dedicated kernel (backward);
    a broadcast `+` is a separate pass over the output each way.

    Args:
        x: `(..., C)` tensor.
        kernel: `(C, units)` kernel, in `x`'s dtype.
        bias: `(units,)` bias in `x`'s dtype, or `None`.

    Returns:
        `(..., units)` tensor.

    Example:

    >>> import numpy as np
    >>> y = linear(np.ones((2, 5, 3), "float32"), np.ones((3, 4), "float32"),
    ...            np.zeros(4, "float32"))
    >>> tuple(y.shape)
    (2, 5, 4)
    """
    if keras.backend.backend() != "tensorflow":
        y = ops.matmul(x, kernel)
        return y if bias is None else y + bias
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    y = tf.matmul(tf.reshape(x, (-1, x.shape[-1])), kernel)
    if bias is not None:
        y = tf.nn.bias_add(y, bias)
    return _unflatten(y, x)


def bias_add(x, bias):
    """`x + bias` over the last axis (`tf.nn.bias_add` on TensorFlow).

    Args:
        x: `(..., C)` tensor.
        bias: `(C,)` tensor in `x`'s dtype.

    Returns:
        `x + bias`.

    Example:

    >>> import numpy as np
    >>> tuple(bias_add(np.zeros((2, 5, 3), "float32"), np.ones(3, "float32")).shape)
    (2, 5, 3)
    """
    if keras.backend.backend() != "tensorflow":
        return x + bias
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    return _unflatten(tf.nn.bias_add(tf.reshape(x, (-1, x.shape[-1])), bias), x)


def _unflatten(y, like):
    """`(P, units)` back to `like`'s leading shape, static where known."""
    import tensorflow as tf

    units = y.shape[-1]
    lead = like.shape[:-1]
    if lead.is_fully_defined():
        return tf.reshape(y, lead.as_list() + [units])
    out = tf.reshape(y, tf.concat([tf.shape(like)[:-1], [units]], 0))
    out.set_shape(lead.concatenate([units]))
    return out
