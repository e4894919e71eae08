"""A residual stage: blocks `res{s}_0 .. res{s}_{n-1}` with non-local blocks between."""

from keras_nonlocal.applications.bottleneck import bottleneck


def res_stage(x, stage, depth, width, out_channels, strides, temporal_kernels=None,
              inflated_branch="branch2a", nonlocal_after=(), nonlocal_block=None,
              zero_init_residual=False):
    """Builds stage `res{stage}`.

    The first block carries the stage's spatial stride (and the projection
    shortcut where the shape changes). A non-local block is inserted after
    every residual block whose index is in `nonlocal_after`; it is named
    `nonlocal_conv{stage}_{index}` as in the official code.

    Args:
        x: input tensor.
        stage: stage number (2 for res2).
        depth: number of residual blocks.
        width: bottleneck width.
        out_channels: output channels.
        strides: spatial stride of the first block.
        temporal_kernels: temporal kernel size per block (videos), default 1.
        inflated_branch: which bottleneck convolution takes the temporal kernel.
        nonlocal_after: indices of the blocks followed by a non-local block.
        nonlocal_block: callable `(name, stage) -> layer` making a non-local
            block; required when `nonlocal_after` is not empty.
        zero_init_residual: see `bottleneck`.

    Returns:
        The output tensor.
    """
    temporal_kernels = temporal_kernels or (1,) * depth
    for i in range(depth):
        x = bottleneck(
            x,
            width,
            out_channels,
            strides if i == 0 else 1,
            f"res{stage}_{i}",
            temporal_kernel=temporal_kernels[i],
            inflated_branch=inflated_branch,
            zero_init_residual=zero_init_residual,
        )
        if i in nonlocal_after:
            x = nonlocal_block(f"nonlocal_conv{stage}_{i}", stage)(x)
    return x
