"""`predict` and `evaluate` take `--input-setting`; by default the checkpoint's applies."""

import argparse

import pytest

from keras_nonlocal import applications
from keras_nonlocal.data import predict_command
from keras_nonlocal.training import evaluate_command


def _parse(module, argv):
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


def _stop_at_build(monkeypatch):
    calls = []

    def get_model(name, **kwargs):
        calls.append(kwargs)
        raise ValueError("stop")

    monkeypatch.setattr(applications, "get_model", get_model)
    return calls


@pytest.mark.parametrize("argv,setting", [([], None), (["--input-setting", "32x4"], "32x4")])
def test_predict_passes_the_input_setting_to_the_model(argv, setting, monkeypatch, capsys):
    calls = _stop_at_build(monkeypatch)
    args = _parse(predict_command, ["clip.mp4", "--weights", "i3d_nonlocal_8x8_IN_pretrain_400k",
                                    "--frames", "8", "--crop-size", "224", "--views", "1x1"] + argv)
    with pytest.raises(ValueError, match="stop"):
        predict_command.run(args)
    assert calls == [dict(weights="i3d_nonlocal_8x8_IN_pretrain_400k", input_setting=setting,
                          input_shape=(8, 224, 224, 3))]


def test_predict_refuses_an_unknown_input_setting(capsys):
    with pytest.raises(SystemExit):
        _parse(predict_command, ["clip.mp4", "--input-setting", "16x4"])
    assert "invalid choice: '16x4'" in capsys.readouterr().err


def test_predict_refuses_a_checkpoint_of_another_setting(capsys):
    args = _parse(predict_command, ["clip.mp4", "--weights", "i3d_nonlocal_8x8_IN_pretrain_400k",
                                    "--input-setting", "32x2", "--views", "1x1"])
    with pytest.raises(ValueError, match="'8x8' input setting") as error:
        predict_command.run(args)
    assert "input_setting='32x2'" in str(error.value)


@pytest.mark.parametrize("argv,setting", [
    ([], None),  # no recipe chosen: the model follows the checkpoint
    (["--input-setting", "8x8"], "8x8"),
    (["--recipe", "kinetics400_affine_32x4"], "32x4"),
    (["--recipe", "kinetics400_affine_32x4", "--input-setting", "128x1"], "128x1"),
])
def test_evaluate_resolves_the_input_setting(argv, setting):
    args = _parse(evaluate_command, ["--data", "val.csv", "--weights", "kinetics400"] + argv)
    _, recipe = evaluate_command._resolve(args)
    assert recipe.input_setting == setting


def test_convert_refuses_an_official_file_of_another_setting(tmp_path, capsys):
    from keras_nonlocal import cli

    path = tmp_path / "i3d_nonlocal_32x4_I3D_pretrain_400k.pkl"
    path.write_bytes(b"never read")
    out = tmp_path / "out.weights.h5"
    # A flag that contradicts the file: a bad command line, refused before any work.
    assert cli.main(["convert", str(path), str(out), "--input-setting", "8x8"]) == 2
    err = capsys.readouterr().err
    assert "'32x4' input setting" in err and "input_setting='8x8'" in err
    assert not out.exists()
