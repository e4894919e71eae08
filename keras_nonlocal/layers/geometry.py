"""Which axes of a 1D, 2D or 3D feature map attend to each other.

A feature map of rank 3, 4 or 5 is `(batch, L, C)`, `(batch, H, W, C)` or
`(batch, T, H, W, C)` once channels are last. Its non-batch, non-channel axes
are named here: a sequence's one axis is time, an image's two axes are space,
a video has one time and two space axes. An attention choice names the axes
whose positions attend to each other; the other axes are folded into the
batch, so e.g. `"space"` on a video lets every frame attend within itself.
"""

from keras import ops

ATTENTION_AXES = ("spacetime", "space", "time")

# Kind of each axis between batch and channels, by input rank.
AXIS_KINDS = {
    3: ("time",),
    4: ("space", "space"),
    5: ("time", "space", "space"),
}


def attended_axes(rank, attention_axes):
    """Indices (0-based, among the spatio-temporal axes) that attend.

    Args:
        rank: input rank, 3, 4 or 5.
        attention_axes: one of `ATTENTION_AXES`.

    Returns:
        A tuple of axis indices.

    Raises:
        ValueError: if the input has no axis of the requested kind.
    """
    kinds = AXIS_KINDS[rank]
    if attention_axes == "spacetime":
        return tuple(range(len(kinds)))
    axes = tuple(i for i, kind in enumerate(kinds) if kind == attention_axes)
    if not axes:
        raise ValueError(
            f"attention_axes={attention_axes!r} needs a {attention_axes} axis, "
            f"but a rank-{rank} input has only {kinds} axes. "
            f"Use one of {valid_attention_axes(rank)}."
        )
    return axes


def valid_attention_axes(rank):
    """The `attention_axes` values that make sense for an input rank."""
    kinds = set(AXIS_KINDS[rank])
    return ("spacetime",) + tuple(a for a in ("space", "time") if a in kinds)


def fold(x, axes):
    """Flattens the attended `axes` of `x` into one position axis.

    Args:
        x: channels-last tensor `(batch, s_1, ..., s_k, C)`.
        axes: attended axis indices among `s_1..s_k`.

    Returns:
        `(folded, unfold_info)`: `folded` has shape
        `(batch * prod(other axes), prod(attended axes), C)`; pass
        `unfold_info` to `unfold` to restore a tensor of the same layout.
    """
    num_axes = len(x.shape) - 2
    others = [i for i in range(num_axes) if i not in axes]
    perm = [0] + [i + 1 for i in others] + [i + 1 for i in axes] + [num_axes + 1]
    if perm != list(range(len(perm))):
        x = ops.transpose(x, perm)
    shape = ops.shape(x)
    positions = 1
    for i in range(len(others) + 1, num_axes + 1):
        positions = positions * shape[i]
    folded = ops.reshape(x, (-1, positions, x.shape[-1]))
    return folded, (perm, shape[:-1])


def unfold(y, unfold_info):
    """Inverse of `fold` for a tensor with any channel depth."""
    perm, shape = unfold_info
    y = ops.reshape(y, tuple(shape) + (y.shape[-1],))
    if perm != list(range(len(perm))):
        inverse = [perm.index(i) for i in range(len(perm))]
        y = ops.transpose(y, inverse)
    return y
