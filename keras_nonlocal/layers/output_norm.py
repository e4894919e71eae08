"""The normalisation after a non-local block's `W`, evaluated cheaply.

`BN(y W + b)` is a per-channel affine map of `y W + b` wherever its
statistics are fixed (inference, a frozen BatchNorm, or the `Affine` of the
official long-clip models), so it is folded into `W`'s kernel and bias: one
`(d, C)` product instead of a pass over the `(N, C)` output, forward and
backward. While BatchNorm is trained, the TensorFlow backend runs its fused
kernel (one op for the statistics and the normalisation, one for their
gradient), where Keras 3 composes four reductions and several elementwise
passes; `W`'s bias then drops out of the output exactly (the batch mean
absorbs it) and only shifts the moving mean.
"""

import keras
from keras import ops


def folded_output_projection(kernel, bias, norm_layer, training):
    """`W`'s kernel and bias with a fixed normalisation folded in.

    Args:
        kernel: `W`'s kernel, `(d, C)`.
        bias: `W`'s bias, `(C,)`.
        norm_layer: `None`, an `Affine`, or a `keras.layers.BatchNormalization`
            over the last axis.
        training: the block's `training` argument.

    Returns:
        `(kernel, bias, batch_norm)`: the kernel and bias to apply, and
        whether BatchNorm still has to run on the result with batch
        statistics (`training` and a trainable `norm_layer`), in which case
        the kernel and bias are `W`'s own.

    Example:

    >>> import numpy as np
    >>> from keras_nonlocal.layers.affine import Affine
    >>> affine = Affine(gamma_initializer="ones")
    >>> affine.build((None, 3))
    >>> k, b, bn = folded_output_projection(np.eye(2, 3), np.ones(3), affine, False)
    >>> tuple(k.shape), bn
    ((2, 3), False)
    """
    if norm_layer is None:
        return kernel, bias, False
    if isinstance(norm_layer, keras.layers.BatchNormalization):
        if training and norm_layer.trainable:
            return kernel, bias, True
        scale = norm_layer.gamma * ops.rsqrt(norm_layer.moving_variance + norm_layer.epsilon)
        offset = norm_layer.beta - norm_layer.moving_mean * scale
    else:
        scale, offset = norm_layer.gamma, norm_layer.beta
    return ops.multiply(kernel, scale), ops.add(ops.multiply(bias, scale), offset), False


def batch_norm_training(bn, x, bias=None):
    """`bn(x + bias, training=True)`, with TensorFlow's fused kernel there.

    Args:
        bn: a built `keras.layers.BatchNormalization` over the last axis,
            with `center` and `scale`, not synchronised, without renorm.
        x: its input, channels last.
        bias: a per-channel term added to `x` first, or `None`. Batch
            statistics remove it from the output, so the fused path only
            adds it to the batch mean for the moving mean (its gradient is
            exactly zero).

    Returns:
        The normalised `x`, in `bn`'s compute dtype; `bn`'s moving mean and
        variance are updated as Keras does (biased batch variance).

    Example:

    >>> import numpy as np
    >>> bn = keras.layers.BatchNormalization()
    >>> bn.build((None, 4))
    >>> y = batch_norm_training(bn, np.random.rand(8, 4).astype("float32"))
    >>> tuple(y.shape)
    (8, 4)
    """
    # `renorm` exists from Keras 3.14 on; older BatchNormalization has none.
    if keras.backend.backend() != "tensorflow" or bn.synchronized or getattr(bn, "renorm", False):
        return bn(x if bias is None else ops.add(x, ops.cast(bias, x.dtype)), training=True)
    import tensorflow as tf

    channels = bn.gamma.shape[0]
    inputs = tf.cast(x, "float32")
    flat = tf.reshape(inputs, (1, 1, -1, channels))
    y, mean, corrected_variance = tf.compat.v1.nn.fused_batch_norm(
        flat,
        tf.cast(bn.gamma, "float32"),
        _offset(bn, bias),
        epsilon=bn.epsilon,
        is_training=True,
    )
    # The fused kernel returns the unbiased (n - 1) variance; Keras keeps
    # the biased one.
    count = tf.cast(tf.shape(flat)[2], "float32")
    variance = tf.where(
        count > 1.0, corrected_variance * ((count - 1.0) / count), tf.zeros_like(mean)
    )
    if bias is not None:
        mean = mean + tf.cast(tf.stop_gradient(bias), "float32")
    momentum = bn.momentum
    bn.moving_mean.assign(
        bn.moving_mean * momentum + tf.cast(mean, bn.moving_mean.dtype) * (1.0 - momentum)
    )
    bn.moving_variance.assign(
        bn.moving_variance * momentum
        + tf.cast(variance, bn.moving_variance.dtype) * (1.0 - momentum)
    )
    return tf.cast(tf.reshape(y, tf.shape(inputs)), bn.compute_dtype)


def _offset(bn, bias):
    import tensorflow as tf

    offset = tf.cast(bn.beta, "float32")
    if bias is None:
        return offset
    # Keeps the bias connected: its gradient is zero, not missing.
    return offset + 0.0 * tf.cast(bias, "float32")
