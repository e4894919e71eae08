"""The stem: `conv1` + `res_conv1_bn` + ReLU + `pool1`."""

import keras

from keras_nonlocal.applications.conv_bn import conv_bn


def stem(x, setting=None, temporal_radius=0, filters=64, kernel_size=7, strides=2, pool=True):
    """Builds the official stem.

    Video (rank-5 input): `conv1` has kernel `(1 + 2u, k, k)`, strides
    `(setting.conv1_temporal_stride, s, s)` and padding `(u, k // 2, k // 2)`;
    `pool1` is a max pooling with the setting's window and strides and no
    padding (224 → 112 → 55). Images (rank-4 input): the same without time.

    Args:
        x: input tensor, `(B, T, H, W, 3)` or `(B, H, W, 3)`.
        setting: an `InputSetting` (videos only).
        temporal_radius: `u`, the temporal radius of `conv1` (0 for C2D, 2
            for I3D).
        filters: output channels of `conv1` (64).
        kernel_size: spatial kernel size of `conv1` (7).
        strides: spatial stride of `conv1` (2).
        pool: whether to apply `pool1`.

    Returns:
        The output tensor.
    """
    video = len(x.shape) == 5
    pad = kernel_size // 2
    if video:
        kernel = (1 + 2 * temporal_radius, kernel_size, kernel_size)
        conv_strides = (setting.conv1_temporal_stride, strides, strides)
        padding = (temporal_radius, pad, pad)
    else:
        kernel, conv_strides, padding = (kernel_size,) * 2, (strides,) * 2, (pad,) * 2
    x = conv_bn(x, filters, kernel, conv_strides, "conv1", padding=padding, bn_name="res_conv1_bn")
    if pool:
        if video:
            x = keras.layers.MaxPooling3D(
                setting.pool1_size, strides=setting.pool1_strides, padding="valid", name="pool1"
            )(x)
        else:
            x = keras.layers.MaxPooling2D(3, strides=2, padding="valid", name="pool1")(x)
    return x
