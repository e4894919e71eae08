"""The shipped denoiser weights: present, small, verified, and they denoise."""

import os

import keras
import numpy as np
import pytest

from keras_nonlocal.denoising import DENOISER_PRESETS
from keras_nonlocal.denoising import load_denoiser
from keras_nonlocal.denoising import preset_for_sigma
from keras_nonlocal.denoising.presets import WEIGHTS_DIR
from keras_nonlocal.denoising.presets import preset_path

skimage_data = pytest.importorskip("skimage.data")

SHIPPED = sorted(name for name, preset in DENOISER_PRESETS.items() if preset["sha256"])


def _psnr(clean, image):
    mse = np.mean((np.clip(image, 0, 255).astype("float64") - clean) ** 2)
    return 10 * np.log10(255.0**2 / mse)


def _test_image():
    """A 160x200 crop of scikit-image's camera (inside its wheel), on [0, 255]."""
    return skimage_data.camera()[40:200, 150:350].astype("float32")


def test_every_preset_is_shipped_under_5_mb():
    assert SHIPPED == sorted(DENOISER_PRESETS)
    for name in SHIPPED:
        size = os.path.getsize(os.path.join(WEIGHTS_DIR, DENOISER_PRESETS[name]["file"]))
        assert 100_000 < size < 5_000_000, (name, size)


@pytest.mark.parametrize("name", SHIPPED)
def test_a_preset_denoises_well_above_the_noisy_psnr(name):
    preset = DENOISER_PRESETS[name]
    model = load_denoiser(name)
    clean = _test_image()
    sigmas = [preset["sigma"]] if preset["sigma"] is not None else [15, 25, 50]
    for sigma in sigmas:
        noise = np.random.default_rng(sigma).normal(0, sigma, clean.shape).astype("float32")
        noisy = clean + noise
        out = keras.ops.convert_to_numpy(model.predict_on_batch(noisy[None, :, :, None]))
        gain = _psnr(clean, out[0, :, :, 0]) - _psnr(clean, noisy)
        # Measured with the same noise: BM3D gains 8.4 / 10.1 / 11.9 dB at sigma 15 / 25 / 50;
        # a new (identity) model gains nothing.
        assert gain > {15: 7.0, 25: 8.5, 50: 10.0}[sigma], (name, sigma, gain)


def test_sigma_selects_the_shipped_known_level_models():
    for sigma in (15, 25, 50):
        model = load_denoiser(None, sigma=sigma)
        assert model.name == preset_for_sigma(sigma) == f"nl_dncnn_gray_sigma{sigma}"


def test_a_changed_weights_file_is_refused(tmp_path, monkeypatch):
    from keras_nonlocal.denoising import presets
    from keras_nonlocal.weights import WeightsIntegrityError

    name = SHIPPED[0]
    copy = tmp_path / DENOISER_PRESETS[name]["file"]
    data = bytearray(open(preset_path(name), "rb").read())
    data[-100] ^= 1
    copy.write_bytes(bytes(data))
    monkeypatch.setattr(presets, "WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsIntegrityError, match="SHA-256"):
        load_denoiser(name)
