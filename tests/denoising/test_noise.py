import numpy as np
import pytest

from keras_nonlocal.denoising import noise


def test_noise_is_fixed_by_seed_and_name_not_by_order_or_other_images():
    clean = np.full((32, 32), 100.0)
    a = noise.noisy_version(clean, 25, "01.png", base_seed=3)
    # another image first, then the same one again: the same noise
    noise.noisy_version(clean, 25, "02.png", base_seed=3)
    np.testing.assert_array_equal(noise.noisy_version(clean, 25, "01.png", base_seed=3), a)
    assert not np.array_equal(noise.noisy_version(clean, 25, "02.png", base_seed=3), a)
    assert not np.array_equal(noise.noisy_version(clean, 25, "01.png", base_seed=4), a)


def test_noise_is_gaussian_with_the_requested_sigma_on_the_0_255_scale():
    clean = np.full((1000, 1000), 128.0)
    residual = noise.noisy_version(clean, 25, "big.png") - clean
    assert abs(residual.std() - 25) < 0.1  # 10^6 samples: the std's error is ~0.018
    assert abs(residual.mean()) < 0.1
    # Gaussian: about 68.3 % within one σ, 95.4 % within two
    assert abs(np.mean(np.abs(residual) < 25) - 0.6827) < 0.003
    assert abs(np.mean(np.abs(residual) < 50) - 0.9545) < 0.002


def test_noisy_image_is_neither_clipped_nor_quantised():
    clean = np.tile(np.array([0.0, 255.0]), (64, 32))
    noisy = noise.noisy_version(clean, 50, "edge.png")
    assert noisy.dtype == np.float64
    assert noisy.min() < 0 and noisy.max() > 255
    assert np.mean(noisy != np.rint(noisy)) > 0.99


def test_noise_scales_with_sigma_for_the_same_image():
    clean = np.zeros((16, 16))
    np.testing.assert_allclose(
        noise.noisy_version(clean, 50, "x.png"), 2 * noise.noisy_version(clean, 25, "x.png")
    )
    np.testing.assert_array_equal(noise.noisy_version(clean + 7, 0, "x.png"), clean + 7)


def test_seed_matches_numpy_generator_seeded_by_image_seed():
    clean = np.arange(12.0).reshape(3, 4)
    seed = noise.image_seed(0, "a.png")
    expected = clean + 15 * np.random.default_rng(seed).standard_normal(clean.shape)
    np.testing.assert_array_equal(noise.noisy_version(clean, 15, "a.png"), expected)
    assert 0 <= seed < 2**63


@pytest.mark.parametrize("sigma", [-1, float("nan"), float("inf"), "abc", None])
def test_bad_sigma_is_refused(sigma):
    with pytest.raises(ValueError, match="sigma"):
        noise.add_gaussian_noise(np.zeros(3), sigma, seed=0)
