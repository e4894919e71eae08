"""Multiply-add counts of a built model, read from its layers.

The paper (and most of the video literature) reports "FLOPs" as
multiply-adds of the convolutions, fully-connected layers and non-local
matrix products; normalisation, activations, pooling and additions are left
out. This module counts the same, layer by layer, from the shapes of the built
model.
"""

import math

import keras

from keras_nonlocal.layers import NonLocalBlock


def _spatial(shape):
    return math.prod(int(s) for s in shape[1:-1])


def _conv_macs(layer):
    out_shape = layer.output.shape
    in_channels = int(layer.input.shape[-1])
    kernel = math.prod(layer.kernel_size)
    groups = getattr(layer, "groups", 1) or 1
    return _spatial(out_shape) * int(out_shape[-1]) * kernel * in_channels // groups


def _dense_macs(layer):
    out_shape = layer.output.shape
    positions = math.prod(int(s) for s in out_shape[1:-1]) if len(out_shape) > 2 else 1
    return positions * int(layer.input.shape[-1]) * int(out_shape[-1])


def nonlocal_macs(layer, input_shape):
    """Multiply-adds of one `NonLocalBlock` for an input shape.

    Counts the `theta`, `phi`, `g` and `out` projections and the two
    attention matrix products (affinity and aggregation).

    Args:
        layer: a built `NonLocalBlock`.
        input_shape: its input shape, with batch, channels last.

    Returns:
        An int.
    """
    sizes = [int(s) for s in input_shape[1:-1]]
    channels = int(input_shape[-1])
    inner = layer._inner
    pool = layer._pool
    axes = layer._axes
    if layer.group_size is not None:
        sizes = [layer.group_size] + sizes[1:]
        groups_from_time = int(input_shape[1]) // layer.group_size
    else:
        groups_from_time = 1
    # An axis shorter than its pool keeps one key (NonLocalBlock._max_pool).
    pooled = [max(s // p, 1) for s, p in zip(sizes, pool)]
    positions = math.prod(sizes)
    pooled_positions = math.prod(pooled)
    queries = math.prod(sizes[a] for a in axes)
    keys = math.prod(pooled[a] for a in axes)
    folded = positions // queries
    affinity_depth = channels if layer.mode == "gaussian" else inner
    macs = 0
    if layer.mode != "gaussian":
        macs += positions * channels * inner  # theta
        macs += pooled_positions * channels * inner  # phi
    macs += pooled_positions * channels * inner  # g
    macs += folded * queries * keys * (affinity_depth + inner)  # affinity, aggregation
    macs += positions * inner * channels  # out
    return macs * groups_from_time


def count_macs(model):
    """Multiply-adds of one forward pass of a built model, batch size 1.

    Args:
        model: a `keras.Model` with static input sizes.

    Returns:
        An int: the total multiply-adds.

    Example:

    >>> from keras_nonlocal.applications import C2D50
    >>> count_macs(C2D50()) / 1e9  # doctest: +SKIP
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv3D | keras.layers.Conv2D):
            total += _conv_macs(layer)
        elif isinstance(layer, keras.layers.Dense):
            total += _dense_macs(layer)
        elif isinstance(layer, NonLocalBlock):
            total += nonlocal_macs(layer, layer.input.shape)
    return total
