"""Multi-view testing: one prediction per video from many clips and crops.

The paper's protocol scores 10 clips x 3 crops per video and averages the
softmax scores of the 30 views (official `test_net_video.py`). A model that
ends in a softmax is scored as it is; pass `from_logits=True` for one that
outputs logits, and each view gets its own softmax before averaging.
"""

import numpy as np

from keras_nonlocal.data import decoding
from keras_nonlocal.data import pipeline
from keras_nonlocal.data import sampling
from keras_nonlocal.data import transforms

# Strides of the paper's clip settings (32x2, 8x8, 128x1), by clip length.
DEFAULT_STRIDES = {32: 2, 8: 8, 128: 1}


def _softmax(x):
    x = np.asarray(x, dtype="float64")
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def average_view_scores(scores, video_index=None, from_logits=False):
    """Averages per-view class scores into one score vector per video.

    Args:
        scores: array `(num_views, num_classes)` of softmax scores (or logits
            with `from_logits=True`).
        video_index: int array `(num_views,)` saying which video each view
            belongs to (as yielded by `eval_dataset`); None means all views
            come from one video.
        from_logits: apply a softmax to each view before averaging.

    Returns:
        With `video_index`: a pair `(videos, mean_scores)`, the sorted
        distinct video indices and float32 `(num_videos, num_classes)`
        averages. Without: the float32 `(num_classes,)` average.

    Example:

    >>> average_view_scores(np.array([[0.2, 0.8], [0.6, 0.4]]))
    array([0.4, 0.6], dtype=float32)
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(
            "`scores` must have shape (num_views, num_classes). "
            f"Received shape: {scores.shape}"
        )
    scores = _softmax(scores) if from_logits else scores.astype("float64")
    if video_index is None:
        return scores.mean(axis=0).astype("float32")
    video_index = np.asarray(video_index).reshape(-1)
    if video_index.shape[0] != scores.shape[0]:
        raise ValueError(
            f"`video_index` has {video_index.shape[0]} entries for "
            f"{scores.shape[0]} views."
        )
    videos, inverse = np.unique(video_index, return_inverse=True)
    sums = np.zeros((len(videos), scores.shape[1]), "float64")
    np.add.at(sums, inverse, scores)
    counts = np.bincount(inverse, minlength=len(videos))[:, None]
    return videos, (sums / counts).astype("float32")


def evaluate_views(model, dataset, from_logits=False, verbose=0):
    """Runs a model over `eval_dataset` views and scores every video.

    Args:
        model: a Keras model mapping clips to class scores.
        dataset: a dataset from `eval_dataset` (batched or not).
        from_logits: whether the model outputs logits.
        verbose: passed to `model.predict`.

    Returns:
        A dict with `video_index` (videos scored), `scores` (averaged,
        `(num_videos, num_classes)`), `labels`, and `top1` / `top5`
        accuracies over videos with a known label (NaN when none).

    Raises:
        TooManyBadFilesError: when the dataset met more unreadable videos
            than its `max_bad` (as itself, not wrapped by TensorFlow).

    Example:

    >>> ds = eval_dataset("val.csv", num_frames=8, stride=8, batch_size=30)  # doctest: +SKIP
    >>> evaluate_views(model, ds)["top1"]  # doctest: +SKIP
    """
    batched = dataset.element_spec[0].shape.rank == 5
    ds = dataset if batched else dataset.batch(30)
    scores, labels, indices = [], [], []
    with pipeline.reraise_pipeline_errors(dataset):
        for views, label, index in ds:
            scores.append(np.asarray(model.predict_on_batch(views)))
            labels.append(label.numpy())
            indices.append(index.numpy())
            if verbose:
                print(f"{sum(len(i) for i in indices)} views", end="\r")
    if not scores:
        raise ValueError("`dataset` yielded no view (were all videos unreadable?)")
    indices = np.concatenate(indices)
    labels = np.concatenate(labels)
    videos, mean_scores = average_view_scores(
        np.concatenate(scores), indices, from_logits
    )
    label_of = dict(zip(indices.tolist(), labels.tolist()))
    video_labels = np.array([label_of[v] for v in videos.tolist()])
    known = video_labels >= 0
    ranked = np.argsort(-mean_scores, axis=1)
    top1 = top5 = float("nan")
    if known.any():
        hits = ranked[known] == video_labels[known][:, None]
        top1 = float(hits[:, :1].any(axis=1).mean())
        top5 = float(hits[:, :5].any(axis=1).mean())
    return {
        "video_index": videos,
        "scores": mean_scores,
        "labels": video_labels,
        "top1": top1,
        "top5": top5,
    }


def _model_dims(model):
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, list):
        shape = shape[0]
    if shape is None or len(shape) != 5:
        return None, None
    return shape[1], shape[2]


def predict_video(
    path,
    model,
    num_frames=None,
    stride=None,
    views="10x3",
    crop_size=None,
    scale=transforms.TEST_SCALE,
    short_video="loop",
    from_logits=False,
    progress=True,
):
    """Multi-view prediction for one video: the mean of the view scores.

    The `clips x crops` views (see `eval_dataset`) go through the model one
    clip at a time, each clip decoded on its own (by seeking to it, see
    `decoding.read_video`), and their softmax scores are averaged; memory
    holds one clip, whatever the video's length.

    Args:
        path: a video file, frame folder or HDF5 frames file.
        model: a Keras model taking `(batch, T, H, W, 3)` normalised clips.
        num_frames: clip length T; default: the model's input length, or 32.
        stride: temporal stride S; default: 2, 8 or 1 for T = 32, 8 or 128
            (the paper's settings), otherwise 1.
        views: `"<clips>x<crops>"`, e.g. `"10x3"` (default) or `"1x1"`.
        crop_size: view side; default: the model's input size, or 256
            (fully-convolutional testing).
        scale: short side before cropping (256).
        short_video: `"loop"` or `"pad"` for videos shorter than T x S.
        from_logits: whether the model outputs logits.
        progress: show a `keras.utils.Progbar` over the views.

    Returns:
        float32 `(num_classes,)` averaged softmax scores.

    Example:

    >>> scores = predict_video("clip.mp4", model, views="10x3")  # doctest: +SKIP
    >>> scores.argmax()  # doctest: +SKIP
    """
    num_clips, num_crops = sampling.parse_views(views)
    model_frames, model_size = _model_dims(model)
    num_frames = num_frames or model_frames or 32
    stride = stride or DEFAULT_STRIDES.get(num_frames, 1)
    crop_size = crop_size or model_size or transforms.TEST_CROP_SIZE
    if model_frames is not None and model_frames != num_frames:
        raise ValueError(
            f"The model takes clips of {model_frames} frames. "
            f"Received: num_frames={num_frames}"
        )
    if model_size is not None and model_size != crop_size:
        raise ValueError(
            f"The model takes {model_size}x{model_size} frames. "
            f"Received: crop_size={crop_size}"
        )
    # One clip at a time: memory is that of one clip, whatever the video's
    # length, and each clip is decoded by seeking to it.
    indices = sampling.eval_clip_indices(
        decoding.frame_count(path), num_frames, stride, num_clips, short_video
    )
    bar = None
    if progress:
        import keras

        bar = keras.utils.Progbar(num_clips * num_crops, unit_name="view")
    scores = []
    for clip_indices in indices:
        clip = decoding.read_frames(path, clip_indices)
        clip_views = transforms.eval_crops(clip, crop_size, scale, num_crops)
        del clip
        scores.append(np.asarray(model.predict_on_batch(clip_views)))
        if bar is not None:
            bar.add(num_crops)
    return average_view_scores(np.concatenate(scores), from_logits=from_logits)
