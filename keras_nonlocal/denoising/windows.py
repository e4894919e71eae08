"""Non-local attention within windows: the image is cut into tiles that attend separately.

NLRN (Liu et al., NeurIPS 2018) restricts each position's non-local
neighbourhood to a window around it; on a full-size image that turns the
quadratic cost of global attention into a linear one. `WindowedNonLocal`
does this around an unchanged `keras_nonlocal.layers.NonLocalBlock`: it folds
non-overlapping windows into the batch axis, runs the block, and unfolds.
Windows are balanced (an axis of 48 positions with `window_size=32` becomes
two windows of 24, not 32 + 16), and the last row and column of windows is
completed by mirroring the image (the padding is cropped afterwards). With a
`shift`, the grid is rolled first, so stacked blocks do not share window
borders (as Swin's shifted windows).
"""

import collections

import keras
import numpy as np
from keras import ops

from keras_nonlocal.denoising.padding import extend_end
from keras_nonlocal.denoising.padding import mirror_pad_end
from keras_nonlocal.layers import NonLocalBlock


def _windows_along(size, window_size):
    """`(count, length, padding)` of balanced windows along one axis."""
    if window_size is None:
        return 1, size, 0
    count = (size + window_size - 1) // window_size
    length = (size + count - 1) // count
    return count, length, count * length - size


WindowAxis = collections.namedtuple("WindowAxis", ["length", "sources", "home"])
WindowAxis.__doc__ = """Where the windows of one axis take their positions from.

Fields:
    length: the windows' side along the axis.
    sources: int array, for each position of the rolled and padded axis
        (`count * length` of them; window `w` holds `w * length` to
        `(w + 1) * length`), the position of the layer's input it copies.
        Mirror padding and the repeated last slice of a short map copy
        positions that also appear unpadded, so some values repeat.
    home: int array, for each input position, its own (unpadded) index in
        the rolled and padded axis.
"""


@keras.saving.register_keras_serializable(package="keras_nonlocal")
class WindowedNonLocal(keras.layers.Layer):
    """A `NonLocalBlock` applied within windows of a `(B, H, W, C)` feature map.

    A map smaller than the block's pool size (whose keys would be empty) is
    first extended by repeating its last row or column.

    Args:
        window_size: the largest window side, in positions, or `None` for
            one window: the whole map (global attention). A map no larger
            than a window is attended as a whole.
        shift: roll the map by this many positions along both axes before
            cutting the windows (and back afterwards); 0 for none.
        block_config: arguments of the inner `NonLocalBlock` (its
            `get_config()` minus the base layer fields); `None` for its
            defaults.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, H, W, C)`, channels last; `H` and `W` may be `None`.

    Output shape:
        Same as the input.

    Example:

    >>> import numpy as np
    >>> layer = WindowedNonLocal(window_size=4, block_config={"norm": None})
    >>> x = np.random.rand(2, 9, 7, 8).astype("float32")
    >>> tuple(layer(x).shape)
    (2, 9, 7, 8)
    """

    def __init__(self, window_size=32, shift=0, block_config=None, **kwargs):
        super().__init__(**kwargs)
        if window_size is not None and (
            not isinstance(window_size, int) or isinstance(window_size, bool) or window_size < 1
        ):
            raise ValueError(
                "`window_size` must be None or an integer >= 1. "
                f"Received: window_size={window_size!r}"
            )
        if not isinstance(shift, int) or isinstance(shift, bool) or shift < 0 or (
            shift and (window_size is None or shift >= window_size)
        ):
            raise ValueError(
                f"`shift` must be an integer in [0, window_size={window_size}) (0 without "
                f"windows). Received: shift={shift!r}"
            )
        block_config = dict(block_config or {})
        if block_config.get("data_format", "channels_last") != "channels_last":
            raise ValueError("WindowedNonLocal works on channels-last maps only.")
        block_config["data_format"] = "channels_last"
        self.window_size = window_size
        self.shift = shift
        self.block_config = block_config
        self.block = NonLocalBlock(dtype=self.dtype_policy, name="block", **block_config)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "WindowedNonLocal expects (batch, H, W, C) inputs; received "
                f"input_shape={tuple(input_shape)}."
            )
        self.block.build((None, None, None, input_shape[-1]))
        pool = self.block.pool_size if self.block.sub_sample else None
        self._min_size = 2 if pool is None and self.block.sub_sample else max(pool or (1,))

    def window_axes(self, height, width):
        """How `call` lays a `height × width` map out in windows, in NumPy.

        The same geometry as `call` (extension of a map shorter than the
        block's pool, roll by `-shift`, mirror padding at the end, balanced
        windows), given as indices so that a window position can be traced
        back to the input position it holds (e.g. to show attention on the
        image, `keras_nonlocal.attention.attention_maps`). Needs the layer
        built.

        Args:
            height: the input map's rows.
            width: the input map's columns.

        Returns:
            A `WindowAxis` for the rows and one for the columns.

        Example:

        >>> layer = WindowedNonLocal(window_size=4, shift=1, block_config={"norm": None})
        >>> _ = layer(np.zeros((1, 5, 4, 8), "float32"))
        >>> rows, cols = layer.window_axes(5, 4)
        >>> rows.length, rows.sources.tolist(), rows.home.tolist()
        (3, [1, 2, 3, 4, 0, 0], [4, 0, 1, 2, 3])
        """
        axes = []
        for size in (int(height), int(width)):
            extended = max(size, self._min_size)
            count, length, pad = _windows_along(extended, self.window_size)
            padded = np.arange(count * length)
            rolled = np.where(padded < extended, padded, 2 * extended - 1 - padded)
            sources = np.minimum((rolled + self.shift) % extended, size - 1)
            home = (np.arange(size) - self.shift) % extended
            axes.append(WindowAxis(length, sources, home))
        return tuple(axes)

    def _partition(self, x, height, width):
        rows, row_length, pad_h = _windows_along(height, self.window_size)
        cols, col_length, pad_w = _windows_along(width, self.window_size)
        x = mirror_pad_end(mirror_pad_end(x, 1, pad_h, height), 2, pad_w, width)
        channels = x.shape[-1]
        x = ops.reshape(x, (-1, rows, row_length, cols, col_length, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        windows = ops.reshape(x, (-1, row_length, col_length, channels))
        return windows, (height, width, rows, cols, row_length, col_length)

    def _merge(self, windows, layout):
        height, width, rows, cols, row_length, col_length = layout
        channels = windows.shape[-1]
        x = ops.reshape(windows, (-1, rows, cols, row_length, col_length, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        x = ops.reshape(x, (-1, rows * row_length, cols * col_length, channels))
        return x[:, :height, :width, :]

    def call(self, inputs, training=None):
        x = inputs
        shape = ops.shape(x)
        height, width = shape[1], shape[2]
        if self._min_size > 1:
            x = extend_end(x, 1, height, self._min_size)
            x = extend_end(x, 2, width, self._min_size)
            shape = ops.shape(x)
        if self.shift:
            x = ops.roll(x, (-self.shift, -self.shift), axis=(1, 2))
        windows, layout = self._partition(x, shape[1], shape[2])
        x = self._merge(self.block(windows, training=training), layout)
        if self.shift:
            x = ops.roll(x, (self.shift, self.shift), axis=(1, 2))
        return x[:, :height, :width, :]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "window_size": self.window_size,
            "shift": self.shift,
            "block_config": dict(self.block_config),
        }
