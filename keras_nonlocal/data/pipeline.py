"""`tf.data` pipelines for training and multi-view evaluation.

Decoding runs in Python (PyAV, images, HDF5) through `tf.numpy_function`,
spread over `num_parallel_calls` threads; the spatial transforms are
TensorFlow ops. Unreadable videos are skipped with a `BadVideoWarning` and
counted in a `BadFileCounter`; once more than `max_bad` have been skipped the
pipeline stops with an error naming the files, so a broken dataset cannot
silently shrink.
"""

import contextlib
import threading
import warnings
import weakref

import numpy as np
import tensorflow as tf

from keras_nonlocal.data import decoding
from keras_nonlocal.data import sampling
from keras_nonlocal.data import sources
from keras_nonlocal.data import transforms

MAX_BAD = 100  # the official loader's DATALOADER.MAX_BAD_IMAGES


class BadVideoWarning(UserWarning):
    """Warns that a video could not be read and was skipped."""


class TooManyBadFilesError(RuntimeError):
    """Raised when more than `max_bad` videos could not be read.

    It is raised inside the dataset's decoding step, where TensorFlow turns
    it into a `tf.errors.UnknownError`; `evaluate_views`, `predict_video`'s
    callers and `keras_nonlocal.training.train` re-raise it as itself (see
    `reraise_pipeline_errors`), so `except TooManyBadFilesError` works.
    """


# Counters that raised TooManyBadFilesError, to find the original error
# behind TensorFlow's wrapping even from a dataset derived by `.map()` etc.
_RAISED = weakref.WeakSet()


class BadFileCounter:
    """Counts the videos a pipeline skipped because they could not be read.

    Thread-safe: decoding runs on several threads at once.

    Args:
        max_bad: how many unreadable videos are tolerated; one more raises
            `TooManyBadFilesError`. None tolerates any number.

    Example:

    >>> counter = BadFileCounter(max_bad=10)
    >>> ds = train_dataset("train.csv", bad_files=counter)  # doctest: +SKIP
    >>> counter.count, counter.paths  # doctest: +SKIP
    (0, [])
    """

    def __init__(self, max_bad=MAX_BAD):
        if max_bad is not None and (not isinstance(max_bad, int) or max_bad < 0):
            raise ValueError(
                f"`max_bad` must be None or an int >= 0. Received: max_bad={max_bad!r}"
            )
        self.max_bad = max_bad
        self.paths = []
        self.errors = []
        self.raised = []  # the TooManyBadFilesErrors raised, latest last
        self._lock = threading.Lock()

    @property
    def count(self):
        """Number of videos skipped so far."""
        return len(self.paths)

    def record(self, path, error):
        """Counts one unreadable video, warns, and enforces `max_bad`.

        Args:
            path: the video's path.
            error: the exception raised while reading it.

        Raises:
            TooManyBadFilesError: when the count exceeds `max_bad`.
        """
        with self._lock:
            self.paths.append(path)
            self.errors.append(f"{type(error).__name__}: {error}")
            count = len(self.paths)
        warnings.warn(
            f"Skipping unreadable video {path} ({count} skipped so far): {error}",
            BadVideoWarning,
            stacklevel=2,
        )
        if self.max_bad is not None and count > self.max_bad:
            shown = ", ".join(self.paths[:5]) + (" ..." if count > 5 else "")
            error = TooManyBadFilesError(
                f"{count} videos could not be read, more than max_bad="
                f"{self.max_bad}: {shown}. Fix or remove them, or raise `max_bad`."
            )
            with self._lock:
                self.raised = self.raised[-9:] + [error]
            _RAISED.add(self)
            raise error


def _original_error(op_error, datasets):
    """The TooManyBadFilesError behind a TensorFlow error, or None."""
    counters = [getattr(ds, "bad_files", None) for ds in datasets]
    counters = [c for c in counters if isinstance(c, BadFileCounter)]
    message = getattr(op_error, "message", str(op_error))
    for counter in counters + list(_RAISED):
        for error in reversed(counter.raised):
            if str(error) in message:
                return error
    return None


