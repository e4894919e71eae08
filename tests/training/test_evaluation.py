"""Multi-view evaluation: top-k, per-class accuracy, confusion matrix, files."""

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_nonlocal import data
from keras_nonlocal.training import confusion_matrix
from keras_nonlocal.training import evaluate
from keras_nonlocal.training import plot_confusion_matrix
from keras_nonlocal.training import summarize_scores
from tests.training import helpers


def test_top1_top5_and_per_class_accuracy():
    scores = np.eye(6)[[0, 1, 2, 3, 4, 5, 0]] * 0.9 + 0.01
    labels = np.array([0, 1, 2, 3, 4, 5, 5])  # the last video is wrong (top-1 says 0)
    report = summarize_scores(scores, labels, class_names=list("abcdef"))
    assert report.top1 == pytest.approx(6 / 7)
    assert report.num_videos == 7
    assert [row["accuracy"] for row in report.per_class] == [1, 1, 1, 1, 1, 0.5]
    assert report.per_class[5] == {"class": 5, "name": "f", "videos": 2, "accuracy": 0.5}
    assert report.mean_class_accuracy == pytest.approx(5.5 / 6)
    assert report.confusion[5].tolist() == [1, 0, 0, 0, 0, 1]


def test_top5_counts_the_label_among_the_five_best():
    scores = np.array([[0.3, 0.25, 0.2, 0.1, 0.08, 0.07]])
    assert summarize_scores(scores, [4]).top5 == 1.0
    assert summarize_scores(scores, [5]).top5 == 0.0


def test_unlabelled_videos_are_left_out_and_empty_classes_are_nan():
    report = summarize_scores(np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0]]), [0, -1])
    assert report.num_videos == 1
    assert np.isnan(report.per_class[2]["accuracy"])
    assert report.to_dict()["per_class"][2]["accuracy"] is None


def test_confusion_matrix_refuses_out_of_range_labels():
    with pytest.raises(ValueError, match="labels"):
        confusion_matrix([0, 3], [0, 1], num_classes=3)


def test_confusion_matrix_png_is_written(tmp_path):
    path = plot_confusion_matrix(np.array([[3, 1], [0, 2]]), tmp_path / "cm.png", class_names=["a", "b"])
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_evaluate_averages_views_per_video_and_writes_the_report(tmp_path):
    import keras

    list_file = helpers.write_videos(tmp_path / "videos", n=3, classes=3)
    ds = data.eval_dataset(list_file, num_frames=helpers.FRAMES, stride=1, views="2x3",
                           crop_size=helpers.SIZE, scale=helpers.SIZE, batch_size=4)

    # A "model" that scores the class from the brightness, so the answer is known.
    inputs = keras.Input((helpers.FRAMES, helpers.SIZE, helpers.SIZE, 3))
    mean = keras.layers.GlobalAveragePooling3D()(inputs)
    brightness = keras.layers.Lambda(lambda m: keras.ops.mean(m, axis=-1, keepdims=True))(mean)
    centres = keras.ops.convert_to_tensor(np.array([[(40 + 80 * c - 114.75) / 57.375 for c in range(3)]], "float32"))
    logits = keras.layers.Lambda(lambda b: -keras.ops.abs(b - centres) * 10)(brightness)
    model = keras.Model(inputs, logits)

    report = evaluate(model, ds, output_dir=tmp_path / "eval", class_names=["dark", "mid", "bright"],
                      from_logits=True, views="2x3", extra={"model": "brightness"})
    assert report.num_videos == 3 and report.top1 == 1.0
    written = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert written["top1"] == 1.0 and written["views"] == "2x3" and written["model"] == "brightness"
    assert written["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert [row["name"] for row in written["per_class"]] == ["dark", "mid", "bright"]
    assert (tmp_path / "eval" / "confusion_matrix.png").exists()
    scores = np.load(tmp_path / "eval" / "scores.npz")
    assert scores["scores"].shape == (3, 3)
    assert tf.reduce_all(tf.abs(tf.reduce_sum(scores["scores"], axis=1) - 1) < 1e-5)
