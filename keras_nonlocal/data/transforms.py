"""Spatial transforms of clips: scale, crop, flip, normalise.

Every function takes a clip tensor of shape `(T, H, W, 3)` (RGB, values in
`[0, 255]`) and uses TensorFlow ops only, so it runs inside `tf.data.map`.
Random transforms are stateless: they take a `seed`, a shape-`(2,)` int
tensor, and give the same result for the same seed whatever the number of
parallel calls.

Facts followed (official `video-nonlocal-net`, `ScaleTransform` and
`ClipTransformFlex`):

- scale jitter: the short side is resized to a size drawn uniformly from
  `[min_size, max_size]` (both included; `[256, 320]` for Kinetics), the long
  side keeps the aspect ratio (rounded down), bilinear interpolation, pixels
  rounded back to integers;
- training crop: offsets drawn uniformly so the crop lies inside the frame;
  horizontal flip with probability 1/2;
- testing: the short side is resized to 256; the 3 crops lie along the long
  side at offsets `k * ((long - crop) // 2)` for `k = 0, 1, 2` (left/top,
  centre, right/bottom), centred along the short side;
- normalisation `(x - 114.75) / 57.375`, RGB, as `preprocess_input`.
"""

import numpy as np
import tensorflow as tf

from keras_nonlocal.applications.preprocessing import MEAN
from keras_nonlocal.applications.preprocessing import STD
from keras_nonlocal.applications.preprocessing import preprocess_input

TRAIN_SCALE_RANGE = (256, 320)
TRAIN_CROP_SIZE = 224
TEST_SCALE = 256
TEST_CROP_SIZE = 256


def _split_seed(seed, num):
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    return tf.unstack(tf.random.experimental.stateless_split(seed, num=num))


def scaled_size(height, width, size):
    """Frame size after resizing the short side to `size`.

    The long side keeps the aspect ratio and is rounded down. Integer
    arithmetic, so the short side is exactly `size`.

    Args:
        height: frame height (int or int tensor).
        width: frame width (int or int tensor).
        size: target short side.

    Returns:
        A pair `(new_height, new_width)`.

    Example:

    >>> scaled_size(240, 320, 256)
    (256, 341)
    """
    if height <= width:
        return size, (width * size) // height
    return (height * size) // width, size


