"""Attention within windows: the geometry of `NonLocalBlock(window_size=...)`.

NLRN (Liu et al., NeurIPS 2018) restricts each position's non-local
neighbourhood to a region around it; on a full-size image that turns the
quadratic cost of global attention into a linear one. A windowed block cuts
its attended axes into non-overlapping windows, folds them into the batch
axis, attends within each, and puts them back:

- Windows are balanced: an axis of 48 positions with a window of 32 becomes
  two windows of 24, not 32 + 16.
- The last window of an axis is completed by mirroring the map's end
  (`"symmetric"` padding: `..., a, b, c | c, b, ...`); the padded positions
  are queries whose output is cropped, and keys that repeat real positions.
- With a shift, the map is first rolled by `-shift` along the windowed axes
  (and rolled back afterwards), so blocks with different shifts do not share
  window borders (as Swin's shifted windows).

Keys are then max-pooled within each window, like a whole map: a window
shorter than the pool keeps one key along that axis.
"""

import collections

import numpy as np
from keras import ops


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_window_args(window_size, window_shift):
    """Validates and normalises `window_size` and `window_shift`.

    Args:
        window_size: `None` (no windows), an int >= 1 (every attended axis),
            or a tuple of ints >= 1 and `None`s (one per attended axis,
            `None`: the whole axis).
        window_shift: an int >= 0 (every windowed axis) or a tuple of them
            (one per attended axis, 0 where the window is `None`); each
            smaller than its window.

    Returns:
        `(window_size, window_shift)`: `None`, an int or a tuple of ints and
        `None`s; an int or a tuple of ints.

    Raises:
        ValueError: naming the argument and what it accepts.

    Example:

    >>> check_window_args([8, None], 0)
    ((8, None), 0)
    """
    if window_size is not None:
        sizes = (window_size,) if _is_int(window_size) else window_size
        try:
            sizes = tuple(sizes)
        except TypeError:
            sizes = None
        if (
            sizes is None
            or not sizes
            or not all(s is None or (_is_int(s) and s >= 1) for s in sizes)
        ):
            raise ValueError(
                "window_size must be None, an integer >= 1, or a tuple of integers "
                ">= 1 and Nones (one per attended axis); received "
                f"window_size={window_size!r}."
            )
        window_size = int(window_size) if _is_int(window_size) else tuple(
            None if s is None else int(s) for s in sizes
        )
    shifts = (window_shift,) if _is_int(window_shift) else window_shift
    try:
        shifts = tuple(shifts)
    except TypeError:
        shifts = None
    if shifts is None or not shifts or not all(_is_int(s) and s >= 0 for s in shifts):
        raise ValueError(
            "window_shift must be an integer >= 0 or a tuple of them (one per attended "
            f"axis); received window_shift={window_shift!r}."
        )
    window_shift = int(window_shift) if _is_int(window_shift) else tuple(int(s) for s in shifts)
    if window_size is None:
        if any(shifts):
            raise ValueError(
                f"window_shift={window_shift!r} rolls the windows, but window_size=None "
                "attends over the whole map; give a window_size or window_shift=0."
            )
        return window_size, window_shift
    if isinstance(window_size, tuple) and isinstance(window_shift, tuple):
        if len(window_size) != len(window_shift):
            raise ValueError(
                f"window_shift={window_shift} has {len(window_shift)} entries but "
                f"window_size={window_size} has {len(window_size)}; give one per attended axis."
            )
    sizes = window_size if isinstance(window_size, tuple) else (window_size,) * len(shifts)
    shifts = window_shift if isinstance(window_shift, tuple) else (window_shift,) * len(sizes)
    for size, shift in zip(sizes, shifts):
        if (size is None and shift and isinstance(window_shift, tuple)) or (
            size is not None and shift >= size
        ):
            raise ValueError(
                f"window_shift={window_shift!r} must be smaller than the window on each "
                f"axis (window_size={window_size!r}) and 0 where the window is None."
            )
    return window_size, window_shift


def resolve_windows(window_size, window_shift, num_axes, axes, attention_axes):
    """The window and shift of every spatio-temporal axis of an input.

    Args:
        window_size: as normalised by `check_window_args`.
        window_shift: as normalised by `check_window_args`.
        num_axes: the input's spatio-temporal axes.
        axes: the indices of the attended ones.
        attention_axes: the block's argument, for the message.

    Returns:
        `(windows, shifts)`, tuples of `num_axes` entries: `None` and 0 on
        axes without windows (or that do not attend).

    Raises:
        ValueError: if a tuple does not have one entry per attended axis.

    Example:

    >>> resolve_windows(8, 4, 3, (1, 2), "space")
    ((None, 8, 8), (0, 4, 4))
    """
    windows, shifts = [None] * num_axes, [0] * num_axes
    if window_size is None:
        return tuple(windows), tuple(shifts)
    for name, value in (("window_size", window_size), ("window_shift", window_shift)):
        if isinstance(value, tuple) and len(value) != len(axes):
            raise ValueError(
                f"{name}={value} has {len(value)} entries, but the block attends over "
                f"{len(axes)} axis/axes of this input (attention_axes={attention_axes!r}); "
                "give one entry per attended axis, or an integer."
            )
    for k, i in enumerate(axes):
        windows[i] = window_size[k] if isinstance(window_size, tuple) else window_size
        if windows[i] is not None:
            shifts[i] = window_shift[k] if isinstance(window_shift, tuple) else window_shift
    return tuple(windows), tuple(shifts)


