"""Training input for the denoisers: random noisy/clean patch pairs from a set of images.

Each training example is a `patch_size`² crop of a clean image (images are
picked in proportion to their area, as DnCNN's dense patch extraction),
turned by one of the eight rotations and flips of the square, and its noisy
copy `clean + N(0, σ²)` on the 0–255 scale (neither clipped nor quantised).
A known-σ model trains at one σ; a blind model draws σ per patch uniformly
from a range (DnCNN-B: [0, 55]).

Two pipelines produce the same batches `(noisy, clean)` of shape
`(batch, patch_size, patch_size, channels)`, float32:

- `tf_patch_dataset`: a `tf.data.Dataset` (TensorFlow backend; stateless
  random ops, parallel map, prefetch).
- `PatchSequence`: a `keras.utils.PyDataset` on NumPy, for JAX and PyTorch,
  where TensorFlow may be absent.

`patch_dataset` picks the one that fits the backend. With no folder,
`load_images` returns images that ship inside scikit-image's wheel.
"""

import os

import keras
import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

# Images inside scikit-image's wheel (no download): the default training set.
SKIMAGE_GRAY_IMAGES = ("camera", "brick", "grass", "gravel", "moon", "coins", "page", "text", "cell")
SKIMAGE_COLOR_IMAGES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry",
                        "hubble_deep_field")


