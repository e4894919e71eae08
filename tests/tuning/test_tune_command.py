"""`keras-nonlocal tune` arguments: clear early errors, and real videos via --data."""

import csv

import numpy as np
import pytest

from keras_nonlocal import cli
from tests.test_cli import assert_user_error
from tests.tuning.conftest import TINY_ARGS


def tune(*args):
    return cli.main(["tune", *args])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tuner", "evolution"], "invalid choice: 'evolution'"),
        (["--max-trials", "0"], "expected an integer >= 1, got '0'"),
        (["--epochs", "-2"], "expected an integer >= 1, got '-2'"),
        (["--learning-rate", "0"], "expected a number > 0"),
        (["--val-fraction", "1.5"], "argument --val-fraction: expected a number between 0 and 1"),
        (["--frames", "0"], "argument --frames: expected an integer >= 1"),
        (["--blocks", "3"], "invalid choice: '3'"),
        (["--modes", "cosine"], "invalid choice: 'cosine'"),
    ],
)
def test_parser_refuses_bad_values(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        tune(*args)
    assert exit_info.value.code == 2
    assert_user_error(capsys.readouterr(), message, prog="keras-nonlocal tune")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--objective", "val_f1"], "Unknown objective 'val_f1'"),
        (["--frames", "8"], "--frames applies to videos only"),
        (["--backbone", "r50"], "--backbone r50 is for real videos"),
        (["--tuner", "hyperband", "--epochs", "1"], "hyperband's most epochs"),
        (["--port", "8000"], "--port applies to --distributed only"),
    ],
)
def test_bad_combinations_fail_before_any_work(capsys, tmp_path, args, message):
    assert tune("--directory", str(tmp_path), *args) == 2
    assert_user_error(capsys.readouterr(), message)
    assert not any(tmp_path.iterdir()), "nothing was written"


@pytest.mark.parametrize("flag", ["--data", "--val-data"])
def test_a_missing_list_file_is_a_failed_input_exit_1(capsys, tmp_path, flag):
    (tmp_path / "train.csv").write_text("clip0.h5,run\n")
    lists = {"--data": str(tmp_path / "train.csv"), "--val-data": str(tmp_path / "train.csv")}
    lists[flag] = str(tmp_path / "missing.csv")
    assert tune("--directory", str(tmp_path / "r"), "--data", lists["--data"], "--val-data", lists["--val-data"]) == 1
    assert_user_error(capsys.readouterr(), f"{flag} {tmp_path / 'missing.csv'}: no such file")
    assert not (tmp_path / "r").exists()


def test_report_only_without_a_search_names_the_folder(capsys, tmp_path):
    assert tune("--directory", str(tmp_path), "--report-only") == 1
    assert_user_error(capsys.readouterr(), "--report-only", str(tmp_path / "tiny_digits"))


def test_a_count_that_does_not_fit_the_backbone_is_refused(capsys, tmp_path):
    assert tune("--directory", str(tmp_path), "--blocks", "10") == 2
    assert_user_error(capsys.readouterr(), "blocks='10' does not fit")


def test_videos_from_a_list_file(capsys, tmp_path):
    from keras_nonlocal.data import write_hdf5_frames

    rng = np.random.default_rng(0)
    with open(tmp_path / "train.csv", "w", newline="") as f:
        writer = csv.writer(f)
        for i in range(8):
            frames = rng.integers(0, 255, size=(6, 40, 40, 3), dtype=np.uint8)
            write_hdf5_frames(tmp_path / f"clip{i}.h5", frames)
            writer.writerow([f"clip{i}.h5", "run" if i % 2 else "swim"])
    status = tune(
        "--data", str(tmp_path / "train.csv"), "--val-fraction", "0.25", "--frames", "4",
        "--stride", "1", "--crop-size", "32", "--max-trials", "1", "--directory", str(tmp_path / "r"),
        *TINY_ARGS[:2], "--batch-size", "2", "--threads", "1",
    )
    captured = capsys.readouterr()
    assert status == 0
    assert "data: videos, clips (4, 32, 32, 3), 2 classes" in captured.err  # a log, not a result
    assert captured.out.lstrip().startswith("| rank")  # the leaderboard is the result
    assert (tmp_path / "r" / "tiny_videos" / "leaderboard.csv").exists()
