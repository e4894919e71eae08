"""Too many unreadable videos: callers catch `TooManyBadFilesError` itself.

The error is raised inside the pipeline's decoding step, where TensorFlow
wraps it; evaluation and training must hand it back as its own type.
"""

import os

import keras
import pytest
import tensorflow as tf

from keras_nonlocal import cli
from keras_nonlocal import data
from keras_nonlocal.data import pipeline
from keras_nonlocal.training import evaluate
from keras_nonlocal.training import get_recipe
from keras_nonlocal.training import model_factory
from keras_nonlocal.training import train

FRAMES, SIZE = 2, 32


def tiny_model(classes=2):
    inputs = keras.Input((FRAMES, SIZE, SIZE, 3))
    x = keras.layers.GlobalAveragePooling3D()(inputs)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(x))


@pytest.fixture
def bad_sources(corrupt_video, tmp_path):
    return [(corrupt_video, 0), (str(tmp_path / "gone.mp4"), 1), (corrupt_video, 1)]


def test_raw_iteration_is_wrapped_but_the_context_manager_unwraps(bad_sources):
    ds = data.eval_dataset(bad_sources, num_frames=FRAMES, stride=1, views="1x1",
                           crop_size=SIZE, scale=SIZE, max_bad=1, num_parallel_calls=1)
    with pytest.warns(data.BadVideoWarning):
        with pytest.raises(tf.errors.OpError):
            list(ds)
    derived = ds.map(lambda view, label, index: (view, label)).batch(2)  # no bad_files attribute
    with pytest.warns(data.BadVideoWarning):
        with pytest.raises(data.TooManyBadFilesError, match="more than max_bad=1") as info:
            with data.reraise_pipeline_errors(derived):
                list(derived)
    assert isinstance(info.value.__cause__, tf.errors.OpError)


def test_other_errors_pass_unchanged():
    with pytest.raises(tf.errors.InvalidArgumentError, match="boom"):
        with data.reraise_pipeline_errors():
            raise tf.errors.InvalidArgumentError(None, None, "boom")
    with pytest.raises(KeyError):
        with data.reraise_pipeline_errors():
            raise KeyError("x")


def test_evaluate_views_and_evaluate_raise_the_error_itself(bad_sources):
    for run in (data.evaluate_views, evaluate):
        ds = data.eval_dataset(bad_sources, num_frames=FRAMES, stride=1, views="1x1",
                               crop_size=SIZE, scale=SIZE, max_bad=1, batch_size=2)
        with pytest.warns(data.BadVideoWarning):
            with pytest.raises(data.TooManyBadFilesError, match=r"\d+ videos could not be read, more than max_bad=1"):
                run(tiny_model(), ds)


def test_train_raises_the_error_itself(bad_sources, tmp_path):
    ds = data.train_dataset(bad_sources, num_frames=FRAMES, stride=1, crop_size=SIZE,
                            scale_range=(SIZE, SIZE), batch_size=1, max_bad=1)
    recipe = get_recipe("kinetics400_8x8").replace(
        num_frames=FRAMES, stride=1, crop_size=SIZE, batch_size=1, max_steps=2,
        checkpoint_every=1, eval_every=1)
    model = tiny_model()
    with pytest.warns(data.BadVideoWarning):
        with pytest.raises(data.TooManyBadFilesError, match="more than max_bad=1"):
            train(model, ds, recipe=recipe, output_dir=str(tmp_path), verbose=0)


def test_evaluate_command_reports_it_in_one_line(bad_sources, tmp_path, monkeypatch, capsys):
    listing = tmp_path / "val.csv"
    listing.write_text("".join(f"{p},{label}\n" for p, label in bad_sources))
    monkeypatch.setattr(model_factory, "build_model", lambda *a, **k: tiny_model())
    argv = [
        "evaluate", "--data", str(listing), "--weights", "kinetics400", "--views", "1x1",
        "--num-frames", str(FRAMES), "--stride", "1", "--crop-size", str(SIZE),
        "--scale", str(SIZE), "--classes", "2", "--output-dir", str(tmp_path / "out"),
        "--verbose", "0",
    ]  # fmt: skip
    monkeypatch.setattr(
        data, "eval_dataset",
        lambda *a, **k: pipeline.eval_dataset(*a, **dict(k, max_bad=1)),
    )
    with pytest.warns(data.BadVideoWarning):
        assert cli.main(argv) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(lines) == 1 and "more than max_bad=1" in lines[0] and "Traceback" not in err
    assert not os.path.exists(tmp_path / "out" / "results.json")
