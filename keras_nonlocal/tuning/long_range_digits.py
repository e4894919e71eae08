"""The built-in long-range task: are two far-apart handwritten digits the same?

Each sample is a short clip (`frames` × `size` × `size` × 3, values in [0, 1])
that is black except for two handwritten digits from scikit-learn's
`load_digits` (the UCI 8×8 digits, shipped inside the scikit-learn wheel, no
download), upscaled bilinearly to `digit_size` × `digit_size`:

- the first digit sits in one frame of the first half of the clip, the second
  in one frame of the second half;
- the first digit sits in a random quadrant (filling it at the default
  `digit_size=16`; smaller digits are placed at a random offset inside it),
  the second in the diagonally opposite quadrant: the two are far apart in
  space *and* time;
- the label is 1 when both digits are of the same class, 0 otherwise. Exactly
  half of the clips are "same"; a "different" pair is uniform over ordered
  pairs of distinct classes, so each digit on its own says nothing about the
  label.

Why a backbone without non-local blocks cannot solve it: a C2D network
processes frames independently, so no feature ever sees both digits, and its
head (global average pooling, then one linear layer) adds the two digits'
contributions: the logit is `g(a) + g(b)`. "Same class" is not additive
(`2 g(a) > t` and `2 g(b) > t` imply `g(a) + g(b) > t`), so such a model stays
at chance (50 %). One non-local block (spacetime attention) lets the features
at one digit see the other, and the following layers can compare them.

Splits: the digit images of the chosen classes are split per class (a seeded
permutation, `val_fraction` of each class to validation), so validation clips
use handwriting never seen in training. Three independent generators are spawned from
`numpy.random.SeedSequence(seed)` (the split, the training clips, the
validation clips), so the same arguments give the same arrays and changing
`num_train` does not change the validation set.
"""

import dataclasses

import numpy as np

DEFAULT_DIGITS = (0, 1)


@dataclasses.dataclass(frozen=True)
class ClipLayout:
    """Where the two digits of one clip are (returned with `return_layout`).

    Args:
        frames: `(t1, t2)`, the frames of the first and second digit.
        corners: `((row1, col1), (row2, col2))`, their top-left pixels.
        classes: `(a, b)`, their digit classes.
        images: `(i, j)`, their indices in `sklearn.datasets.load_digits()`.
    """

    frames: tuple
    corners: tuple
    classes: tuple
    images: tuple


