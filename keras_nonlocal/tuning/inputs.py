"""What a search trains on: the built-in digits, or videos from a list file."""

import dataclasses
import os

import numpy as np


@dataclasses.dataclass
class TuningData:
    """Training and validation data of a search, with what the model needs.

    Args:
        fit_args: positional arguments of `model.fit` (arrays or a
            `tf.data.Dataset`).
        fit_kwargs: keyword arguments of `model.fit` (`validation_data`,
            `batch_size`, ...).
        input_shape: clip shape `(frames, height, width, 3)`.
        num_classes: number of classes.
        description: a JSON-friendly dict saying where the data came from
            (recorded with the search, checked when it resumes).

    Example:

    >>> data = builtin_data(num_train=8, num_val=4)
    >>> data.input_shape, data.num_classes
    ((4, 32, 32, 3), 2)
    """

    fit_args: tuple
    fit_kwargs: dict
    input_shape: tuple
    num_classes: int
    description: dict


def builtin_data(num_train=1024, num_val=512, seed=0, batch_size=32, **kwargs):
    """The built-in long-range digits (`long_range_digits.load_data`).

    Args:
        num_train: training clips.
        num_val: validation clips.
        seed: generation seed.
        batch_size: batch size of `model.fit`.
        **kwargs: further `long_range_digits.load_data` arguments
            (`frames`, `size`, `digit_size`, `digits`, `val_fraction`).

    Returns:
        A `TuningData`.
    """
    from keras_nonlocal.tuning import long_range_digits

    (x, y), (x_val, y_val) = long_range_digits.load_data(
        num_train=num_train, num_val=num_val, seed=seed, **kwargs
    )
    description = dict(
        kind="builtin:long_range_digits", num_train=num_train, num_val=num_val, seed=seed,
        **{k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
    )
    return TuningData(
        fit_args=(x, y),
        fit_kwargs=dict(validation_data=(x_val, y_val), batch_size=batch_size, shuffle=True),
        input_shape=tuple(x.shape[1:]),
        num_classes=2,
        description=description,
    )


def _split(videos, val_fraction, seed):
    from keras_nonlocal.data import VideoList

    order = np.random.default_rng(seed).permutation(len(videos))
    num_val = max(1, int(round(len(videos) * val_fraction)))
    if num_val >= len(videos):
        raise ValueError(
            f"Cannot split {len(videos)} video(s) into training and validation with "
            f"val_fraction={val_fraction}; give a separate validation list (--val-data)."
        )

    def subset(indices):
        return VideoList(
            [videos.paths[i] for i in indices], [videos.labels[i] for i in indices], videos.class_names
        )

    return subset(order[num_val:]), subset(order[:num_val])


def video_data(
    train_list,
    val_list=None,
    val_fraction=0.2,
    frames=8,
    stride=8,
    crop_size=112,
    batch_size=8,
    seed=0,
):
    """Videos from `path,label` list files through `keras_nonlocal.data`.

    Training clips use `keras_nonlocal.data.train_dataset` (random clip,
    scale jitter, crop, flip); validation uses one centre clip and crop per
    video (`eval_dataset` with `views="1x1"`, short side resized to
    `crop_size`).

    Args:
        train_list: list file of training videos (`path,label` lines, see
            `keras_nonlocal.data.from_list_file`).
        val_list: list file of validation videos; `None` holds out
            `val_fraction` of `train_list` (seeded).
        val_fraction: held-out fraction when `val_list` is `None`.
        frames: clip length T.
        stride: temporal stride between sampled frames.
        crop_size: side of the square crops.
        batch_size: clips per batch.
        seed: seed of the split and of the training augmentation.

    Returns:
        A `TuningData`.

    Example:

    >>> data = video_data("train.csv", "val.csv", frames=8, crop_size=112)  # doctest: +SKIP
    """
    for name, path in (("--data", train_list), ("--val-data", val_list)):
        if path is not None and not os.path.isfile(path):
            raise FileNotFoundError(f"{name}: no such list file: {path!r}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"`val_fraction` must be in (0, 1). Received: val_fraction={val_fraction!r}")
    try:
        from keras_nonlocal import data
    except ImportError as error:
        raise ImportError(
            "Tuning on videos needs the video input pipeline `keras_nonlocal.data`, "
            f"which could not be imported ({error}). Install the video extra: "
            "`pip install keras-nonlocal[video]`."
        ) from error

    train_videos = data.from_list_file(train_list)
    if val_list is None:
        train_videos, val_videos = _split(train_videos, val_fraction, seed)
    else:
        val_videos = data.from_list_file(val_list, class_names=train_videos.class_names)
    num_classes = max(train_videos.num_classes, val_videos.num_classes)
    if num_classes < 2:
        raise ValueError(f"{train_list!r} has fewer than 2 classes; a classifier needs at least 2.")
    train = data.train_dataset(
        train_videos, num_frames=frames, stride=stride, crop_size=crop_size,
        scale_range=(crop_size, int(crop_size * 1.25)), batch_size=batch_size, seed=seed,
    )
    val = data.eval_dataset(
        val_videos, num_frames=frames, stride=stride, views="1x1", crop_size=crop_size,
        scale=crop_size, batch_size=batch_size,
    ).map(lambda view, label, index: (view, label))
    description = dict(
        kind="videos", train_list=os.path.abspath(train_list),
        val_list=None if val_list is None else os.path.abspath(val_list),
        val_fraction=None if val_list else val_fraction, frames=frames, stride=stride,
        crop_size=crop_size, seed=seed,
    )
    return TuningData(
        fit_args=(train,),
        fit_kwargs=dict(validation_data=val),
        input_shape=(frames, crop_size, crop_size, 3),
        num_classes=num_classes,
        description=description,
    )
