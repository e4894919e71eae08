"""Denoising in overlapping tiles: exact for a network that sees no farther than the margin."""

import keras
import numpy as np
import pytest

from keras_nonlocal.denoising import build_denoiser
from keras_nonlocal.denoising.denoise_command import denoise_array
from keras_nonlocal.denoising.tiling import denoise_in_tiles


def _predict(model):
    return lambda batch: keras.ops.convert_to_numpy(model(batch))


def _image(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


@pytest.mark.parametrize("shape", [(37, 53, 1), (16, 40, 1), (9, 9, 1)])
def test_tiles_equal_the_whole_image_when_the_margin_covers_the_receptive_field(shape):
    # 4 convolutions of 3x3 at full resolution: each output sees 4 pixels away.
    keras.utils.set_random_seed(0)
    model = build_denoiser({"base": "dncnn", "depth": 4, "features": 8})
    image = _image(shape)
    whole = _predict(model)(image[None])[0]
    tiled = denoise_in_tiles(_predict(model), image, tile_size=8, margin=4)
    np.testing.assert_allclose(tiled, whole, rtol=1e-5, atol=1e-3)
    if max(shape[:2]) > 8:
        # A margin short of the receptive field changes the pixels next to the seams.
        short = denoise_in_tiles(_predict(model), image, tile_size=8, margin=2)
        assert np.abs(short - whole).max() > 1e-2


def test_every_pixel_comes_from_exactly_one_tile_centre():
    calls = []

    def record(batch):
        calls.append(batch.shape[1:3])
        return batch + 1.0

    image = _image((50, 23, 2))
    out = denoise_in_tiles(record, image, tile_size=20, margin=3)
    np.testing.assert_array_equal(out, image + 1.0)
    # 50 rows in 3 tiles of 17 (+3 rows of context inside the image), 23 columns in 2 of 12.
    assert calls == [(20, 15), (20, 14), (23, 15), (23, 14), (19, 15), (19, 14)]
    assert denoise_in_tiles(record, image, tile_size=None).shape == image.shape
    assert calls[-1] == (50, 23)


def test_windowed_blocks_in_tiles_stay_close_to_the_whole_image():
    keras.utils.set_random_seed(0)
    model = build_denoiser({"base": "nl_dncnn", "depth": 4, "features": 8,
                            "nonlocal_placement": (1,), "nonlocal_window": 8})
    block = [layer for layer in model._flatten_layers() if hasattr(layer, "window_size")][0]
    block.out.kernel.assign(np.random.default_rng(0).normal(0, 5.0, block.out.kernel.shape))
    image = _image((40, 44, 1))
    whole = _predict(model)(image[None])[0]
    # The margin covers the convolutions (4 pixels), not the windows: only the block differs.
    tiled = denoise_in_tiles(_predict(model), image, tile_size=16, margin=6)
    assert 0 < np.abs(tiled - whole).mean() < 0.1 * np.abs(whole - image).mean()
    # denoise_array (the command's path) tiles large images, and no others.
    np.testing.assert_array_equal(denoise_array(model, image, tile_size=64),
                                  denoise_array(model, image, tile_size=None))
    big = _image((80, 70, 1))
    np.testing.assert_allclose(denoise_array(model, big, tile_size=32),
                               denoise_in_tiles(_predict(model), big, tile_size=32, margin=32),
                               rtol=1e-5, atol=1e-3)


def test_bad_tiling_arguments_are_named():
    for kwargs, name in (({"tile_size": 0}, "tile_size"), ({"tile_size": 2.5}, "tile_size"),
                         ({"margin": -1}, "margin")):
        with pytest.raises(ValueError, match=name):
            denoise_in_tiles(lambda b: b, _image((4, 4, 1)), **kwargs)