@contextlib.contextmanager
def reraise_pipeline_errors(*datasets):
    """Re-raises a pipeline's `TooManyBadFilesError` as itself.

    The decoding step of `train_dataset` / `eval_dataset` runs in Python
    inside TensorFlow, which wraps what it raises in a `tf.errors.OpError`.
    Around code that iterates such a dataset (a loop, `model.fit`), this
    turns the wrapped error back into the `TooManyBadFilesError` raised (the
    TensorFlow error is kept as its `__cause__`); other errors pass
    unchanged.

    Args:
        *datasets: the datasets iterated (their `bad_files` counters are
            checked first); any dataset derived from them works as well.

    Example:

    >>> ds = train_dataset("train.csv", max_bad=10)  # doctest: +SKIP
    >>> with reraise_pipeline_errors(ds):  # doctest: +SKIP
    ...     for clips, labels in ds:
    ...         pass
    """
    try:
        yield
    except tf.errors.OpError as e:
        error = _original_error(e, datasets)
        if error is None:
            raise
        raise type(error)(*error.args) from e


def _check_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an int. Received: {name}={value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}. Received: {name}={value!r}")
    return int(value)


def _check_common(num_frames, stride, crop_size, short_video, num_parallel_calls):
    _check_int("num_frames", num_frames)
    _check_int("stride", stride)
    _check_int("crop_size", crop_size)
    if short_video not in sampling.SHORT_VIDEO_POLICIES:
        raise ValueError(
            f"`short_video` must be one of {sampling.SHORT_VIDEO_POLICIES}. "
            f"Received: short_video={short_video!r}"
        )
    if num_parallel_calls not in (None, tf.data.AUTOTUNE):
        _check_int("num_parallel_calls", num_parallel_calls)


def _video_list(source):
    videos = sources.as_video_list(source)
    if not len(videos):
        raise ValueError(f"`source` holds no video. Received: source={source!r}")
    return videos


def _counter(bad_files, max_bad):
    if bad_files is None:
        return BadFileCounter(max_bad)
    if not isinstance(bad_files, BadFileCounter):
        raise TypeError(
            f"`bad_files` must be a BadFileCounter. Received: {bad_files!r}"
        )
    return bad_files


def _rng(seed):
    return np.random.default_rng(np.asarray(seed, dtype=np.int64).view(np.uint64))


def _reader(counter, empty_shape, sampler):
    """Wraps `read_frames` so that failures are counted instead of raised."""

    def read(path, seed):
        path = path.decode("utf-8") if isinstance(path, bytes) else str(path)
        try:
            frames = decoding.read_frames(path, lambda n: sampler(n, seed))
            return frames.astype(np.uint8, copy=False), np.bool_(True)
        except ImportError:
            raise  # a missing decoder is a setup problem, not a bad video
        except Exception as e:
            counter.record(path, e)
            return np.zeros(empty_shape, np.uint8), np.bool_(False)

    return read


def _finish(ds, batch_size, drop_remainder, prefetch):
    if batch_size is not None:
        ds = ds.batch(_check_int("batch_size", batch_size), drop_remainder=drop_remainder)
    if prefetch:
        ds = ds.prefetch(prefetch)
    return ds


