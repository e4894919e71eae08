"""The noise protocol of the denoising benchmark.

Clean 8-bit images are taken as floats on [0, 255]; the noisy image is
`clean + N(0, σ²)` with σ on that scale, neither clipped nor quantised. The
noise of each image is drawn from its own generator, seeded from a base seed
and the image's name, so a result does not depend on which other images are in
the run or in what order they come (and the noise at σ = 50 is that at σ = 25,
doubled).
"""

import hashlib
import math

import numpy as np


def image_seed(base_seed, name):
    """The seed of one image's noise: a hash of the base seed and its name.

    Args:
        base_seed: the run's seed, an integer.
        name: the image's name (its file name, without the folder).

    Returns:
        A non-negative integer below 2**63.

    Example:

    >>> image_seed(0, "01.png") == image_seed(0, "01.png")
    True
    >>> image_seed(0, "01.png") == image_seed(0, "02.png")
    False
    """
    text = f"{int(base_seed)}\0{name}".encode("utf-8")
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1


def check_sigma(sigma, name="sigma"):
    """Validates a noise level on the 0–255 scale.

    Args:
        sigma: the value.
        name: how the error message names it (e.g. `"--sigma"`).

    Returns:
        `sigma` as a float.

    Raises:
        ValueError: unless it is a finite number >= 0.

    Example:

    >>> check_sigma(25)
    25.0
    """
    try:
        value = float(sigma)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a number on the 0–255 scale. Received: {sigma!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"`{name}` must be a finite number >= 0 on the 0–255 scale. Received: {sigma!r}")
    return value


def add_gaussian_noise(clean, sigma, seed):
    """Adds white Gaussian noise of standard deviation σ: `clean + N(0, σ²)`.

    The result is neither clipped nor quantised.

    Args:
        clean: array on the 0–255 scale, any shape.
        sigma: the noise's standard deviation on the 0–255 scale.
        seed: the generator's seed (see `image_seed`).

    Returns:
        A float64 array of `clean`'s shape.

    Example:

    >>> clean = np.full((64, 64), 128.0)
    >>> noisy = add_gaussian_noise(clean, 25, seed=0)
    >>> bool(noisy.min() < 0 or noisy.max() > 255 or np.std(noisy - clean) > 20)
    True
    """
    sigma = check_sigma(sigma)
    clean = np.asarray(clean, dtype=np.float64)
    rng = np.random.default_rng(seed)
    return clean + sigma * rng.standard_normal(clean.shape)


def noisy_version(clean, sigma, name, base_seed=0):
    """The benchmark's noisy version of one clean image.

    Args:
        clean: the clean image on the 0–255 scale.
        sigma: the noise level on the 0–255 scale.
        name: the image's name; with `base_seed` it fixes the noise.
        base_seed: the run's seed.

    Returns:
        `clean + N(0, σ²)` as float64, not clipped.

    Example:

    >>> clean = np.zeros((8, 8))
    >>> a = noisy_version(clean, 15, "a.png")
    >>> bool(np.array_equal(a, noisy_version(clean, 15, "a.png")))
    True
    """
    return add_gaussian_noise(clean, sigma, image_seed(base_seed, name))