def windows_along(size, window):
    """`(count, length, padding)` of the balanced windows of one axis.

    Args:
        size: the axis' length (an int, or a scalar tensor in a graph whose
            sizes are known only when it runs).
        window: the largest window length.

    Returns:
        `count` windows of `length` positions, `padding` of them mirrored
        past the axis' end (fewer than `count`).

    Example:

    >>> windows_along(48, 32)
    (2, 24, 0)
    >>> windows_along(11, 4)
    (3, 4, 1)
    """
    count = (size + window - 1) // window
    length = (size + count - 1) // count
    return count, length, count * length - size


WindowAxis = collections.namedtuple("WindowAxis", ["length", "sources", "home"])
WindowAxis.__doc__ = """Where the windows of one axis take their positions from.

Fields:
    length: the windows' length along the axis.
    sources: int array, for each position of the rolled and padded axis
        (`count * length` of them; window `w` holds `w * length` to
        `(w + 1) * length`), the position of the block's input it holds.
        Mirror padding copies positions that also appear unpadded.
    home: int array, for each input position, its own (unpadded) index in
        the rolled and padded axis.
"""


def window_axes(sizes, windows, shifts):
    """How a windowed block lays an input out in windows, as NumPy indices.

    The geometry of `partition` (roll by `-shift`, mirror padding at the
    end, balanced windows), given as indices so that a window position can
    be traced back to the input position it holds.

    Args:
        sizes: the input's length along each spatio-temporal axis.
        windows: per axis, the window (`None`: the whole axis).
        shifts: per axis, the shift.

    Returns:
        A `WindowAxis` per axis.

    Example:

    >>> (rows,) = window_axes((5,), (4,), (1,))
    >>> rows.length, rows.sources.tolist(), rows.home.tolist()
    (3, [1, 2, 3, 4, 0, 0], [4, 0, 1, 2, 3])
    """
    axes = []
    for size, window, shift in zip(sizes, windows, shifts):
        size = int(size)
        if window is None:
            axes.append(WindowAxis(size, np.arange(size), np.arange(size)))
            continue
        count, length, _ = windows_along(size, window)
        padded = np.arange(count * length)
        rolled = np.where(padded < size, padded, 2 * size - 1 - padded)
        axes.append(WindowAxis(length, (rolled + shift) % size, (np.arange(size) - shift) % size))
    return tuple(axes)


def mirror_pad_end(x, axis, pad, size):
    """Appends the last `pad` slices of `axis` in reverse order (`"symmetric"`).

    Written with a slice and a concatenation rather than
    `keras.ops.pad(..., mode="symmetric")`: PyTorch's non-constant padding
    only handles the last axes of a tensor, and TensorFlow graphs may give
    the amounts as tensors.

    Args:
        x: a tensor.
        axis: the axis to pad.
        pad: how many slices to append, at most `size`.
        size: the length of `axis`.

    Returns:
        `x` with `size + pad` slices along `axis`.

    Example:

    >>> x = np.arange(3, dtype="float32").reshape(1, 3, 1, 1)
    >>> np.asarray(mirror_pad_end(x, 1, 2, 3))[0, :, 0, 0].tolist()
    [0.0, 1.0, 2.0, 2.0, 1.0]
    """
    if isinstance(pad, int) and pad == 0:
        return x
    index = [slice(None)] * len(x.shape)
    index[axis] = slice(size - pad, None)
    return ops.concatenate([x, ops.flip(x[tuple(index)], axis=axis)], axis=axis)


def partition(x, windows, shifts):
    """Folds the windows of a channels-last map into the batch axis.

    Args:
        x: `(batch, s_1, ..., s_k, C)`.
        windows: per spatio-temporal axis, the window (`None`: whole axis).
        shifts: per axis, how far the map is rolled back first.

    Returns:
        `(windows, layout)`: `(batch * count_1 * ... * count_k, l_1, ...,
        l_k, C)` (window index row-major after the example), and what
        `merge` needs to undo it.
    """
    num_axes = len(x.shape) - 2
    for i in range(num_axes):
        if shifts[i]:
            x = ops.roll(x, -shifts[i], axis=i + 1)
    shape = ops.shape(x)
    counts, lengths = [], []
    for i in range(num_axes):
        size = shape[i + 1]
        if windows[i] is None:
            counts.append(1)
            lengths.append(size)
            continue
        count, length, pad = windows_along(size, windows[i])
        x = mirror_pad_end(x, i + 1, pad, size)
        counts.append(count)
        lengths.append(length)
    channels = x.shape[-1]
    split = [-1]
    for count, length in zip(counts, lengths):
        split += [count, length]
    x = ops.reshape(x, tuple(split) + (channels,))
    perm = [0] + [1 + 2 * i for i in range(num_axes)] + [2 + 2 * i for i in range(num_axes)]
    x = ops.transpose(x, perm + [2 * num_axes + 1])
    folded = ops.reshape(x, (-1,) + tuple(lengths) + (channels,))
    return folded, (tuple(counts), tuple(lengths), tuple(shape[1:-1]), tuple(shifts))


def merge(y, layout):
    """Inverse of `partition`: the windows put back, cropped and rolled back."""
    counts, lengths, sizes, shifts = layout
    num_axes = len(counts)
    channels = y.shape[-1]
    y = ops.reshape(y, (-1,) + counts + lengths + (channels,))
    perm = [0]
    for i in range(num_axes):
        perm += [1 + i, 1 + num_axes + i]
    y = ops.transpose(y, perm + [2 * num_axes + 1])
    y = ops.reshape(y, (-1,) + tuple(c * n for c, n in zip(counts, lengths)) + (channels,))
    y = y[(slice(None),) + tuple(slice(0, s) for s in sizes)]
    for i in range(num_axes):
        if shifts[i]:
            y = ops.roll(y, shifts[i], axis=i + 1)
    return y
