import keras
import numpy as np
import pytest

from keras_nonlocal.data import multiview
from keras_nonlocal.data import pipeline


def tiny_model(num_classes=400, activation="softmax", seed=0):
    """A fully-convolutional stand-in for NL-I3D: any T, H, W."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((None, None, None, 3)),
            keras.layers.Conv3D(4, 3, strides=2, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling3D(),
            keras.layers.Dense(num_classes, activation=activation),
        ]
    )


def test_average_view_scores_is_the_plain_mean():
    scores = np.array([[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]])
    np.testing.assert_allclose(multiview.average_view_scores(scores), [0.3, 0.7], rtol=1e-6)


def test_average_view_scores_groups_by_video():
    scores = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.25, 0.75]])
    videos, mean = multiview.average_view_scores(scores, video_index=[3, 3, 0, 0])
    assert videos.tolist() == [0, 3]
    np.testing.assert_allclose(mean, [[0.375, 0.625], [0.5, 0.5]])


def test_from_logits_applies_softmax_per_view_before_averaging():
    logits = np.array([[0.0, np.log(3.0)], [np.log(3.0), 0.0]])
    np.testing.assert_allclose(
        multiview.average_view_scores(logits, from_logits=True), [0.5, 0.5], rtol=1e-6
    )


def test_10x3_prediction_averages_exactly_the_per_view_softmax_scores(video_60):
    model = tiny_model()
    ds = pipeline.eval_dataset(
        [(video_60, 0)], num_frames=4, stride=2, views="10x3", crop_size=32, scale=32
    )
    per_view = [model.predict_on_batch(view[None].numpy())[0] for view, _, _ in ds]
    assert len(per_view) == 30
    per_view = np.stack(per_view)
    np.testing.assert_allclose(per_view.sum(axis=1), 1.0, rtol=1e-5)
    scores = multiview.predict_video(
        video_60, model, num_frames=4, stride=2, views="10x3", crop_size=32, scale=32,
        progress=False,
    )
    assert scores.shape == (400,)
    np.testing.assert_allclose(scores, per_view.astype("float64").mean(axis=0), rtol=1e-6, atol=1e-9)
    # The views differ, so this is an average of distinct scores, not a copy.
    assert np.ptp(per_view[:, 0]) > 0


def test_predict_video_with_logits_model_averages_softmaxes(video_60):
    model = tiny_model(num_classes=5, activation=None)
    ds = pipeline.eval_dataset(
        [(video_60, 0)], num_frames=2, stride=4, views="2x3", crop_size=32, scale=32
    )
    logits = np.stack([model.predict_on_batch(v[None].numpy())[0] for v, _, _ in ds])
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    scores = multiview.predict_video(
        video_60, model, num_frames=2, stride=4, views="2x3", crop_size=32, scale=32,
        from_logits=True, progress=False,
    )
    np.testing.assert_allclose(scores, expected.mean(axis=0), rtol=1e-5)


def test_predict_video_takes_clip_size_from_a_fixed_input_model(video_60):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8, 24, 24, 3)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")]
    )
    scores = multiview.predict_video(video_60, model, views="1x3", progress=False)
    assert scores.shape == (3,)
    with pytest.raises(ValueError, match="num_frames=4"):
        multiview.predict_video(video_60, model, num_frames=4, progress=False)


def test_evaluate_views_scores_every_video(video_60, video_10):
    model = tiny_model(num_classes=400)
    ds = pipeline.eval_dataset(
        [(video_60, 1), (video_10, 2)], num_frames=2, stride=2, views="2x1", crop_size=32,
        scale=32, batch_size=3,
    )
    result = multiview.evaluate_views(model, ds)
    assert result["video_index"].tolist() == [0, 1]
    assert result["labels"].tolist() == [1, 2]
    assert result["scores"].shape == (2, 400)
    expected = multiview.predict_video(
        video_10, model, num_frames=2, stride=2, views="2x1", crop_size=32, scale=32,
        progress=False,
    )
    np.testing.assert_allclose(result["scores"][1], expected, rtol=1e-5)
    assert 0.0 <= result["top1"] <= result["top5"] <= 1.0
