"""Attention maps of windowed blocks (`NonLocalBlock(window_size=...)`, the denoisers' blocks):
through the roll, the window cut and the padding."""

import os

import keras
import numpy as np
import pytest

from keras_nonlocal import cli
from keras_nonlocal.attention import attention_maps
from keras_nonlocal.attention import block_input
from keras_nonlocal.attention import figures
from keras_nonlocal.attention import non_local_blocks
from keras_nonlocal.attention import select_block
from keras_nonlocal.denoising import DenoiserConfig
from keras_nonlocal.denoising import build_denoiser
from keras_nonlocal.layers import NonLocalBlock
from keras_nonlocal.layers import windows as window_geometry

WINDOW = 8


def _denoiser(**fields):
    # Blocks after the first are shifted by half a window: nonlocal1 (shift 0), nonlocal2 (shift 4).
    # Half resolution (stride 2), so that keys map to pixels through the stride too.
    config = dict(depth=5, features=8, nonlocal_placement=(1, 2), nonlocal_window=WINDOW,
                  downscale=2, nonlocal_norm="batch_norm")
    config.update(fields)
    return build_denoiser(DenoiserConfig(**config))


@pytest.fixture(scope="module")
def denoiser():
    keras.utils.set_random_seed(0)
    return _denoiser()


