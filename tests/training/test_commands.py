"""`keras-nonlocal train` / `evaluate` end to end on tiny HDF5 videos."""

import json
import os

import pytest

from keras_nonlocal import cli
from tests.test_cli import assert_user_error
from tests.training import helpers

TINY = json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in helpers.TINY_MODEL_KWARGS.items()})


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return helpers.write_videos(tmp_path_factory.mktemp("videos"), n=6, classes=3)


@pytest.fixture(scope="module")
def trained_dir(videos, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_train")
    code = cli.main([
        "train", "--model", "i3d_r50", "--train", videos, "--val", videos, "--weights", "none",
        "--recipe", "kinetics400_8x8", "--num-frames", "4", "--stride", "2", "--crop-size", "32",
        "--scale-range", "32", "40", "--batch-size", "3", "--max-steps", "4", "--checkpoint-every", "2",
        "--eval-every", "4", "--base-lr", "0.02", "--warmup", "--warmup-steps", "2",
        "--model-kwargs", TINY, "--output-dir", str(out), "--verbose", "0", "--seed", "1",
    ])
    assert code == 0
    return out


def test_train_command_writes_a_resumable_run(trained_dir):
    recipe = json.loads((trained_dir / "recipe.json").read_text())
    assert (recipe["num_frames"], recipe["batch_size"], recipe["warmup"], recipe["base_lr"]) == (4, 3, True, 0.02)
    assert recipe["weight_decay"] == 1e-4 and recipe["momentum"] == 0.9  # untouched official values
    for name in ("final.weights.h5", "training_log.csv", "backup", "checkpoints", "tensorboard"):
        assert (trained_dir / name).exists(), name


def test_evaluate_command_runs_the_multi_view_protocol_on_the_trained_run(trained_dir, videos, tmp_path, capsys):
    code = cli.main([
        "evaluate", "--model", "i3d_r50", "--weights", str(trained_dir), "--data", videos,
        "--views", "2x3", "--crop-size", "32", "--scale", "32", "--batch-size", "6",
        "--model-kwargs", TINY, "--output-dir", str(tmp_path), "--verbose", "1",
    ])
    assert code == 0
    summary, report_line = capsys.readouterr().out.splitlines()  # results only; progress on stderr
    assert summary.startswith("i3d_r50 on 6 videos (2x3 views): top-1 ")
    assert report_line == f"report: {tmp_path / 'results.json'}"
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["num_videos"] == 6 and report["views"] == "2x3"
    assert report["num_frames"] == 4 and report["stride"] == 2  # read from the run's recipe.json
    assert 0.0 <= report["top1"] <= report["top5"] <= 1.0
    assert len(report["per_class"]) == 3 and len(report["confusion_matrix"]) == 3
    assert (tmp_path / "confusion_matrix.png").exists()


def test_train_command_rejects_bad_recipe_values_by_name(videos, capsys, tmp_path):
    code = cli.main(["train", "--train", videos, "--batch-size", "0", "--output-dir", str(tmp_path)])
    assert code == 2
    assert_user_error(capsys.readouterr(), "batch_size")
    assert not any(tmp_path.iterdir()), "nothing was written"


@pytest.mark.parametrize("flag", ["--train", "--val"])
def test_train_command_reports_a_missing_list_before_any_work(videos, capsys, tmp_path, flag):
    missing = tmp_path / "missing.csv"
    sources = {"--train": videos, "--val": videos, flag: str(missing)}
    code = cli.main(["train", "--train", sources["--train"], "--val", sources["--val"], "--weights", "none",
                     "--output-dir", str(tmp_path / "out")])
    assert code == 1
    assert_user_error(capsys.readouterr(), f"{flag} {missing}: no such file")
    assert not (tmp_path / "out").exists()


def test_train_command_refuses_an_output_dir_inside_a_file(videos, capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    code = cli.main(["train", "--train", videos, "--weights", "none", "--output-dir", str(tmp_path / "file" / "run")])
    assert code == 1
    assert_user_error(capsys.readouterr(), "--output-dir", "is a file")


def test_train_command_refuses_a_bad_model_kwargs_json(videos, capsys, tmp_path):
    code = cli.main(["train", "--train", videos, "--model-kwargs", "{depths: 1}", "--output-dir", str(tmp_path)])
    assert code == 2
    assert_user_error(capsys.readouterr(), "--model-kwargs")


def test_evaluate_command_reports_a_missing_weights_file(videos, capsys, tmp_path):
    code = cli.main(["evaluate", "--weights", str(tmp_path / "none.weights.h5"), "--data", videos,
                     "--model-kwargs", TINY, "--num-frames", "4", "--recipe", "kinetics400_8x8",
                     "--output-dir", str(tmp_path)])
    assert code == 1
    assert_user_error(capsys.readouterr(), f"--weights {tmp_path / 'none.weights.h5'}: no such file")


def test_evaluate_command_reports_a_folder_without_weights(videos, capsys, tmp_path):
    code = cli.main(["evaluate", "--weights", str(tmp_path), "--data", videos, "--output-dir", str(tmp_path)])
    assert code == 1
    assert_user_error(capsys.readouterr(), "--weights", "final.weights.h5")


def test_evaluate_command_reports_missing_data(capsys, tmp_path):
    code = cli.main(["evaluate", "--weights", "kinetics400", "--data", str(tmp_path / "val.csv")])
    assert code == 1
    assert_user_error(capsys.readouterr(), f"--data {tmp_path / 'val.csv'}: no such file")


def test_scripts_are_thin_wrappers_over_the_commands():
    for name in ("train", "evaluate", "predict", "tune", "convert_checkpoint"):
        text = open(os.path.join(helpers.REPO, "applications", f"{name}.py")).read()
        assert f'run_command("{name.replace("_checkpoint", "")}"' in text
