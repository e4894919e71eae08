"""The classical denoisers the benchmark compares against: non-local means and BM3D.

Both take the noisy image and σ on the 0–255 scale and return the estimate on
that scale. Non-local means is scikit-image's, with the parameters of its own
example (fixed: the method moves by more than 1 dB with them). BM3D comes from
the `bm3d` package on PyPI (`pip install keras-nonlocal[bm3d]`), an optional
extra: its licence allows non-commercial use only.
"""

import importlib.util

import numpy as np

from keras_nonlocal.denoising import noise

# scikit-image's denoise_nl_means example; h is this times σ.
NL_MEANS_SETTINGS = {"patch_size": 5, "patch_distance": 6, "fast_mode": True}
NL_MEANS_H = 0.8


def _image(array, what):
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 3 and array.shape[-1] == 1:
        return array[..., 0], True
    if array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3):
        return array, False
    raise ValueError(f"{what} expects an (H, W), (H, W, 1) or (H, W, 3) image; received shape {array.shape}")


def nl_means(noisy, sigma):
    """scikit-image's non-local means with h = 0.8σ, 5×5 patches, 13×13 search.

    Args:
        noisy: the noisy image `(H, W)`, `(H, W, 1)` or `(H, W, 3)` on the
            0–255 scale.
        sigma: the noise's standard deviation on the 0–255 scale.

    Returns:
        The estimate, float64, of `noisy`'s shape.

    Example:

    >>> clean = np.tile(np.linspace(0, 255, 32), (32, 1))
    >>> noisy = clean + np.random.default_rng(0).normal(0, 25, clean.shape)
    >>> bool(np.abs(nl_means(noisy, 25) - clean).mean() < np.abs(noisy - clean).mean())
    True
    """
    from skimage.restoration import denoise_nl_means

    sigma = noise.check_sigma(sigma)
    image, squeezed = _image(noisy, "nl_means")
    out = denoise_nl_means(
        image,
        h=NL_MEANS_H * sigma,
        sigma=sigma,
        channel_axis=-1 if image.ndim == 3 else None,
        **NL_MEANS_SETTINGS,
    )
    return out[..., None] if squeezed else out


def bm3d_available():
    """Whether the optional `bm3d` package is installed.

    Returns:
        A bool.
    """
    return importlib.util.find_spec("bm3d") is not None


def bm3d(noisy, sigma):
    """BM3D (Dabov et al., 2007) from the `bm3d` package; CBM3D for colour.

    Args:
        noisy: the noisy image `(H, W)`, `(H, W, 1)` or `(H, W, 3)` on the
            0–255 scale.
        sigma: the noise's standard deviation on the 0–255 scale.

    Returns:
        The estimate, float64, of `noisy`'s shape.

    Raises:
        ImportError: when `bm3d` is not installed.
    """
    sigma = noise.check_sigma(sigma)
    if not bm3d_available():
        raise ImportError(
            "BM3D needs the optional `bm3d` package (non-commercial licence): "
            "pip install keras-nonlocal[bm3d]"
        )
    import bm3d as bm3d_package

    image, squeezed = _image(noisy, "bm3d")
    if image.ndim == 3:
        out = bm3d_package.bm3d_rgb(image, sigma_psd=sigma)
    else:
        out = bm3d_package.bm3d(image, sigma_psd=sigma)
    out = np.asarray(out, dtype=np.float64).reshape(image.shape)
    return out[..., None] if squeezed else out