def train_dataset(
    source,
    num_frames=32,
    stride=2,
    crop_size=transforms.TRAIN_CROP_SIZE,
    scale_range=transforms.TRAIN_SCALE_RANGE,
    batch_size=None,
    shuffle=True,
    seed=None,
    flip=True,
    short_video="loop",
    num_parallel_calls=tf.data.AUTOTUNE,
    prefetch=tf.data.AUTOTUNE,
    deterministic=None,
    max_bad=MAX_BAD,
    bad_files=None,
):
    """Training clips: random position, scale jitter, random crop and flip.

    Each video gives one clip per epoch: `num_frames` frames every `stride`
    frames from a random start (32x2, 8x8 and 128x1 in the paper), the short
    side resized to a random size in `scale_range`, a random
    `crop_size` square, a horizontal flip with probability 1/2, and
    `preprocess_input` normalisation. Videos shorter than
    `num_frames * stride` are looped (`short_video="loop"`, as the official
    loader) or padded with their last frame (`"pad"`).

    Args:
        source: videos and labels: a `VideoList`, a `path,label` list file,
            a folder of class folders, or a list of `(path, label)` pairs
            (see `sources.as_video_list`).
        num_frames: clip length T.
        stride: temporal stride S.
        crop_size: side of the square crop (224). Frames smaller than it
            are upscaled first.
        scale_range: `(min, max)` short side for scale jitter ((256, 320)).
        batch_size: batch the clips (remainder dropped), or None.
        shuffle: shuffle the videos, anew each epoch.
        seed: int seed for shuffling, clip positions, crops and flips; None
            draws a fresh one.
        flip: random horizontal flips.
        short_video: `"loop"` or `"pad"`.
        num_parallel_calls: decoding threads (`tf.data.AUTOTUNE` by default).
        prefetch: elements to prefetch (`tf.data.AUTOTUNE`); 0 or None
            disables prefetching.
        deterministic: passed to `Dataset.map`; None keeps tf.data's default.
        max_bad: unreadable videos tolerated before failing (None: any).
        bad_files: a `BadFileCounter` to count into; by default a new one,
            also reachable as the dataset's `bad_files` attribute.

    Returns:
        A `tf.data.Dataset` of `(clip, label)`: clip float32
        `(T, crop_size, crop_size, 3)` (batched when `batch_size` is set),
        label int32.

    Example:

    >>> ds = train_dataset("train.csv", num_frames=8, stride=8, batch_size=8)  # doctest: +SKIP
    >>> model.fit(ds.repeat(), steps_per_epoch=1000)  # doctest: +SKIP
    """
    _check_common(num_frames, stride, crop_size, short_video, num_parallel_calls)
    try:
        low, high = (int(v) for v in scale_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"`scale_range` must be a pair (min, max). Received: {scale_range!r}"
        ) from None
    if not 1 <= low <= high:
        raise ValueError(
            "`scale_range` must satisfy 1 <= min <= max. "
            f"Received: scale_range={scale_range!r}"
        )
    videos = _video_list(source)
    counter = _counter(bad_files, max_bad)

    def sampler(n, element_seed):
        return sampling.train_clip_indices(
            n, num_frames, stride, _rng(element_seed), short_video
        )

    read = _reader(counter, (num_frames, 1, 1, 3), sampler)

    def decode(path, label, element_seed):
        frames, ok = tf.numpy_function(
            read, [path, element_seed], [tf.uint8, tf.bool], stateful=True
        )
        frames.set_shape([num_frames, None, None, 3])
        ok.set_shape([])
        return frames, label, element_seed, ok

    def augment(frames, label, element_seed, ok):
        del ok
        spatial_seed = tf.random.experimental.stateless_fold_in(element_seed, 1)
        clip = transforms.train_transform(
            frames, spatial_seed, crop_size, (low, high), flip
        )
        return clip, label

    ds = tf.data.Dataset.from_tensor_slices(
        (videos.paths, tf.constant(videos.labels, tf.int32))
    )
    if shuffle:
        ds = ds.shuffle(len(videos), seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    ds = tf.data.Dataset.zip(ds, seeds).map(
        lambda item, s: (item[0], item[1], s),
    )
    ds = ds.map(decode, num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    ds = ds.filter(lambda frames, label, s, ok: ok)
    ds = ds.map(augment, num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    ds = _finish(ds, batch_size, True, prefetch)
    ds.bad_files = counter
    return ds


def eval_dataset(
    source,
    num_frames=32,
    stride=2,
    views="10x3",
    crop_size=transforms.TEST_CROP_SIZE,
    scale=transforms.TEST_SCALE,
    batch_size=None,
    short_video="loop",
    num_parallel_calls=tf.data.AUTOTUNE,
    prefetch=tf.data.AUTOTUNE,
    max_bad=MAX_BAD,
    bad_files=None,
):
    """Test views: uniformly spaced clips x spatial crops of every video.

    With `views="10x3"` (the paper's protocol) each video gives 30 views:
    10 clips whose starts split the video evenly (clip `k` starts at
    `floor(n * k / 10)`), each resized to short side `scale` (256) and cut
    into 3 squares of `crop_size` (256, for a fully-convolutional model)
    along the long side. Views come video by video, clip by clip, crop by
    crop; average their softmax scores per video with
    `multiview.average_view_scores`. Frames past the end of a video are
    looped (`short_video="loop"`) or padded with the last frame (`"pad"`).

    Args:
        source: videos and labels (see `train_dataset`).
        num_frames: clip length T.
        stride: temporal stride S.
        views: `"<clips>x<crops>"` with 1 or 3 crops, or a pair.
        crop_size: side of the square crops.
        scale: short side before cropping.
        batch_size: batch the views (the last batch may be smaller), or None.
        short_video: `"loop"` or `"pad"`.
        num_parallel_calls: decoding threads.
        prefetch: elements to prefetch; 0 or None disables it.
        max_bad: unreadable videos tolerated before failing (None: any).
        bad_files: a `BadFileCounter`; by default a new one, reachable as
            the dataset's `bad_files` attribute.

    Returns:
        A `tf.data.Dataset` of `(view, label, video_index)`: view float32
        `(T, crop_size, crop_size, 3)`, label int32, and the int32 index of
        the video in `source` (skipped videos leave gaps).

    Example:

    >>> ds = eval_dataset("val.csv", num_frames=8, stride=8, batch_size=30)  # doctest: +SKIP
    """
    _check_common(num_frames, stride, crop_size, short_video, num_parallel_calls)
    _check_int("scale", scale)
    num_clips, num_crops = sampling.parse_views(views)
    videos = _video_list(source)
    counter = _counter(bad_files, max_bad)

    def sampler(n, unused_seed):
        return sampling.eval_clip_indices(n, num_frames, stride, num_clips, short_video)

    read = _reader(counter, (num_clips, num_frames, 1, 1, 3), sampler)

    def decode(path, label, index):
        frames, ok = tf.numpy_function(
            read, [path, tf.zeros([2], tf.int64)], [tf.uint8, tf.bool], stateful=True
        )
        frames.set_shape([num_clips, num_frames, None, None, 3])
        ok.set_shape([])
        return frames, label, index, ok

    def per_clip(frames, label, index, ok):
        del ok
        return frames, tf.fill([num_clips], label), tf.fill([num_clips], index)

    def crops(clip, label, index):
        views_ = transforms.eval_crops(clip, crop_size, scale, num_crops)
        return views_, tf.fill([num_crops], label), tf.fill([num_crops], index)

    ds = tf.data.Dataset.from_tensor_slices(
        (
            videos.paths,
            tf.constant(videos.labels, tf.int32),
            tf.range(len(videos), dtype=tf.int32),
        )
    )
    ds = ds.map(decode, num_parallel_calls=num_parallel_calls, deterministic=True)
    ds = ds.filter(lambda frames, label, index, ok: ok)
    ds = ds.map(per_clip).unbatch()
    ds = ds.map(crops, num_parallel_calls=num_parallel_calls, deterministic=True)
    ds = ds.unbatch()
    ds = _finish(ds, batch_size, False, prefetch)
    ds.bad_files = counter
    return ds