def _scaled_size_tf(height, width, size):
    height, width, size = (tf.cast(v, tf.int64) for v in (height, width, size))
    short_is_height = height <= width
    new_h = tf.where(short_is_height, size, (height * size) // width)
    new_w = tf.where(short_is_height, (width * size) // height, size)
    return tf.cast(new_h, tf.int32), tf.cast(new_w, tf.int32)


def short_side_scale(frames, size):
    """Resizes frames so that their short side is `size` pixels.

    Bilinear interpolation without antialiasing (as OpenCV's default), values
    rounded to integers like the official uint8 pipeline. A clip already at
    the target size is returned unchanged (as float32).

    Args:
        frames: tensor of shape `(T, H, W, 3)` or `(H, W, 3)`.
        size: target short side, an int or scalar int tensor.

    Returns:
        A float32 tensor with the same rank.

    Example:

    >>> clip = tf.zeros((4, 240, 320, 3), tf.uint8)
    >>> short_side_scale(clip, 256).shape
    TensorShape([4, 256, 341, 3])
    """
    frames = tf.cast(tf.convert_to_tensor(frames), tf.float32)
    shape = tf.shape(frames)
    height, width = shape[-3], shape[-2]
    new_h, new_w = _scaled_size_tf(height, width, size)

    def resize():
        resized = tf.image.resize(
            frames, tf.stack([new_h, new_w]), method="bilinear", antialias=False
        )
        return tf.clip_by_value(tf.round(resized), 0.0, 255.0)

    same = tf.logical_and(tf.equal(new_h, height), tf.equal(new_w, width))
    out = tf.cond(same, lambda: frames, resize)
    static = frames.shape.as_list()
    static[-3:-1] = [None, None]
    if isinstance(size, (int, np.integer)) and None not in frames.shape[-3:-1]:
        static[-3:-1] = list(scaled_size(frames.shape[-3], frames.shape[-2], int(size)))
    return tf.ensure_shape(out, static)


def _ensure_min_side(frames, size):
    """Upscales frames whose short side is below `size`, so a crop fits."""
    frames = tf.cast(tf.convert_to_tensor(frames), tf.float32)
    shape = tf.shape(frames)
    short = tf.minimum(shape[-3], shape[-2])
    return tf.cond(
        short < size, lambda: short_side_scale(frames, size), lambda: frames
    )


def random_short_side_scale(frames, min_size, max_size, seed):
    """Scale jitter: resizes the short side to a random size.

    Args:
        frames: tensor of shape `(T, H, W, 3)`.
        min_size: smallest short side (256 in the paper).
        max_size: largest short side, included (320 in the paper).
        seed: shape-`(2,)` int tensor for the stateless draw.

    Returns:
        A float32 tensor of shape `(T, H', W', 3)` with
        `min_size <= min(H', W') <= max_size`.

    Example:

    >>> clip = tf.zeros((2, 240, 320, 3))
    >>> out = random_short_side_scale(clip, 256, 320, seed=[1, 2])
    >>> 256 <= int(out.shape[1]) <= 320
    True
    """
    size = tf.random.stateless_uniform(
        [], seed=seed, minval=min_size, maxval=max_size + 1, dtype=tf.int32
    )
    return short_side_scale(frames, size)


def crop(frames, top, left, size):
    """Cuts a `size` x `size` square at `(top, left)` from every frame.

    Args:
        frames: tensor of shape `(T, H, W, C)`.
        top: row offset.
        left: column offset.
        size: side of the square.

    Returns:
        A tensor of shape `(T, size, size, C)`.

    Example:

    >>> crop(tf.zeros((1, 8, 10, 3)), 1, 2, 4).shape
    TensorShape([1, 4, 4, 3])
    """
    out = frames[:, top : top + size, left : left + size, :]
    if isinstance(size, (int, np.integer)):
        out = tf.ensure_shape(out, [frames.shape[0], size, size, frames.shape[-1]])
    return out


def random_crop(frames, size, seed):
    """Crops a random `size` x `size` square, the same for all frames.

    Frames smaller than the crop are first upscaled (short side to `size`).

    Args:
        frames: tensor of shape `(T, H, W, 3)`.
        size: side of the square crop (224 in the paper).
        seed: shape-`(2,)` int tensor.

    Returns:
        A float32 tensor of shape `(T, size, size, 3)`.

    Example:

    >>> random_crop(tf.zeros((2, 256, 341, 3)), 224, seed=[0, 1]).shape
    TensorShape([2, 224, 224, 3])
    """
    frames = _ensure_min_side(frames, size)
    shape = tf.shape(frames)
    seed_top, seed_left = _split_seed(seed, 2)
    top = tf.random.stateless_uniform(
        [], seed=seed_top, minval=0, maxval=shape[1] - size + 1, dtype=tf.int32
    )
    left = tf.random.stateless_uniform(
        [], seed=seed_left, minval=0, maxval=shape[2] - size + 1, dtype=tf.int32
    )
    return crop(frames, top, left, size)


def three_crop_offsets(height, width, size):
    """Offsets `(top, left)` of the 3 test crops of a frame.

    The crops move along the long side: offset `k * ((long - size) // 2)` for
    `k = 0, 1, 2` (left/top, centre, right/bottom); along the short side they
    are centred. As in the official loader, the third crop touches the far
    edge only when `long - size` is even.

    Args:
        height: frame height, >= `size`.
        width: frame width, >= `size`.
        size: side of the square crop.

    Returns:
        A list of three `(top, left)` pairs.

    Example:

    >>> three_crop_offsets(256, 341, 256)
    [(0, 0), (0, 42), (0, 84)]
    """
    if height < size or width < size:
        raise ValueError(
            f"Frames of {height}x{width} are smaller than the crop size {size}."
        )
    top, left = (height - size) // 2, (width - size) // 2
    if top > 0:
        return [(k * top, left) for k in range(3)]
    return [(top, k * left) for k in range(3)]


def spatial_crop(frames, size, position):
    """One of the 3 test crops; position 1 is the centre crop.

    Frames smaller than the crop are first upscaled (short side to `size`).

    Args:
        frames: tensor of shape `(T, H, W, 3)`.
        size: side of the square crop (256 for fully-convolutional testing).
        position: 0, 1 or 2 (see `three_crop_offsets`); int or int tensor.

    Returns:
        A float32 tensor of shape `(T, size, size, 3)`.

    Example:

    >>> spatial_crop(tf.zeros((2, 256, 341, 3)), 256, 2).shape
    TensorShape([2, 256, 256, 3])
    """
    frames = _ensure_min_side(frames, size)
    shape = tf.shape(frames)
    top = (shape[1] - size) // 2
    left = (shape[2] - size) // 2
    position = tf.cast(position, tf.int32)
    along_height = top > 0
    top = tf.where(along_height, top * position, top)
    left = tf.where(along_height, left, left * position)
    return crop(frames, top, left, size)


def flip_left_right(frames):
    """Mirrors every frame horizontally.

    Args:
        frames: tensor of shape `(T, H, W, C)`.

    Returns:
        The mirrored tensor.

    Example:

    >>> flip_left_right(tf.constant([[[[1], [2], [3]]]]))[0, 0, :, 0].numpy()
    array([3, 2, 1], dtype=int32)
    """
    return tf.reverse(frames, axis=[-2])


def random_flip(frames, seed):
    """Mirrors the clip horizontally with probability 1/2.

    Args:
        frames: tensor of shape `(T, H, W, C)`.
        seed: shape-`(2,)` int tensor.

    Returns:
        The clip, mirrored or not.

    Example:

    >>> random_flip(tf.zeros((1, 4, 4, 3)), seed=[3, 4]).shape
    TensorShape([1, 4, 4, 3])
    """
    frames = tf.convert_to_tensor(frames)
    flip = tf.random.stateless_uniform([], seed=seed) < 0.5
    return tf.cond(flip, lambda: flip_left_right(frames), lambda: frames)


def normalize(frames):
    """Normalises RGB values in `[0, 255]` exactly as `preprocess_input`.

    Args:
        frames: NumPy array or tensor of any shape.

    Returns:
        float32 `(frames - 114.75) / 57.375` (a NumPy array for NumPy input).

    Example:

    >>> normalize(np.array([114.75]))
    array([0.], dtype=float32)
    """
    if isinstance(frames, np.ndarray):
        return preprocess_input(frames)
    # The same formula in TensorFlow ops, so it also runs inside tf.data
    # when Keras uses another backend.
    return (tf.cast(frames, tf.float32) - MEAN) / STD


def train_transform(
    frames,
    seed,
    crop_size=TRAIN_CROP_SIZE,
    scale_range=TRAIN_SCALE_RANGE,
    flip=True,
):
    """Training augmentation: scale jitter, random crop, flip, normalise.

    Args:
        frames: uint8 or float tensor of shape `(T, H, W, 3)`, RGB in
            `[0, 255]`.
        seed: shape-`(2,)` int tensor.
        crop_size: side of the square crop (224).
        scale_range: `(min_size, max_size)` of the short side (256, 320).
        flip: whether to mirror with probability 1/2.

    Returns:
        A float32 tensor of shape `(T, crop_size, crop_size, 3)`.

    Example:

    >>> clip = tf.zeros((8, 240, 320, 3), tf.uint8)
    >>> train_transform(clip, seed=[0, 0]).shape
    TensorShape([8, 224, 224, 3])
    """
    seed_scale, seed_crop, seed_flip = _split_seed(seed, 3)
    frames = random_short_side_scale(frames, scale_range[0], scale_range[1], seed_scale)
    frames = random_crop(frames, crop_size, seed_crop)
    if flip:
        frames = random_flip(frames, seed_flip)
    return normalize(frames)


def eval_crops(frames, crop_size=TEST_CROP_SIZE, scale=TEST_SCALE, num_crops=3):
    """Test views of one clip: short side to `scale`, then 1 or 3 crops.

    Args:
        frames: tensor of shape `(T, H, W, 3)`, RGB in `[0, 255]`.
        crop_size: side of the square crops (256 for fully-convolutional
            testing, 224 for a fixed-size model).
        scale: short side before cropping (256).
        num_crops: 3 (left/top, centre, right/bottom) or 1 (centre).

    Returns:
        A float32 tensor of shape `(num_crops, T, crop_size, crop_size, 3)`,
        normalised.

    Example:

    >>> eval_crops(tf.zeros((8, 240, 320, 3)), 256).shape
    TensorShape([3, 8, 256, 256, 3])
    """
    frames = short_side_scale(frames, scale)
    positions = (0, 1, 2) if num_crops == 3 else (1,)
    return normalize(tf.stack([spatial_crop(frames, crop_size, p) for p in positions]))
