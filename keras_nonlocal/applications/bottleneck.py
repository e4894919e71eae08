"""The official bottleneck residual block (ResNet "type B" shortcut)."""

import keras

from keras_nonlocal.applications.conv_bn import conv_bn


def bottleneck(x, width, out_channels, strides, name, temporal_kernel=1,
               inflated_branch="branch2a", zero_init_residual=False):
    """One bottleneck block: 1×1 → 3×3 → 1×1, plus the shortcut.

    Layer names follow the official blobs: `<name>_branch2a/b/c` (with
    `_bn`), the projection shortcut `<name>_branch1` (+ `_bn`) where the
    shape changes. The spatial stride sits on the 3×3 (`STRIDE_1X1=False`).
    On videos, `temporal_kernel` > 1 gives `inflated_branch` a temporal extent
    (official: 3×1×1 on `branch2a`), padded symmetrically in time.

    Args:
        x: input tensor, `(B, T, H, W, C)` or `(B, H, W, C)`.
        width: channels of the 1×1 and 3×3 convolutions.
        out_channels: channels of the block's output.
        strides: spatial stride of the block (1 or 2).
        name: the block's prefix, e.g. `"res3_0"`.
        temporal_kernel: temporal size of the inflated convolution (videos).
        inflated_branch: `"branch2a"` or `"branch2b"`.
        zero_init_residual: initialise `branch2c_bn`'s scale to 0 (the
            official `MODEL.BN_INIT_GAMMA` option).

    Returns:
        The output tensor.
    """
    video = len(x.shape) == 5
    in_channels = x.shape[-1]

    def kernel(branch, spatial):
        if not video:
            return (spatial, spatial)
        t = temporal_kernel if branch == inflated_branch else 1
        return (t, spatial, spatial)

    def stride(spatial):
        return (1, spatial, spatial) if video else (spatial, spatial)

    residual = conv_bn(x, width, kernel("branch2a", 1), 1, f"{name}_branch2a")
    residual = conv_bn(residual, width, kernel("branch2b", 3), stride(strides), f"{name}_branch2b")
    residual = conv_bn(
        residual, out_channels, 1, 1, f"{name}_branch2c", relu=False,
        gamma_initializer="zeros" if zero_init_residual else "ones",
    )
    if in_channels != out_channels or strides != 1:
        shortcut = conv_bn(x, out_channels, 1, stride(strides), f"{name}_branch1", relu=False)
    else:
        shortcut = x
    x = keras.layers.Add(name=f"{name}_sum")([residual, shortcut])
    return keras.layers.ReLU(name=f"{name}_relu")(x)