def _numpy_windows(array, shift):
    """Roll by -shift, mirror-pad the end to balanced windows, cut: (rows, cols, Lh, Lw, ...)."""
    lengths, pads = [], []
    for n in array.shape[:2]:
        count = -(-n // WINDOW)
        length = -(-n // count)
        lengths.append(length)
        pads.append(count * length - n)
    rolled = np.roll(array, (-shift, -shift), axis=(0, 1))
    width = [(0, pads[0]), (0, pads[1])] + [(0, 0)] * (array.ndim - 2)
    padded = np.pad(rolled, width, mode="symmetric")
    rows, cols = padded.shape[0] // lengths[0], padded.shape[1] // lengths[1]
    tiles = padded.reshape((rows, lengths[0], cols, lengths[1]) + array.shape[2:])
    return np.moveaxis(tiles, 2, 1), lengths


def test_windowed_blocks_are_listed_by_name(denoiser):
    assert [b.name for b in non_local_blocks(denoiser)] == ["nonlocal1", "nonlocal2"]
    block = denoiser.get_layer("nonlocal2")
    assert isinstance(block, NonLocalBlock) and block.window_size == WINDOW
    assert select_block(denoiser) is block
    assert select_block(denoiser, block) is block
    with pytest.raises(ValueError, match="no non-local block named 'block'.*nonlocal1, nonlocal2"):
        select_block(denoiser, "block")


# 40x44 pixels: a 20x22 map, 3x3 windows of 7x8 with mirror padding on both axes;
# 22x30 pixels: an 11x15 map whose odd side splits keys across the roll's wrap-around.
@pytest.mark.parametrize("size", [(40, 44), (22, 30)])
@pytest.mark.parametrize("name, shift", [("nonlocal1", 0), ("nonlocal2", WINDOW // 2)])
def test_rows_equal_the_inner_blocks_matrix_on_windows_cut_in_numpy(denoiser, size, name, shift):
    block = denoiser.get_layer(name)
    assert block.window_shift == shift
    image = np.random.default_rng(1).uniform(0, 255, (1,) + size + (1,)).astype("float32")
    # The block's input by another route than attention_maps' capture.
    features = keras.ops.convert_to_numpy(keras.Model(denoiser.input, block.input)(image))[0]
    height, width = features.shape[:2]
    windows, (lh, lw) = _numpy_windows(features, shift)
    grid = np.stack(np.meshgrid(np.arange(height), np.arange(width), indexing="ij"), axis=-1)
    origins, _ = _numpy_windows(grid, shift)  # the map position each window position holds
    # The NumPy cut is the one the layer makes.
    captured = block_input(denoiser, block, image)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(captured)[0], features)
    cut, _ = window_geometry.partition(captured, block._windows, block._shifts)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(cut), windows.reshape((-1, lh, lw, features.shape[-1]))
    )

    # A block without windows, run on the NumPy windows.
    config = {**block.get_config(), "return_attention": True, "window_size": None, "window_shift": 0}
    twin = NonLocalBlock(**config)
    twin.build((None, lh, lw, features.shape[-1]))
    twin.set_weights(block.get_weights())
    _, full = twin(windows.reshape((-1, lh, lw, features.shape[-1])), training=False)
    full = keras.ops.convert_to_numpy(full).reshape(windows.shape[:2] + (lh * lw, -1))

    pixels = [(0, 0), (size[0] - 1, size[1] - 1), (size[0] // 2, 5), (3, size[1] - 4)]
    maps = attention_maps(denoiser, image, queries=pixels, block=name)
    split = 0
    for pixel, m in zip(pixels, maps):
        cell = (pixel[0] // 2, pixel[1] // 2)
        assert m.block_name == name and m.stride == (2, 2) and m.input_shape == size
        assert m.query == ((2 * cell[0], 2 * cell[0] + 2), (2 * cell[1], 2 * cell[1] + 2))
        # The query's own (unpadded) window position.
        r, c = (cell[0] - shift) % height, (cell[1] - shift) % width
        row = full[r // lh, c // lw, (r % lh) * lw + c % lw]
        np.testing.assert_allclose(m.weights, row, rtol=1e-4, atol=1e-6)
        origin = origins[r // lh, c // lw]
        keys = [(a, b) for a in range(lh // 2) for b in range(lw // 2)]  # pooled 2x2, row-major
        assert len(m.key_cells) == len(keys)
        for (a, b), first, cells, center in zip(keys, m.keys, m.key_cells, m.key_centers()):
            expected = {tuple(2 * v) for v in origin[2 * a : 2 * a + 2, 2 * b : 2 * b + 2].reshape(-1, 2)}
            assert {tuple(v) for v in cells} == expected
            assert tuple(first) == tuple(2 * origin[2 * a, 2 * b])
            low, high = np.min(list(expected), 0), np.max(list(expected), 0) + 2
            if np.prod((high - low) // 2) == len(expected):
                np.testing.assert_allclose(center, (low + high - 1) / 2)
            else:  # split by the wrap-around: centred on its first cell
                split += 1
                np.testing.assert_allclose(center, first + 0.5)
    if shift and size == (22, 30):
        assert split > 0


def _gaussian_denoiser(scale):
    """Two Gaussian blocks whose input is `scale` × the pixel-unshuffled image / 255."""
    model = _denoiser(depth=4, nonlocal_placement=(0, 1), nonlocal_mode="gaussian")
    eye = np.zeros((3, 3, 4, 8), "float32")
    eye[1, 1, np.arange(4), np.arange(4)] = scale
    model.get_layer("conv0").set_weights([eye, np.zeros(8, "float32")])
    eye = np.zeros((3, 3, 8, 8), "float32")
    eye[1, 1, np.arange(8), np.arange(8)] = 1.0
    model.get_layer("conv1").set_weights([eye, np.zeros(8, "float32")])
    return model


def _matching_image(query, match, shape=(12, 22)):
    """Pixels whose unshuffled cells are unit vectors, constant over 2x2 cells (one pooled key);
    the query's vector e0 fills the cells from `query` and from `match` only."""
    rng = np.random.default_rng(0)
    cells = rng.uniform(0.1, 1.0, (shape[0] // 2, shape[1] // 2, 4))
    cells[..., 0] = 0.0
    cells /= np.linalg.norm(cells, axis=-1, keepdims=True)
    for y, x in (query, match):
        cells[y // 2, x // 2] = (1.0, 0.0, 0.0, 0.0)
    unit = np.repeat(np.repeat(cells, 2, axis=0), 2, axis=1)  # (12, 22, 4): the block's map
    image = unit.reshape(shape + (2, 2)).transpose(0, 2, 1, 3).reshape(2 * shape[0], 2 * shape[1])
    return (255.0 * image)[None, ..., None].astype("float32"), unit


# The map is 12x22: rows in 2 windows of 6, columns in 3 windows of 8 whose last one ends with two
# mirrored columns (20, 21 again). Unshifted, the query at map cell (0, 16) shares its window with
# columns 16-21; shifted by 4, the query at (0, 0) is in the window that wraps around the map
# (rows 10, 11, 0-3 and columns 20, 21, 0-3, the padding mirroring columns 3 and 2).
@pytest.mark.parametrize(
    "name, query, match",
    [("nonlocal0", (0, 16), (2, 20)), ("nonlocal1", (0, 0), (2, 2))],
)
def test_gaussian_block_lands_on_the_matching_pixels_and_their_mirror_copy(name, query, match):
    model = _gaussian_denoiser(scale=10.0)
    image, unit = _matching_image(query, match)
    features = keras.ops.convert_to_numpy(block_input(model, model.get_layer(name), image))
    np.testing.assert_allclose(features[0, ..., :4], 10.0 * unit, rtol=1e-5, atol=1e-5)
    assert not features[0, ..., 4:].any()

    pixel = (2 * query[0] + 1, 2 * query[1] + 1)
    (m,) = attention_maps(model, image, queries=[pixel], block=name)
    assert m.is_distribution and m.query == ((2 * query[0], 2 * query[0] + 2), (2 * query[1], 2 * query[1] + 2))
    # Three keys hold the query's vector: its own, the match, and the match's mirror copy.
    top = m.top_keys(3)
    own = (2 * query[0] + 1.5, 2 * query[1] + 1.5)
    other = (2 * match[0] + 1.5, 2 * match[1] + 1.5)
    assert sorted(c for c, _ in top) == sorted([own, other, other])
    np.testing.assert_allclose([w for _, w in top], 1 / 3, atol=1e-4)
    heat = m.heatmap()
    y, x = 2 * match[0], 2 * match[1]
    np.testing.assert_allclose(heat[y : y + 4, x : x + 4], 2 / 3, atol=1e-4)
    y, x = 2 * query[0], 2 * query[1]
    np.testing.assert_allclose(heat[y : y + 4, x : x + 4], 1 / 3, atol=1e-4)
    assert heat.sum() == pytest.approx(16.0, abs=1e-3)  # every key's weight painted on 4x4 pixels
    # The picture's colour scale reaches the summed weight, not the largest single one.
    fig = figures.plot_image_attention(image[0, ..., 0].astype("uint8"), [m])
    assert fig.axes[0].images[-1].get_clim()[1] == pytest.approx(2 / 3, abs=1e-4)
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_the_command_draws_a_denoisers_attention(tmp_path, capsys):
    from PIL import Image

    path = tmp_path / "denoiser.keras"
    _denoiser(depth=4, nonlocal_placement=(1,)).save(path)
    image = tmp_path / "image.png"
    Image.fromarray((np.random.default_rng(0).random((36, 40)) * 255).astype("uint8")).save(image)
    out = tmp_path / "o.png"
    status = cli.main(
        ["attention", str(image), "--model", str(path), "--out", str(out),
         "--preprocess", "none", "--query", "30,38", "5,3"]
    )
    stdout = capsys.readouterr().out
    assert status == 0
    assert os.path.getsize(out) > 1000
    with Image.open(out) as picture:
        assert min(picture.size) > 100
    assert "block nonlocal1" in stdout and "query 30,38" in stdout and "query 4,2" in stdout


def test_a_denoiser_preset_without_shipped_weights_is_one_line(tmp_path, capsys, monkeypatch):
    from PIL import Image

    from keras_nonlocal.denoising import presets

    # A row of the table whose weights are not in the package.
    monkeypatch.setitem(presets.DENOISER_PRESETS, "nl_dncnn_gray_sigma25",
                        {**presets.DENOISER_PRESETS["nl_dncnn_gray_sigma25"], "sha256": None})

    image = tmp_path / "image.png"
    Image.fromarray(np.zeros((16, 16), "uint8")).save(image)
    status = cli.main(
        ["attention", str(image), "--model", "nl_dncnn_gray_sigma25", "--out", str(tmp_path / "o.png")]
    )
    err = capsys.readouterr().err
    assert status == 1
    assert "nl_dncnn_gray_sigma25" in err and "not shipped yet" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
