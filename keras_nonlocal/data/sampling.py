"""Which frames make a clip: the temporal sampling of the official loader.

Pure NumPy, no decoding: every function maps a frame count to frame indices,
so the rules can be tested exactly and reused by any decoder.

Facts followed (official `video-nonlocal-net`, `DecodeClipFromVideoFileFlex`):

- a clip is `num_frames` frames taken every `stride` frames from `start`;
- training draws `start` uniformly from `[0, n - num_frames * stride]`
  (both ends included), or uses 0 when the video is shorter than that span;
- testing places clip `k` of `num_clips` at `floor(n * k / num_clips)`;
- an index past the last frame wraps around to the beginning (the video is
  looped), which also covers videos shorter than `num_frames * stride`.
"""

import re

import numpy as np

SHORT_VIDEO_POLICIES = ("loop", "pad")

_VIEWS_PATTERN = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an int >= 1. Received: {name}={value!r}")
    if value < 1:
        raise ValueError(f"`{name}` must be >= 1. Received: {name}={value!r}")
    return int(value)


def _check_policy(short_video):
    if short_video not in SHORT_VIDEO_POLICIES:
        raise ValueError(
            f"`short_video` must be one of {SHORT_VIDEO_POLICIES}. "
            f"Received: short_video={short_video!r}"
        )


def parse_views(views):
    """Parses a multi-view test setting such as `"10x3"`.

    Args:
        views: a string `"<clips>x<crops>"` (e.g. `"10x3"`), or a pair of
            ints `(clips, crops)`. `crops` must be 1 or 3.

    Returns:
        A tuple `(num_clips, num_crops)` of ints.

    Example:

    >>> parse_views("10x3")
    (10, 3)
    >>> parse_views((1, 1))
    (1, 1)
    """
    if isinstance(views, str):
        match = _VIEWS_PATTERN.match(views)
        if match is None:
            raise ValueError(
                "`views` must look like '<clips>x<crops>', e.g. '10x3'. "
                f"Received: views={views!r}"
            )
        clips, crops = int(match.group(1)), int(match.group(2))
    else:
        try:
            clips, crops = (int(v) for v in views)
        except (TypeError, ValueError):
            raise ValueError(
                "`views` must be a string like '10x3' or a pair (clips, crops). "
                f"Received: views={views!r}"
            ) from None
    if clips < 1:
        raise ValueError(f"`views` needs at least 1 clip. Received: views={views!r}")
    if crops not in (1, 3):
        raise ValueError(
            f"`views` takes 1 (centre) or 3 (left/centre/right) crops. "
            f"Received: views={views!r}"
        )
    return clips, crops


def clip_indices(num_video_frames, num_frames, stride, start, short_video="loop"):
    """Frame indices of one clip of `num_frames` frames every `stride` frames.

    Indices past the end of the video follow `short_video`: `"loop"` wraps
    them around to the beginning (index modulo the video length), as the
    official loader does; `"pad"` repeats the last frame instead.

    Args:
        num_video_frames: number of decoded frames in the video, >= 1.
        num_frames: clip length T, >= 1.
        stride: temporal stride S between sampled frames, >= 1.
        start: index of the first frame, >= 0. With `"loop"` a start past the
            end wraps around as well.
        short_video: `"loop"` (default) or `"pad"`.

    Returns:
        An int64 array of shape `(num_frames,)`.

    Example:

    >>> clip_indices(10, num_frames=4, stride=2, start=1)
    array([1, 3, 5, 7])
    >>> clip_indices(5, num_frames=4, stride=2, start=0)
    array([0, 2, 4, 1])
    >>> clip_indices(5, num_frames=4, stride=2, start=0, short_video="pad")
    array([0, 2, 4, 4])
    """
    n = _check_positive_int("num_video_frames", num_video_frames)
    num_frames = _check_positive_int("num_frames", num_frames)
    stride = _check_positive_int("stride", stride)
    _check_policy(short_video)
    if start < 0:
        raise ValueError(f"`start` must be >= 0. Received: start={start!r}")
    indices = int(start) + stride * np.arange(num_frames, dtype="int64")
    if short_video == "loop":
        return indices % n
    return np.minimum(indices, n - 1)


def max_train_start(num_video_frames, num_frames, stride):
    """Largest start the training sampler may draw (0 for short videos).

    Args:
        num_video_frames: number of frames in the video.
        num_frames: clip length T.
        stride: temporal stride S.

    Returns:
        `max(0, num_video_frames - num_frames * stride)`.

    Example:

    >>> max_train_start(300, 32, 2)
    236
    >>> max_train_start(40, 32, 2)
    0
    """
    return max(0, int(num_video_frames) - int(num_frames) * int(stride))


def train_clip_indices(
    num_video_frames, num_frames, stride, rng=None, short_video="loop"
):
    """Frame indices of one training clip at a random position.

    The start is drawn uniformly from `[0, max_train_start(...)]`, both ends
    included, like the official loader's temporal jitter.

    Args:
        num_video_frames: number of decoded frames in the video, >= 1.
        num_frames: clip length T (32 for 32x2, 8 for 8x8, 128 for 128x1).
        stride: temporal stride S (2, 8 or 1 for the settings above).
        rng: a `numpy.random.Generator`, an int seed, or None.
        short_video: `"loop"` (default) or `"pad"`; see `clip_indices`.

    Returns:
        An int64 array of shape `(num_frames,)`.

    Example:

    >>> idx = train_clip_indices(300, num_frames=32, stride=2, rng=0)
    >>> idx.shape, int(idx[1] - idx[0])
    ((32,), 2)
    """
    rng = np.random.default_rng(rng)
    high = max_train_start(num_video_frames, num_frames, stride)
    start = int(rng.integers(0, high, endpoint=True))
    return clip_indices(num_video_frames, num_frames, stride, start, short_video)


def eval_clip_starts(num_video_frames, num_clips):
    """Starts of `num_clips` test clips spread uniformly along the video.

    Clip `k` starts at `floor(num_video_frames * k / num_clips)`, as in the
    official test loader: the clips tile the whole video, so the last ones
    may run past its end and wrap around (see `clip_indices`).

    Args:
        num_video_frames: number of frames in the video, >= 1.
        num_clips: number of clips, >= 1 (10 in the paper).

    Returns:
        An int64 array of shape `(num_clips,)`.

    Example:

    >>> eval_clip_starts(300, 10)
    array([  0,  30,  60,  90, 120, 150, 180, 210, 240, 270])
    """
    n = _check_positive_int("num_video_frames", num_video_frames)
    num_clips = _check_positive_int("num_clips", num_clips)
    # Integer arithmetic: the exact value of the official float formula.
    return (n * np.arange(num_clips, dtype="int64")) // num_clips


def eval_clip_indices(
    num_video_frames, num_frames, stride, num_clips=10, short_video="loop"
):
    """Frame indices of the uniformly spaced test clips of one video.

    Args:
        num_video_frames: number of decoded frames in the video, >= 1.
        num_frames: clip length T.
        stride: temporal stride S.
        num_clips: number of clips along time (10 in the paper).
        short_video: `"loop"` (default) or `"pad"`; see `clip_indices`.

    Returns:
        An int64 array of shape `(num_clips, num_frames)`.

    Example:

    >>> eval_clip_indices(20, num_frames=3, stride=2, num_clips=2)
    array([[ 0,  2,  4],
           [10, 12, 14]])
    """
    starts = eval_clip_starts(num_video_frames, num_clips)
    return np.stack(
        [
            clip_indices(num_video_frames, num_frames, stride, s, short_video)
            for s in starts
        ]
    )
