"""PSNR and SSIM against computations written here from their definitions."""

import numpy as np
import pytest

from keras_nonlocal.denoising import metrics

skimage_metrics = pytest.importorskip("skimage.metrics")


def _pair(shape, seed=0, sigma=20.0):
    rng = np.random.default_rng(seed)
    clean = np.clip(rng.normal(120, 50, shape), 0, 255)
    clean = np.rint(clean)
    restored = clean + rng.normal(0, sigma, shape)  # spills out of [0, 255]
    return clean, restored


def _numpy_psnr(clean, restored):
    mse = np.mean((clean - np.clip(restored, 0, 255)) ** 2)
    return 10 * np.log10(255.0**2 / mse)


def _gaussian_window(sigma=1.5, radius=5):
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(x**2) / (2 * sigma**2))
    g /= g.sum()
    return np.outer(g, g)


def _valid_filter(image, window):
    from numpy.lib.stride_tricks import sliding_window_view

    patches = sliding_window_view(image, window.shape)
    return np.einsum("ijkl,kl->ij", patches, window)


def _numpy_ssim_2d(x, y):
    """Wang et al. (2004): 11x11 Gaussian window (σ 1.5), K1 0.01, K2 0.03, L 255, valid region."""
    w = _gaussian_window()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _valid_filter(x, w), _valid_filter(y, w)
    sxx = _valid_filter(x * x, w) - mx**2
    syy = _valid_filter(y * y, w) - my**2
    sxy = _valid_filter(x * y, w) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return s.mean()


def _numpy_ssim(clean, restored):
    restored = np.clip(restored, 0, 255)
    if clean.ndim == 2:
        return _numpy_ssim_2d(clean, restored)
    return np.mean([_numpy_ssim_2d(clean[..., c], restored[..., c]) for c in range(clean.shape[-1])])


@pytest.mark.parametrize("shape", [(40, 33), (40, 33, 1), (24, 30, 3)])
def test_psnr_is_the_peak_255_formula_on_the_clipped_output(shape):
    clean, restored = _pair(shape)
    assert restored.min() < 0 or restored.max() > 255
    assert metrics.psnr(clean, restored) == pytest.approx(_numpy_psnr(clean, restored), abs=1e-10)
    # clipping matters: without it the PSNR would be lower
    unclipped = 10 * np.log10(255.0**2 / np.mean((clean - restored) ** 2))
    assert metrics.psnr(clean, restored) > unclipped


def test_psnr_of_identical_images_is_infinite():
    clean, _ = _pair((16, 16))
    assert metrics.psnr(clean, clean) == float("inf")


@pytest.mark.parametrize("shape", [(40, 33), (40, 33, 1), (24, 30, 3)])
def test_ssim_matches_wang_et_al_written_out_in_numpy(shape):
    clean, restored = _pair(shape)
    assert metrics.ssim(clean, restored) == pytest.approx(_numpy_ssim(clean.squeeze(), restored.squeeze()), abs=1e-10)


def test_ssim_matches_scikit_image_with_data_range_255():
    clean, restored = _pair((48, 48, 3), seed=1)
    expected = skimage_metrics.structural_similarity(
        clean, np.clip(restored, 0, 255), data_range=255, channel_axis=-1,
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    )
    assert metrics.ssim(clean, restored) == pytest.approx(expected, abs=1e-12)


def test_ssim_is_one_for_identical_images_and_falls_with_noise():
    clean, _ = _pair((32, 32))
    unit_noise = np.random.default_rng(2).standard_normal(clean.shape)
    scores = [metrics.ssim(clean, clean + s * unit_noise) for s in (0, 5, 25)]
    assert scores[0] == pytest.approx(1.0)
    assert scores[0] > scores[1] > scores[2]


def test_shape_mismatch_and_tiny_images_are_refused():
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.psnr(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="at least 11x11"):
        metrics.ssim(np.zeros((8, 20)), np.zeros((8, 20)))