def _check(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")


def _upscale(images, digit_size):
    """Bilinear upscaling of `(N, 8, 8)` images in [0, 1] (pixel centres aligned)."""
    size = images.shape[-1]
    coords = (np.arange(digit_size) + 0.5) * size / digit_size - 0.5
    coords = np.clip(coords, 0, size - 1)
    low = np.floor(coords).astype(int)
    high = np.minimum(low + 1, size - 1)
    frac = (coords - low).astype("float32")
    rows = images[:, low, :] * (1 - frac)[None, :, None] + images[:, high, :] * frac[None, :, None]
    return rows[:, :, low] * (1 - frac) + rows[:, :, high] * frac


def _split_pools(targets, digits, val_fraction, rng):
    train, val = {}, {}
    for digit in digits:
        indices = rng.permutation(np.flatnonzero(targets == digit))
        num_val = max(1, int(round(len(indices) * val_fraction)))
        val[digit], train[digit] = indices[:num_val], indices[num_val:]
    return train, val


def _make_clips(num, pools, images, digits, frames, size, digit_size, rng):
    x = np.zeros((num, frames, size, size, 3), dtype="float32")
    labels = np.zeros(num, dtype="int32")
    labels[: num // 2] = 1
    labels = rng.permutation(labels)
    half = size // 2
    jitter = half - digit_size + 1
    layouts = []
    for i, same in enumerate(labels):
        a = rng.integers(len(digits))
        b = a if same else (a + rng.integers(1, len(digits))) % len(digits)
        classes = (digits[a], digits[b])
        picks = tuple(int(rng.choice(pools[c])) for c in classes)
        t1 = int(rng.integers(0, frames // 2))
        t2 = int(rng.integers(frames // 2, frames))
        quadrant = int(rng.integers(4))
        corners = []
        for q in (quadrant, 3 - quadrant):  # 3 - q is the opposite quadrant
            corners.append(
                ((q // 2) * half + int(rng.integers(jitter)), (q % 2) * half + int(rng.integers(jitter)))
            )
        for t, (row, col), image in zip((t1, t2), corners, picks):
            x[i, t, row : row + digit_size, col : col + digit_size, :] = images[image][..., None]
        layouts.append(ClipLayout((t1, t2), tuple(corners), classes, picks))
    return x, labels, layouts


def load_data(
    num_train=1024,
    num_val=512,
    frames=4,
    size=32,
    digit_size=16,
    digits=DEFAULT_DIGITS,
    val_fraction=0.3,
    seed=0,
    return_layout=False,
):
    """Generates the long-range "same digit?" clips, seeded and split.

    Args:
        num_train: number of training clips.
        num_val: number of validation clips.
        frames: frames per clip (even, >= 2): the first digit appears in
            the first half, the second in the second half.
        size: frame height and width (>= 32, the backbones' minimum).
        digit_size: side of an upscaled digit; at most `size // 2`, so each
            digit stays inside its quadrant (default 16: a digit fills its
            quadrant of a 32 × 32 frame, which the tiny backbone learns from
            fastest).
        digits: the digit classes used (at least 2 distinct values in 0..9).
            With the default `(0, 1)` "same" is the XOR of two easy
            features; more classes make the task harder.
        val_fraction: fraction of each class's images kept for validation.
        seed: seed of every random choice.
        return_layout: also return, per split, the list of `ClipLayout`s.

    Returns:
        `(x_train, y_train), (x_val, y_val)` like `keras.datasets`: clips
        float32 `(N, frames, size, size, 3)` in [0, 1], labels int32 (1 =
        same class). With `return_layout=True`, each split is a triple
        `(x, y, layouts)`.

    Example:

    >>> (x, y), (x_val, y_val) = load_data(num_train=8, num_val=4)
    >>> x.shape, y.dtype.name, int(y.sum())
    ((8, 4, 32, 32, 3), 'int32', 4)
    """
    _check("num_train", num_train, 1)
    _check("num_val", num_val, 1)
    _check("frames", frames, 2)
    if frames % 2:
        raise ValueError(f"`frames` must be even (the digits go in different halves). Received: frames={frames}")
    _check("size", size, 32)
    _check("digit_size", digit_size, 8)
    if digit_size > size // 2:
        raise ValueError(
            f"`digit_size` must be at most size // 2 = {size // 2}. Received: digit_size={digit_size}"
        )
    digits = tuple(digits)
    if len(set(digits)) != len(digits) or len(digits) < 2 or not all(
        isinstance(d, (int, np.integer)) and 0 <= d <= 9 for d in digits
    ):
        raise ValueError(
            f"`digits` must be at least 2 distinct integers in 0..9. Received: digits={digits!r}"
        )
    if not 0 < val_fraction < 1:
        raise ValueError(f"`val_fraction` must be in (0, 1). Received: val_fraction={val_fraction!r}")

    try:
        from sklearn.datasets import load_digits
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "The built-in tuning data needs scikit-learn (`pip install keras-nonlocal[tune]`)."
        ) from error

    source = load_digits()
    images = _upscale(source.images.astype("float32") / 16.0, digit_size)
    # Independent streams: the split and each set do not move when another
    # set's size changes.
    split_rng, train_rng, val_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    train_pools, val_pools = _split_pools(source.target, digits, val_fraction, split_rng)
    train = _make_clips(num_train, train_pools, images, digits, frames, size, digit_size, train_rng)
    val = _make_clips(num_val, val_pools, images, digits, frames, size, digit_size, val_rng)
    if return_layout:
        return train, val
    return train[:2], val[:2]
