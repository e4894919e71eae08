"""`keras-nonlocal attention`: a picture for a video, an image and a user model."""

import os

import keras
import numpy as np
import pytest

from keras_nonlocal import cli
from keras_nonlocal.layers import NonLocalBlock
from tests.data.videos import write_coded_video


def _video_model(path):
    inputs = keras.Input((4, 32, 32, 3))
    x = keras.layers.Conv3D(8, (1, 3, 3), strides=(1, 2, 2), padding="same")(inputs)
    x = NonLocalBlock(name="nl_video")(x)
    outputs = keras.layers.GlobalAveragePooling3D()(x)
    keras.Model(inputs, outputs).save(path)
    return str(path)


def _image_model(path):
    inputs = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x = NonLocalBlock(mode="concatenation", name="nl_image")(x)
    keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same")(x)).save(path)
    return str(path)


def _run(argv, capsys):
    status = cli.main(["attention", *argv])
    captured = capsys.readouterr()
    return status, captured.out


def _assert_picture(path):
    from PIL import Image

    assert os.path.getsize(path) > 1000
    with Image.open(path) as image:
        assert min(image.size) > 100


def test_video_with_a_user_model_gives_a_figure(tmp_path, capsys):
    video = write_coded_video(tmp_path / "clip.mkv", 12)
    model = _video_model(tmp_path / "video.keras")
    out = tmp_path / "video.png"
    status, stdout = _run([video, "--model", model, "--out", str(out), "--query", "1,10,20"], capsys)
    assert status == 0
    _assert_picture(out)
    assert "block nl_video" in stdout and "query 1,10,20" in stdout


def test_image_with_salient_queries_gives_an_overlay(tmp_path, capsys):
    from PIL import Image

    image = tmp_path / "image.png"
    pixels = (np.random.default_rng(0).random((24, 20)) * 255).astype("uint8")
    Image.fromarray(pixels).save(image)
    out = tmp_path / "overlay.png"
    status, stdout = _run([str(image), "--model", _image_model(tmp_path / "image.keras"), "--out", str(out)], capsys)
    assert status == 0
    _assert_picture(out)
    assert stdout.count("  query ") == 3


def test_npy_clip_animation(tmp_path, capsys):
    clip = tmp_path / "clip.npy"
    np.save(clip, np.random.default_rng(0).random((4, 32, 32, 3)).astype("float32"))
    out = tmp_path / "clip.gif"
    status, _ = _run([str(clip), "--model", _video_model(tmp_path / "v.keras"), "--out", str(out)], capsys)
    assert status == 0 and os.path.getsize(out) > 0


@pytest.mark.slow
def test_zoo_video_model_with_random_weights(tmp_path, capsys):
    video = write_coded_video(tmp_path / "clip.mkv", 20)
    out = tmp_path / "zoo.png"
    status, stdout = _run(
        [video, "--model", "nl_i3d_r50", "--weights", "none", "--frames", "8",
         "--crop-size", "64", "--out", str(out), "--query", "4,32,32"],
        capsys,
    )
    assert status == 0
    _assert_picture(out)
    assert "nonlocal_conv4_5" in stdout or "nonlocal_conv4" in stdout


@pytest.mark.parametrize(
    "extra, status, match",
    [
        (["--out", "x.txt"], 2, "--out x.txt: the picture must end in one of"),
        (["--out", "missing_dir/x.png"], 1, "the folder missing_dir does not exist"),
        (["--out", "x.png", "--model", "no_such_model"], 2, "--model no_such_model: neither a .keras file nor a zoo model"),
        (["--out", "x.png", "--model", "absent.keras"], 1, "--model absent.keras: no such file"),
        (["--out", "x.png", "--query", "1,x"], 2, "is not a position"),
    ],
)
def test_bad_arguments_fail_before_work_in_one_line(tmp_path, extra, status, match, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    clip = tmp_path / "c.npy"
    np.save(clip, np.zeros((4, 32, 32, 3), "float32"))
    model = _video_model(tmp_path / "m.keras")
    argv = ["attention", str(clip), "--model", model] + extra
    try:
        code = cli.main(argv)
    except SystemExit as exit_info:  # argparse's own errors
        code = exit_info.code
    err = capsys.readouterr().err
    assert code == status
    assert match in err and "Traceback" not in err


def test_an_existing_picture_is_kept_without_overwrite(tmp_path, capsys):
    clip = tmp_path / "c.npy"
    np.save(clip, np.zeros((4, 32, 32, 3), "float32"))
    out = tmp_path / "o.png"
    out.write_bytes(b"mine")
    code = cli.main(["attention", str(clip), "--model", _video_model(tmp_path / "m.keras"), "--out", str(out)])
    assert code == 1 and out.read_bytes() == b"mine"
    assert "pass --overwrite" in capsys.readouterr().err


def test_a_clip_for_an_image_model_is_refused(tmp_path, capsys):
    clip = tmp_path / "c.npy"
    np.save(clip, np.zeros((4, 32, 32, 1), "float32"))
    code = cli.main(["attention", str(clip), "--model", _image_model(tmp_path / "i.keras"), "--out", str(tmp_path / "o.png")])
    assert code == 1
    assert "has shape (4, 32, 32, 1); the model takes images" in capsys.readouterr().err


def test_a_shipped_denoiser_on_a_grayscale_npy_image(tmp_path, capsys):
    """A preset with trained weights; an (H, W) array is a one-channel image, as for `denoise`."""
    image = tmp_path / "noisy.npy"
    rng = np.random.default_rng(0)
    np.save(image, (rng.uniform(0, 255, (48, 40)) + rng.normal(0, 25, (48, 40))).astype("float32"))
    out = tmp_path / "a.png"
    code = cli.main(["attention", str(image), "--model", "nl_dncnn_gray_sigma25", "--out", str(out),
                     "--query", "10,12"])
    assert code == 0 and out.stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "block nonlocal4" in printed and "query 10,12: top keys" in printed
