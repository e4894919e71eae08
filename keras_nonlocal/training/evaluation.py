"""Multi-view evaluation: video scores → top-1/top-5, per-class, confusion matrix.

The paper's protocol (official `test_net_video.py`): 10 clips uniformly along
time x 3 crops per video, softmax scores averaged over the 30 views. The views
come from `keras_nonlocal.data.eval_dataset(..., views="10x3")` and are
averaged by `keras_nonlocal.data.evaluate_views`; this module turns the video
scores into a report: top-k accuracy, per-class accuracy, a confusion-matrix
PNG and `results.json`.
"""

import dataclasses
import json
import math
import os

import numpy as np


def confusion_matrix(labels, predictions, num_classes):
    """Counts of (true class, predicted class) pairs.

    Args:
        labels: int array `(N,)` of true classes.
        predictions: int array `(N,)` of predicted classes.
        num_classes: number of classes.

    Returns:
        An int64 array `(num_classes, num_classes)`: row = true class,
        column = predicted class.

    Example:

    >>> confusion_matrix([0, 1, 1], [0, 1, 0], num_classes=2).tolist()
    [[1, 0], [1, 1]]
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    predictions = np.asarray(predictions, dtype=np.int64).reshape(-1)
    if labels.shape != predictions.shape:
        raise ValueError(
            f"`labels` and `predictions` differ in length: {labels.shape[0]} vs "
            f"{predictions.shape[0]}."
        )
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"`{name}` must lie in [0, {num_classes}). Received values from "
                f"{values.min()} to {values.max()}."
            )
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def _nan_to_none(value):
    return None if isinstance(value, float) and math.isnan(value) else value


@dataclasses.dataclass
class EvaluationReport:
    """The results of a multi-view evaluation.

    Args:
        top1: fraction of videos whose best class is right.
        top5: fraction whose right class is among the best five.
        mean_class_accuracy: mean of the per-class accuracies (classes with
            at least one video).
        per_class: list of `{"class", "name", "videos", "accuracy"}`, one per
            class (accuracy `NaN` for classes without a video).
        confusion: `(classes, classes)` counts, row = true class.
        num_videos: videos scored.
        views: the protocol, e.g. `"10x3"`.
        extra: anything else to record (model, weights, dataset, ...).
    """

    top1: float
    top5: float
    mean_class_accuracy: float
    per_class: list
    confusion: np.ndarray
    num_videos: int
    views: str = ""
    extra: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        """The report as a JSON-ready dict (NaN becomes `null`)."""
        return {
            "top1": _nan_to_none(self.top1),
            "top5": _nan_to_none(self.top5),
            "mean_class_accuracy": _nan_to_none(self.mean_class_accuracy),
            "num_videos": self.num_videos,
            "views": self.views,
            "per_class": [
                {k: _nan_to_none(v) for k, v in row.items()} for row in self.per_class
            ],
            "confusion_matrix": np.asarray(self.confusion).tolist(),
            **self.extra,
        }

    def save_json(self, path):
        """Writes `to_dict()` to `path` as JSON.

        Args:
            path: output file.

        Returns:
            The path.
        """
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=2)
        return path


def summarize_scores(scores, labels, class_names=None, views=""):
    """Accuracy report from per-video scores.

    Args:
        scores: float array `(num_videos, num_classes)` (averaged view scores).
        labels: int array `(num_videos,)`; videos labelled -1 (unknown) are
            left out.
        class_names: optional list of names, indexed by class.
        views: the protocol, recorded in the report.

    Returns:
        An `EvaluationReport`.

    Example:

    >>> scores = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
    >>> report = summarize_scores(scores, [0, 2, 1])
    >>> round(report.top1, 3), report.top5, report.per_class[1]["accuracy"]
    (0.667, 1.0, 0.0)
    """
    scores = np.asarray(scores)
    labels = np.asarray(labels).reshape(-1)
    if scores.ndim != 2 or scores.shape[0] != labels.shape[0]:
        raise ValueError(
            "`scores` must be (num_videos, num_classes) with one label per video. "
            f"Received shapes: scores {scores.shape}, labels {labels.shape}"
        )
    num_classes = scores.shape[1]
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(
            f"`class_names` has {len(class_names)} names for {num_classes} classes."
        )
    known = labels >= 0
    scores, labels = scores[known], labels[known].astype(np.int64)
    ranked = np.argsort(-scores, axis=1, kind="stable")
    hits = ranked == labels[:, None]
    if len(labels):
        top1 = float(hits[:, :1].any(axis=1).mean())
        top5 = float(hits[:, :5].any(axis=1).mean())
    else:
        top1 = top5 = float("nan")
    matrix = confusion_matrix(labels, ranked[:, 0] if len(labels) else labels, num_classes)
    per_class = []
    for c in range(num_classes):
        count = int(matrix[c].sum())
        per_class.append(
            {
                "class": c,
                "name": None if class_names is None else str(class_names[c]),
                "videos": count,
                "accuracy": float(matrix[c, c] / count) if count else float("nan"),
            }
        )
    seen = [row["accuracy"] for row in per_class if row["videos"]]
    mean_class = float(np.mean(seen)) if seen else float("nan")
    return EvaluationReport(top1, top5, mean_class, per_class, matrix, int(len(labels)), views)


def plot_confusion_matrix(matrix, path, class_names=None, normalize=True, title=None):
    """Saves a confusion matrix as a PNG (matplotlib, no display needed).

    Args:
        matrix: `(classes, classes)` counts, row = true class.
        path: output `.png` path.
        class_names: tick labels (shown when there are at most 50 classes).
        normalize: show each row as fractions of its videos.
        title: figure title.

    Returns:
        The path.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix, dtype=np.float64)
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    n = matrix.shape[0]
    side = min(4 + 0.25 * n, 40)
    fig, ax = plt.subplots(figsize=(side, side))
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or ("confusion matrix (row-normalised)" if normalize else "confusion matrix"))
    if class_names is not None and n <= 50:
        ax.set_xticks(range(n), [str(c) for c in class_names], rotation=90, fontsize=7)
        ax.set_yticks(range(n), [str(c) for c in class_names], fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def score_videos(model, dataset, from_logits=False, verbose=0):
    """Scores every video of a multi-view dataset (average of its views).

    Args:
        model: a Keras model mapping clips to class scores.
        dataset: a dataset of `(view, label, video_index)` as made by
            `keras_nonlocal.data.eval_dataset` (batched or not).
        from_logits: the model outputs logits (softmax per view first).
        verbose: print progress.

    Returns:
        A dict with `video_index`, `scores` `(num_videos, classes)` and
        `labels` (see `keras_nonlocal.data.evaluate_views`).
    """
    from keras_nonlocal.data import evaluate_views

    return evaluate_views(model, dataset, from_logits=from_logits, verbose=verbose)


def evaluate(model, dataset, output_dir=None, class_names=None, from_logits=False,
             views="10x3", extra=None, verbose=0):
    """Multi-view evaluation with a report on disk.

    Args:
        model: a Keras model mapping clips to class scores.
        dataset: `(view, label, video_index)` views, e.g.
            `keras_nonlocal.data.eval_dataset(source, views="10x3")`.
        output_dir: where to write `results.json`, `confusion_matrix.png`
            and `scores.npz` (video index, scores, labels); `None` writes
            nothing.
        class_names: optional class names for the report and the plot.
        from_logits: the model outputs logits.
        views: the protocol, recorded in the report.
        extra: more fields for `results.json`.
        verbose: print progress.

    Returns:
        An `EvaluationReport`.

    Example:

    >>> ds = eval_dataset("val.csv", num_frames=8, stride=8, views="10x3",
    ...                   batch_size=30)  # doctest: +SKIP
    >>> report = evaluate(model, ds, output_dir="results/eval")  # doctest: +SKIP
    >>> report.top1  # doctest: +SKIP
    """
    scored = score_videos(model, dataset, from_logits=from_logits, verbose=verbose)
    report = summarize_scores(scored["scores"], scored["labels"], class_names, views)
    report.extra.update(extra or {})
    if output_dir is not None:
        os.makedirs(output_dir, exist_ok=True)
        report.save_json(os.path.join(output_dir, "results.json"))
        plot_confusion_matrix(
            report.confusion, os.path.join(output_dir, "confusion_matrix.png"), class_names
        )
        np.savez(
            os.path.join(output_dir, "scores.npz"),
            video_index=scored["video_index"],
            scores=scored["scores"],
            labels=scored["labels"],
        )
    return report