def list_images(folder):
    """The image files of a folder (and its sub-folders), sorted.

    Args:
        folder: a directory.

    Returns:
        A list of paths with a suffix in `IMAGE_SUFFIXES`.

    Raises:
        FileNotFoundError: the folder does not exist or holds no image.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Training image folder not found: {folder!r}")
    paths = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(folder)
        for name in names
        if name.lower().endswith(IMAGE_SUFFIXES)
    )
    if not paths:
        raise FileNotFoundError(
            f"No image ({', '.join(IMAGE_SUFFIXES)}) in the training folder {folder!r}."
        )
    return paths


def _to_channels(image, channels, label):
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise ValueError(f"{label} is not an image: shape {image.shape}.")
    if image.shape[-1] == 4:  # drop alpha
        image = image[..., :3]
    if image.shape[-1] == channels:
        return image
    if channels == 1 and image.shape[-1] == 3:
        # ITU-R BT.601 luma, as PIL's "L" conversion.
        return image @ np.array([[0.299], [0.587], [0.114]])
    if channels == 3 and image.shape[-1] == 1:
        return np.repeat(image, 3, axis=-1)
    raise ValueError(f"{label} has {image.shape[-1]} channels; cannot make {channels}.")


def _skimage_images(channels):
    try:
        from skimage import data
    except ImportError:
        raise ImportError(
            "Training without --images uses the images inside scikit-image; "
            "install it (`pip install scikit-image`) or pass a folder of images."
        ) from None
    names = SKIMAGE_GRAY_IMAGES if channels == 1 else SKIMAGE_COLOR_IMAGES
    return [(f"skimage.data.{name}", getattr(data, name)()) for name in names]


def load_images(folder=None, channels=1):
    """Loads training images as float32 arrays on the 0–255 scale.

    Args:
        folder: a directory of 8-bit PNG/JPEG/BMP/TIFF images, or `None` for
            the images inside scikit-image's wheel (grayscale: camera, brick,
            grass, gravel, moon, coins, page, text, cell; RGB: astronaut,
            chelsea, coffee, rocket, immunohistochemistry,
            hubble_deep_field).
        channels: 1 (colour images are converted to luma) or 3 (grayscale
            images are repeated).

    Returns:
        A list of `(H, W, channels)` float32 arrays.

    Example:

    >>> images = load_images(None, channels=1)
    >>> len(images), images[0].shape, images[0].dtype
    (9, (512, 512, 1), dtype('float32'))
    """
    if channels not in (1, 3):
        raise ValueError(f"`channels` must be 1 or 3. Received: channels={channels!r}")
    if folder is None:
        named = _skimage_images(channels)
    else:
        named = []
        for path in list_images(folder):
            try:
                image = keras.utils.load_img(path, color_mode="grayscale" if channels == 1 else "rgb")
            except (OSError, ValueError) as e:
                raise OSError(f"Cannot read training image {path!r}: {e}") from None
            named.append((path, keras.utils.img_to_array(image, dtype="float32")))
    return [_to_channels(image, channels, label).astype("float32") for label, image in named]


def check_patch_size(images, patch_size):
    """Raises a `ValueError` unless every image holds a `patch_size`² crop.

    Args:
        images: the training images.
        patch_size: the side of the patches.
    """
    if not isinstance(patch_size, int) or isinstance(patch_size, bool) or patch_size < 2:
        raise ValueError(f"`patch_size` must be an integer >= 2. Received: patch_size={patch_size!r}")
    if not images:
        raise ValueError("No training images.")
    small = [i for i, image in enumerate(images) if min(image.shape[:2]) < patch_size]
    if small:
        shape = images[small[0]].shape
        raise ValueError(
            f"patch_size={patch_size} is larger than {len(small)} training image(s), "
            f"e.g. image {small[0]} of shape {shape}; use a smaller --patch-size."
        )


def _check_noise(sigma, sigma_range):
    if (sigma is None) == (sigma_range is None):
        raise ValueError(
            "Give exactly one of `sigma` (a known noise level) and `sigma_range` "
            f"(a blind model). Received: sigma={sigma!r}, sigma_range={sigma_range!r}"
        )
    if sigma is not None:
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma >= 0:
            raise ValueError(f"`sigma` must be a number >= 0 (0-255 scale). Received: {sigma!r}")
        return float(sigma), float(sigma)
    low, high = (float(v) for v in sigma_range)
    if not 0 <= low <= high:
        raise ValueError(f"`sigma_range` must be (low, high) with 0 <= low <= high. Received: {sigma_range!r}")
    return low, high


def _area_weights(images):
    areas = np.array([image.shape[0] * image.shape[1] for image in images], dtype="float64")
    return areas / areas.sum()


def sample_batch(rng, images, batch_size, patch_size, sigma=None, sigma_range=None):
    """One batch of `(noisy, clean)` patches, in NumPy.

    Args:
        rng: a `numpy.random.Generator`.
        images: `(H, W, C)` float32 images on the 0–255 scale.
        batch_size: patches in the batch.
        patch_size: side of the square patches.
        sigma: the noise level (known-σ training), or `None`.
        sigma_range: `(low, high)`: each patch's σ is uniform in it (blind
            training), or `None`.

    Returns:
        `(noisy, clean)`, two float32 arrays `(batch, patch, patch, C)`.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> image = np.full((20, 30, 1), 100.0, "float32")
    >>> noisy, clean = sample_batch(rng, [image], 512, 8, sigma=25)
    >>> noisy.shape, float(clean.mean()), round(float((noisy - clean).std()))
    ((512, 8, 8, 1), 100.0, 25)
    """
    low, high = _check_noise(sigma, sigma_range)
    picks = rng.choice(len(images), size=batch_size, p=_area_weights(images))
    clean = np.empty((batch_size, patch_size, patch_size, images[0].shape[-1]), "float32")
    for n, i in enumerate(picks):
        image = images[i]
        top = rng.integers(0, image.shape[0] - patch_size + 1)
        left = rng.integers(0, image.shape[1] - patch_size + 1)
        patch = image[top: top + patch_size, left: left + patch_size]
        patch = np.rot90(patch, k=rng.integers(4))
        clean[n] = patch[:, ::-1] if rng.integers(2) else patch
    sigmas = rng.uniform(low, high, size=(batch_size, 1, 1, 1)) if high > low else low
    noise = rng.standard_normal(clean.shape) * sigmas
    return (clean + noise).astype("float32"), clean


class PatchSequence(keras.utils.PyDataset):
    """`(noisy, clean)` patch batches as a `keras.utils.PyDataset` (NumPy only).

    Batch `index` of epoch `e` is drawn from a generator seeded by
    `(seed, e, index)`, so a run is reproducible and every epoch differs.

    Args:
        images: `(H, W, C)` float32 images on the 0–255 scale.
        batch_size: patches per batch.
        patch_size: side of the patches.
        steps: batches per epoch (the dataset's length).
        sigma: the known noise level, or `None`.
        sigma_range: the blind model's `(low, high)`, or `None`.
        seed: the base seed (`None`: random).
        **kwargs: `keras.utils.PyDataset` arguments (`workers`,
            `use_multiprocessing`, `max_queue_size`).

    Example:

    >>> images = [np.zeros((16, 16, 1), "float32")]
    >>> seq = PatchSequence(images, batch_size=4, patch_size=8, steps=3, sigma=15, seed=0)
    >>> len(seq), seq[0][0].shape
    (3, (4, 8, 8, 1))
    """

    def __init__(self, images, batch_size, patch_size, steps, sigma=None, sigma_range=None,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        check_patch_size(images, patch_size)
        _check_noise(sigma, sigma_range)
        self.images = images
        self.batch_size = int(batch_size)
        self.patch_size = patch_size
        self.steps = int(steps)
        self.sigma = sigma
        self.sigma_range = sigma_range
        self.seed = np.random.SeedSequence().entropy if seed is None else seed
        self.epoch = 0

    def __len__(self):
        return self.steps

    def __getitem__(self, index):
        if not 0 <= index < self.steps:
            raise IndexError(f"batch {index} of a {self.steps}-batch epoch")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        return sample_batch(rng, self.images, self.batch_size, self.patch_size,
                            self.sigma, self.sigma_range)

    def on_epoch_end(self):
        self.epoch += 1


def tf_patch_dataset(images, batch_size, patch_size, sigma=None, sigma_range=None, seed=None,
                     num_parallel_calls=None):
    """`(noisy, clean)` patch batches as an endless `tf.data.Dataset`.

    The same sampling as `sample_batch` (area-weighted image choice, random
    crop, one of 8 rotations/flips, Gaussian noise), with TensorFlow's
    stateless random ops, each example seeded from `seed` and its index.
    The images are held once, in one flat tensor.

    Args:
        images: `(H, W, C)` float32 images on the 0–255 scale.
        batch_size: patches per batch (the global batch under a strategy).
        patch_size: side of the patches.
        sigma: the known noise level, or `None`.
        sigma_range: the blind model's `(low, high)`, or `None`.
        seed: an integer seed (`None`: random).
        num_parallel_calls: map parallelism (default `tf.data.AUTOTUNE`).

    Returns:
        A `tf.data.Dataset` of `(noisy, clean)` float32 batches of shape
        `(batch_size, patch_size, patch_size, C)`.

    Example:

    >>> ds = tf_patch_dataset([np.zeros((16, 20, 1), "float32")], 4, 8, sigma=25, seed=0)
    >>> noisy, clean = next(iter(ds))
    >>> tuple(noisy.shape), float(clean.numpy().max())
    ((4, 8, 8, 1), 0.0)
    """
    import tensorflow as tf

    check_patch_size(images, patch_size)
    low, high = _check_noise(sigma, sigma_range)
    channels = images[0].shape[-1]
    flat = tf.constant(np.concatenate([image.reshape(-1) for image in images]).astype("float32"))
    sizes = np.array([image.size for image in images], "int64")
    offsets = tf.constant(np.concatenate([[0], np.cumsum(sizes)[:-1]]), tf.int64)
    heights = tf.constant([image.shape[0] for image in images], tf.int64)
    widths = tf.constant([image.shape[1] for image in images], tf.int64)
    log_weights = tf.math.log(tf.constant(_area_weights(images)[None, :], tf.float32))
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])

    def example(index):
        seeds = tf.random.experimental.stateless_split(tf.stack([tf.constant(seed, tf.int64), index]), 6)
        i = tf.random.stateless_categorical(log_weights, 1, seeds[0], dtype=tf.int64)[0, 0]
        h, w = heights[i], widths[i]
        image = tf.reshape(flat[offsets[i]: offsets[i] + h * w * channels], tf.stack([h, w, channels]))
        corner = tf.random.stateless_uniform([2], seeds[1], minval=0, maxval=tf.int64.max, dtype=tf.int64)
        top = corner[0] % (h - patch_size + 1)
        left = corner[1] % (w - patch_size + 1)
        patch = image[top: top + patch_size, left: left + patch_size]
        k = tf.random.stateless_uniform([], seeds[2], 0, 4, dtype=tf.int32)
        patch = tf.image.rot90(patch, k)
        flip = tf.random.stateless_uniform([], seeds[3], 0, 2, dtype=tf.int32)
        patch = tf.cond(flip > 0, lambda: tf.reverse(patch, [1]), lambda: patch)
        patch = tf.ensure_shape(patch, (patch_size, patch_size, channels))
        level = tf.random.stateless_uniform([], seeds[4], low, high) if high > low else low
        noise = tf.random.stateless_normal(tf.shape(patch), seeds[5]) * level
        return patch + noise, patch

    parallel = tf.data.AUTOTUNE if num_parallel_calls is None else num_parallel_calls
    ds = tf.data.Dataset.counter(dtype=tf.int64)
    ds = ds.map(example, num_parallel_calls=parallel, deterministic=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def patch_dataset(images, batch_size, patch_size, steps, sigma=None, sigma_range=None, seed=None,
                  pipeline="auto"):
    """The patch pipeline that fits the backend.

    Args:
        images: `(H, W, C)` float32 images on the 0–255 scale.
        batch_size: patches per batch.
        patch_size: side of the patches.
        steps: batches per epoch (used by the `PatchSequence`; the tf.data
            pipeline is endless).
        sigma: the known noise level, or `None`.
        sigma_range: the blind model's `(low, high)`, or `None`.
        seed: the base seed.
        pipeline: `"auto"` (tf.data on the TensorFlow backend, NumPy
            elsewhere), `"tf"` or `"numpy"`.

    Returns:
        A `tf.data.Dataset` or a `PatchSequence`.
    """
    if pipeline not in ("auto", "tf", "numpy"):
        raise ValueError(f"`pipeline` must be 'auto', 'tf' or 'numpy'. Received: {pipeline!r}")
    if pipeline == "auto":
        pipeline = "tf" if keras.backend.backend() == "tensorflow" else "numpy"
    if pipeline == "tf":
        return tf_patch_dataset(images, batch_size, patch_size, sigma, sigma_range, seed)
    return PatchSequence(images, batch_size, patch_size, steps, sigma, sigma_range, seed)
