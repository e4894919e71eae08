"""PSNR and SSIM of a restored image against the clean one, on the 0–255 scale.

Both clip the restored image to [0, 255] first (what a saved 8-bit image
would hold, without the rounding) and use scikit-image's implementations with
a data range of 255. SSIM uses the settings of Wang et al. (2004) that
scikit-image names for matching their MATLAB code: an 11×11 Gaussian window
of σ = 1.5 and population covariances; for colour images, the mean over the
channels.
"""

import numpy as np

PEAK = 255.0

_SSIM_SETTINGS = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}


def _pair(clean, restored):
    clean = np.asarray(clean, dtype=np.float64)
    restored = np.asarray(restored, dtype=np.float64)
    if clean.shape != restored.shape:
        raise ValueError(f"the images differ in shape: clean {clean.shape}, restored {restored.shape}")
    if clean.ndim == 3 and clean.shape[-1] == 1:
        clean, restored = clean[..., 0], restored[..., 0]
    if clean.ndim not in (2, 3):
        raise ValueError(f"expected (H, W) or (H, W, C) images; received shape {clean.shape}")
    return clean, np.clip(restored, 0.0, PEAK)


def psnr(clean, restored):
    """Peak signal-to-noise ratio in dB with peak 255, the restored image clipped.

    Args:
        clean: the clean image, `(H, W)` or `(H, W, C)`, on the 0–255 scale.
        restored: the restored (or noisy) image of the same shape.

    Returns:
        `10 log10(255² / MSE)` as a float (`inf` for identical images).

    Example:

    >>> clean = np.zeros((4, 4))
    >>> round(psnr(clean, clean + 2.55), 2)
    40.0
    """
    from skimage import metrics

    clean, restored = _pair(clean, restored)
    if np.array_equal(clean, restored):
        return float("inf")
    return float(metrics.peak_signal_noise_ratio(clean, restored, data_range=PEAK))


def ssim(clean, restored):
    """Structural similarity (Wang et al., 2004), the restored image clipped.

    Args:
        clean: the clean image, `(H, W)` or `(H, W, C)`, on the 0–255 scale,
            at least 11 pixels a side.
        restored: the restored (or noisy) image of the same shape.

    Returns:
        The mean SSIM as a float, 1 for identical images.

    Example:

    >>> clean = np.tile(np.arange(16.0) * 16, (16, 1))
    >>> ssim(clean, clean)
    1.0
    """
    from skimage import metrics

    clean, restored = _pair(clean, restored)
    if min(clean.shape[:2]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels; received {clean.shape[0]}x{clean.shape[1]}")
    channel_axis = -1 if clean.ndim == 3 else None
    return float(
        metrics.structural_similarity(
            clean, restored, data_range=PEAK, channel_axis=channel_axis, **_SSIM_SETTINGS
        )
    )
