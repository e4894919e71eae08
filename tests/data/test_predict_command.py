import re

import numpy as np
import pytest

from keras_nonlocal import cli
from keras_nonlocal.data import predict_command
from tests.data.test_multiview import tiny_model
from tests.test_cli import assert_user_error
from tests.test_cli import closed_port


@pytest.fixture
def injected(monkeypatch):
    """A small random model in place of the zoo, with the real class names."""
    built = {}

    def build(name, weights, input_shape=None, input_setting=None):
        built["args"] = (name, weights, input_shape)
        return tiny_model(num_classes=400)

    monkeypatch.setattr(predict_command, "_build_model", build)
    return built


def test_predict_prints_top5_classes_end_to_end(video_60, injected, capsys):
    status = cli.main(
        ["predict", video_60, "--views", "2x3", "--frames", "4", "--stride", "2",
         "--crop-size", "32", "--scale", "32", "--weights", "none"]
    )
    captured = capsys.readouterr()
    assert status == 0
    assert injected["args"] == ("nl_i3d_r50", None, (4, 32, 32, 3))
    header, *rows = captured.out.splitlines()  # results only: `> top5.txt` holds no progress bar
    assert header.startswith(f"{video_60}: top-5 of 400 classes")
    assert len(rows) == 5 and all(re.match(r"^\s*\d+\. ", line) for line in rows)
    scores = [float(line.split()[-1]) for line in rows]
    assert scores == sorted(scores, reverse=True)
    assert "6/6" in captured.err  # the progress bar went over all 2x3 views, on stderr


def test_predict_defaults_follow_the_issue():
    import argparse

    parser = argparse.ArgumentParser()
    predict_command.add_arguments(parser)
    args = parser.parse_args(["v.mp4"])
    assert (args.model, args.weights, args.views) == ("nl_i3d_r50", "kinetics400", "10x3")


def test_predict_rejects_bad_views_before_building_a_model(video_60, injected, capsys):
    assert cli.main(["predict", video_60, "--views", "ten"]) == 2
    assert_user_error(capsys.readouterr(), "views='ten'")
    assert "args" not in injected


def test_predict_reports_an_unreadable_video(corrupt_video, injected, capsys):
    status = cli.main(["predict", corrupt_video, "--frames", "4", "--crop-size", "32", "--no-progress"])
    assert status == 1
    assert_user_error(capsys.readouterr(), "corrupt.mp4")


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--stride", "0"], "--stride"),  # was silently replaced by the default
        (["--frames", "0", "--crop-size", "32"], "--frames"),  # was silently ignored
        (["--scale", "0"], "--scale"),  # was a TensorFlow traceback
    ],
)
def test_predict_refuses_zero_sizes_naming_the_flag(video_60, injected, capsys, flags, named):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["predict", video_60, *flags])
    assert exit_info.value.code == 2
    assert_user_error(capsys.readouterr(), f"argument {named}: expected an integer >= 1",
                      prog="keras-nonlocal predict")
    assert "args" not in injected


@pytest.mark.parametrize("given, missing", [("--crop-size", "--frames"), ("--frames", "--crop-size")])
def test_predict_says_that_frames_and_crop_size_go_together(video_60, injected, capsys, given, missing):
    assert cli.main(["predict", video_60, given, "32"]) == 2
    message = assert_user_error(capsys.readouterr(), f"{given} needs {missing}")
    assert "crop_size=" not in message[0]  # not the model's complaint after the build
    assert "args" not in injected


def test_predict_checks_the_video_before_building_the_model(tmp_path, injected, capsys):
    missing = tmp_path / "missing.mp4"
    assert cli.main(["predict", str(missing), "--weights", "none"]) == 1
    assert_user_error(capsys.readouterr(), str(missing))
    assert "args" not in injected


@pytest.mark.parametrize("content", [b"", b"\x89HDF\r\n\x1a\n" + bytes(100), bytes(range(256)) * 4])
def test_predict_checks_a_weights_file_before_building_the_model(video_60, tmp_path, injected, capsys, content):
    path = tmp_path / "broken.weights.h5"
    path.write_bytes(content)
    assert cli.main(["predict", video_60, "--weights", str(path)]) == 1
    assert_user_error(capsys.readouterr(), f"--weights {path}", "not an HDF5 file")
    assert "args" not in injected


def test_predict_reports_a_missing_weights_file(video_60, tmp_path, injected, capsys):
    path = tmp_path / "w.weights.h5"
    assert cli.main(["predict", video_60, "--weights", str(path)]) == 1
    assert_user_error(capsys.readouterr(), f"--weights {path}: no such file")


def test_predict_without_network_is_an_error_not_a_traceback(video_60, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    url = f"http://127.0.0.1:{closed_port()}/nl_i3d.weights.h5"
    status = cli.main(["predict", video_60, "--weights", url, "--frames", "8", "--crop-size", "32",
                       "--views", "1x1", "--no-progress"])
    captured = capsys.readouterr()
    assert status == 1
    assert "Traceback" not in captured.err and captured.out == ""
    assert url in captured.err and "refused" in captured.err
    assert not list((tmp_path / "home").rglob("*.part"))


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(bytes(range(256)) * 8, id="random"),
        pytest.param(None, id="truncated"),
        pytest.param(b"", id="empty"),
    ],
)
def test_predict_with_a_bad_pkl_is_a_one_line_error(video_60, tmp_path, capsys, content):
    import pickle

    if content is None:
        good = pickle.dumps({"blobs": {"conv1_w": np.zeros((64, 3, 5, 7, 7), "float32")}}, protocol=2)
        content = good[: len(good) // 2]
    path = tmp_path / "bad.pkl"
    path.write_bytes(content)
    status = cli.main(["predict", video_60, "--weights", str(path), "--frames", "8", "--crop-size", "32",
                       "--views", "1x1", "--no-progress"])
    assert status == 1
    assert_user_error(capsys.readouterr())


def test_predict_with_the_real_builder_and_random_weights(video_60, capsys):
    status = cli.main(
        ["predict", video_60, "--model", "nl_i3d_r50", "--weights", "none", "--views", "2x3",
         "--frames", "8", "--crop-size", "32", "--scale", "32"]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert len([line for line in out.splitlines() if re.match(r"^\s*\d+\. ", line)]) == 5
