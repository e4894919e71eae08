"""Convolution + BatchNorm with the official padding, names and initialisers.

Every convolution of the official backbones is bias-free, followed by a
`SpatialBN` named `<conv>_bn`, and padded symmetrically (Caffe2 `pads`). Keras'
`padding="same"` pads strided convolutions asymmetrically on even sizes, so the
padding here is an explicit `ZeroPadding` layer named `<conv>_pad`.
"""

import keras

# Official MODEL.BN_MOMENTUM / MODEL.BN_EPSILON. Caffe2's momentum has the same
# meaning as Keras' (weight of the old running value).
BN_MOMENTUM = 0.9
BN_EPSILON = 1.0000001e-5


def conv_initializer():
    """The official `MSRAFill`: normal with variance `2 / fan_out`.

    Returns:
        A `keras.initializers.VarianceScaling`.
    """
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="untruncated_normal"
    )


def batch_norm(x, name, gamma_initializer="ones"):
    """The official `SpatialBN` (channels last).

    Args:
        x: input tensor.
        name: layer name (the official blob prefix, e.g. `"res2_0_branch2a_bn"`).
        gamma_initializer: initializer of the scale.

    Returns:
        The normalised tensor.
    """
    return keras.layers.BatchNormalization(
        axis=-1,
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        gamma_initializer=gamma_initializer,
        name=name,
    )(x)


def _as_tuple(value, rank):
    return (value,) * rank if isinstance(value, int) else tuple(value)


def conv(x, filters, kernel_size, strides, name, padding=None):
    """A bias-free convolution with explicit symmetric padding.

    The spatial rank follows the input: `Conv3D` for `(B, T, H, W, C)`,
    `Conv2D` for `(B, H, W, C)`; kernel sizes, strides and paddings are
    given per spatial axis.

    Args:
        x: input tensor, channels last.
        filters: output channels.
        kernel_size: int or tuple, one entry per spatial axis.
        strides: int or tuple.
        name: layer name (the official blob prefix, e.g. `"conv1"`).
        padding: int or tuple of symmetric paddings; defaults to
            `kernel_size // 2` on every axis.

    Returns:
        The output tensor.
    """
    rank = len(x.shape) - 2
    kernel_size = _as_tuple(kernel_size, rank)
    strides = _as_tuple(strides, rank)
    padding = tuple(k // 2 for k in kernel_size) if padding is None else _as_tuple(padding, rank)
    if any(padding):
        pad_layer = keras.layers.ZeroPadding3D if rank == 3 else keras.layers.ZeroPadding2D
        x = pad_layer(padding=tuple((p, p) for p in padding), name=f"{name}_pad")(x)
    conv_layer = keras.layers.Conv3D if rank == 3 else keras.layers.Conv2D
    return conv_layer(
        filters,
        kernel_size,
        strides=strides,
        padding="valid",
        use_bias=False,
        kernel_initializer=conv_initializer(),
        name=name,
    )(x)


def conv_bn(x, filters, kernel_size, strides, name, relu=True, padding=None,
            bn_name=None, gamma_initializer="ones"):
    """Convolution, BatchNorm and optionally ReLU, named as the official blobs.

    Args:
        x: input tensor, channels last.
        filters: output channels.
        kernel_size: int or tuple, one entry per spatial axis.
        strides: int or tuple.
        name: the convolution's name; the BatchNorm is `<name>_bn` and the
            ReLU `<name>_relu`.
        relu: whether to apply a ReLU.
        padding: symmetric padding (defaults to `kernel_size // 2`).
        bn_name: overrides the BatchNorm name (the stem's is `res_conv1_bn`).
        gamma_initializer: initializer of the BatchNorm scale.

    Returns:
        The output tensor.
    """
    x = conv(x, filters, kernel_size, strides, name, padding=padding)
    x = batch_norm(x, bn_name or f"{name}_bn", gamma_initializer=gamma_initializer)
    if relu:
        x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return x
