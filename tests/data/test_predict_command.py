import re

import pytest

from keras_nonlocal import cli
from keras_nonlocal.data import predict_command
from tests.data.test_multiview import tiny_model


@pytest.fixture
def injected(monkeypatch):
    """A small random model in place of the zoo, with the real class names."""
    built = {}

    def build(name, weights, input_shape=None):
        built["args"] = (name, weights, input_shape)
        return tiny_model(num_classes=400)

    monkeypatch.setattr(predict_command, "_build_model", build)
    return built


def test_predict_prints_top5_classes_end_to_end(video_60, injected, capsys):
    status = cli.main(
        ["predict", video_60, "--views", "2x3", "--frames", "4", "--stride", "2",
         "--crop-size", "32", "--scale", "32", "--weights", "none"]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert injected["args"] == ("nl_i3d_r50", None, (4, 32, 32, 3))
    rows = [line for line in out.splitlines() if re.match(r"^\s*\d+\. ", line)]
    assert len(rows) == 5
    scores = [float(line.split()[-1]) for line in rows]
    assert scores == sorted(scores, reverse=True)
    assert "6/6" in out  # the progress bar went over all 2x3 views


def test_predict_defaults_follow_the_issue():
    import argparse

    parser = argparse.ArgumentParser()
    predict_command.add_arguments(parser)
    args = parser.parse_args(["v.mp4"])
    assert (args.model, args.weights, args.views) == ("nl_i3d_r50", "kinetics400", "10x3")


def test_predict_rejects_bad_views_before_building_a_model(video_60, injected, capsys):
    assert cli.main(["predict", video_60, "--views", "ten"]) == 2
    assert "views='ten'" in capsys.readouterr().err
    assert "args" not in injected


def test_predict_reports_an_unreadable_video(corrupt_video, injected, capsys):
    status = cli.main(["predict", corrupt_video, "--frames", "4", "--crop-size", "32", "--no-progress"])
    assert status == 1
    assert "corrupt.mp4" in capsys.readouterr().err


def test_predict_with_the_real_builder_and_random_weights(video_60, capsys):
    status = cli.main(
        ["predict", video_60, "--model", "nl_i3d_r50", "--weights", "none", "--views", "2x3",
         "--frames", "8", "--crop-size", "32", "--scale", "32"]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert len([line for line in out.splitlines() if re.match(r"^\s*\d+\. ", line)]) == 5
