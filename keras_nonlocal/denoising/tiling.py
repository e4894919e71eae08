"""Denoising a large image in overlapping tiles, so that memory stays bounded.

A tile is denoised with `margin` pixels of context on each side (cut from
the image itself, not padded), and only its centre is kept. A network whose
receptive field reaches at most `margin` pixels gives exactly the
whole-image result this way (the default denoisers' convolutions reach 10
pixels); non-local blocks attending within windows see the windows of the
tile instead of those of the whole image, so next to a tile border their
output differs slightly from the whole-image one (measured in
`docs/denoising.md`).
"""

import numpy as np

from keras_nonlocal.layers.windows import windows_along

DEFAULT_TILE_SIZE = 768
DEFAULT_MARGIN = 32


def _starts(size, tile_size):
    """`(start, end)` of the tiles along one axis: the block's balanced windows, the last cut short."""
    _, length, _ = windows_along(size, tile_size)
    return [(start, min(start + length, size)) for start in range(0, size, length)]


def denoise_in_tiles(predict, image, tile_size=DEFAULT_TILE_SIZE, margin=DEFAULT_MARGIN):
    """Denoises an `(H, W, C)` image tile by tile; a small image is one tile.

    Args:
        predict: maps a `(1, h, w, C)` float32 batch to its denoised batch
            (a NumPy array of the same shape).
        image: the noisy image, `(H, W, C)`.
        tile_size: the largest side of the kept part of a tile; an image no
            larger than this on both sides is denoised in one call. `None`
            never tiles.
        margin: pixels of context around each tile (cropped from the image;
            fewer at the image's border).

    Returns:
        The denoised image, float32, `(H, W, C)`.

    Raises:
        ValueError: a `tile_size` or `margin` that is not a positive integer
            (`margin` may be 0).

    Example:

    >>> image = np.arange(20 * 30, dtype="float32").reshape(20, 30, 1)
    >>> out = denoise_in_tiles(lambda batch: batch * 2, image, tile_size=8, margin=2)
    >>> bool(np.array_equal(out, image * 2))
    True
    """
    if tile_size is not None and (
        not isinstance(tile_size, (int, np.integer)) or isinstance(tile_size, bool) or tile_size < 1
    ):
        raise ValueError(f"`tile_size` must be an integer >= 1 or None. Received: tile_size={tile_size!r}")
    if not isinstance(margin, (int, np.integer)) or isinstance(margin, bool) or margin < 0:
        raise ValueError(f"`margin` must be an integer >= 0. Received: margin={margin!r}")
    image = np.asarray(image, dtype=np.float32)
    height, width = image.shape[:2]
    if tile_size is None or (height <= tile_size and width <= tile_size):
        return np.asarray(predict(image[None]), dtype=np.float32)[0]
    out = np.empty_like(image)
    for top, bottom in _starts(height, tile_size):
        for left, right in _starts(width, tile_size):
            y0, y1 = max(top - margin, 0), min(bottom + margin, height)
            x0, x1 = max(left - margin, 0), min(right + margin, width)
            tile = np.asarray(predict(image[None, y0:y1, x0:x1]), dtype=np.float32)[0]
            out[top:bottom, left:right] = tile[top - y0 : bottom - y0, left - x0 : right - x0]
    return out
