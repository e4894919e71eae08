import argparse
import os

import numpy as np
import pytest

from keras_nonlocal import cli
from keras_nonlocal.denoising import denoise_command
from keras_nonlocal.denoising import image_io
from tests.denoising import image_files

pytest.importorskip("PIL")
tifffile = pytest.importorskip("tifffile")


@pytest.fixture
def injected(monkeypatch):
    """`load_denoiser` replaced by a model that halves every pixel; records its calls."""
    calls = []
    state = {"model": image_files.scaling_model(1, 0.5)}

    def load(weights, sigma):
        calls.append((weights, sigma))
        return state["model"]

    monkeypatch.setattr(denoise_command, "_load_model", load)
    state["calls"] = calls
    return state


def _parse(argv):
    parser = argparse.ArgumentParser()
    denoise_command.add_arguments(parser)
    return parser.parse_args(argv)


def _read_raw(path):
    if path.endswith(".npy"):
        return np.load(path)
    if path.endswith((".tif", ".tiff")):
        return tifffile.imread(path)
    from PIL import Image

    with Image.open(path) as im:
        return np.array(im)


def test_png_16bit_png_tiff_and_npy_round_trip_shapes_dtypes_and_values(tmp_path, injected, capsys):
    # even samples: their halves are whole, no rounding ties
    gray8 = image_files.textured(13, 21)[..., 0] // 2 * 2
    gray16 = image_files.textured(9, 11)[..., 0].astype(np.uint16) * 250
    tiff16 = image_files.textured(10, 7, 3).astype(np.uint16) * 256
    floats = np.random.default_rng(0).normal(100, 60, (6, 5)).astype(np.float32)
    inputs = [
        image_files.write_png(tmp_path / "gray8.png", gray8),
        image_files.write_png(tmp_path / "gray16.png", gray16),
        str(tmp_path / "rgb16.tif"),
        str(tmp_path / "floats.npy"),
    ]
    tifffile.imwrite(inputs[2], tiff16, photometric="rgb")
    np.save(inputs[3], floats)
    out = tmp_path / "out"
    assert cli.main(["denoise", *inputs, "--out", str(out), "--sigma", "25"]) == 0
    assert injected["calls"] == [(None, 25.0)]  # one model for all inputs
    results = {name: _read_raw(str(out / name)) for name in sorted(os.listdir(out))}
    assert sorted(results) == ["floats.npy", "gray16.png", "gray8.png", "rgb16.tif"]
    # The model halves the 0-255 pixels: each file comes back halved in its own units.
    expect = {"gray8.png": gray8 // 2, "gray16.png": gray16 // 2, "rgb16.tif": tiff16 // 2, "floats.npy": floats / 2}
    for name, expected in expect.items():
        assert results[name].dtype == expected.dtype and results[name].shape == expected.shape, name
        np.testing.assert_allclose(results[name], expected, rtol=1e-6, err_msg=name)
    captured = capsys.readouterr()
    assert "denoised 4 image(s)" in captured.out
    assert "[4/4]" in captured.err and "[4/4]" not in captured.out  # progress on stderr


def test_rgb_image_and_grayscale_model_are_denoised_channel_by_channel(tmp_path):
    calls = []
    model = image_files.residual_model(1)

    class Recording:
        input_shape = model.input_shape

        def predict_on_batch(self, batch):
            calls.append(batch.shape)
            return model.predict_on_batch(batch)

    rgb = image_files.textured(12, 14, 3).astype(np.float32)
    out = denoise_command.denoise_array(Recording(), rgb)
    assert calls == [(1, 12, 14, 1)] * 3
    for c in range(3):
        np.testing.assert_allclose(out[..., c], model.predict_on_batch(rgb[None, ..., c : c + 1])[0, ..., 0], rtol=1e-6)


def test_rgb_model_takes_rgb_whole_and_refuses_grayscale(tmp_path):
    model = image_files.residual_model(3)
    rgb = image_files.textured(8, 10, 3).astype(np.float32)
    np.testing.assert_allclose(denoise_command.denoise_array(model, rgb), model.predict_on_batch(rgb[None])[0])
    gray = image_files.write_png(tmp_path / "gray.png", image_files.textured(8, 10))
    with pytest.raises(ValueError, match=r"gray\.png: the model takes 3-channel images; this one has 1"):
        denoise_command.denoise_images([gray], tmp_path / "out", model)
    assert not os.path.exists(tmp_path / "out")


def test_jpeg_comes_back_as_jpeg_of_the_same_size(tmp_path, injected):
    from PIL import Image

    source = str(tmp_path / "photo.jpeg")
    Image.fromarray(image_files.textured(16, 24, 3)).save(source)
    assert cli.main(["denoise", source, "--out", str(tmp_path / "o")]) == 0
    with Image.open(tmp_path / "o" / "photo.jpeg") as im:
        assert im.format == "JPEG" and im.size == (24, 16) and im.mode == "RGB"


def test_sigma_flags_reach_the_loader(tmp_path, injected):
    source = image_files.write_png(tmp_path / "a.png", image_files.textured(8, 8))
    for flags, expected in [
        (["--sigma", "15"], (None, 15.0)),
        (["--sigma", "30"], (None, 30.0)),  # not a trained σ: load_denoiser picks the blind model
        (["--blind"], (None, None)),
        ([], (None, None)),
        (["--sigma", "50", "--weights", "my.weights.h5"], ("my.weights.h5", 50.0)),
    ]:
        injected["calls"].clear()
        assert cli.main(["denoise", source, "--out", str(tmp_path / "o"), "--overwrite", *flags]) == 0
        assert injected["calls"] == [expected], flags


@pytest.mark.parametrize("flags", [["--sigma", "-5"], ["--sigma", "nan"], ["--sigma", "x"], ["--sigma", "25", "--blind"]])
def test_bad_sigma_flags_are_command_line_errors(flags, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parse(["a.png", "--out", "o", *flags])
    assert exit_info.value.code == 2
    assert "--sigma" in capsys.readouterr().err


def test_refuses_to_write_over_its_inputs_even_with_overwrite(tmp_path, injected):
    samples = image_files.textured(8, 8)[..., 0]
    source = image_files.write_png(tmp_path / "a.png", samples)
    for extra in ([], ["--overwrite"]):
        with pytest.raises(FileExistsError, match=r"a\.png: refusing to write over the input"):
            denoise_command.run(_parse([source, "--out", str(tmp_path), *extra]))
    np.testing.assert_array_equal(_read_raw(source), samples)
    assert injected["calls"] == []  # refused before the model was built


def test_refuses_two_inputs_with_the_same_output_name(tmp_path, injected):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    a = image_files.write_png(tmp_path / "x" / "same.png", image_files.textured(8, 8))
    b = image_files.write_png(tmp_path / "y" / "same.png", image_files.textured(8, 8))
    with pytest.raises(ValueError, match=r"x/same\.png and .*y/same\.png would both be written"):
        denoise_command.run(_parse([a, b, "--out", str(tmp_path / "o")]))
    with pytest.raises(ValueError, match="would both be written"):
        denoise_command.run(_parse([a, a, "--out", str(tmp_path / "o")]))
    assert injected["calls"] == [] and not os.path.exists(tmp_path / "o")


def test_existing_outputs_need_overwrite(tmp_path, injected):
    source = image_files.write_png(tmp_path / "a.png", image_files.textured(8, 8))
    out = tmp_path / "o"
    out.mkdir()
    (out / "a.png").write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match=r"o/a\.png: exists; pass --overwrite"):
        denoise_command.run(_parse([source, "--out", str(out)]))
    assert (out / "a.png").read_bytes() == b"keep me" and injected["calls"] == []
    assert denoise_command.run(_parse([source, "--out", str(out), "--overwrite"])) == 0
    assert _read_raw(str(out / "a.png")).shape == (8, 8)
    assert sorted(os.listdir(out)) == ["a.png"]  # no temporary file left


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda d: str(d / "missing.png"), FileNotFoundError, r"missing\.png: no such file"),
        (lambda d: (d / "notes.txt").write_text("x") and str(d / "notes.txt"), ValueError, r"notes\.txt: unsupported image type"),
        (lambda d: (d / "broken.png").write_bytes(b"\x89PNG junk") and str(d / "broken.png"), OSError, r"broken\.png: cannot read PNG"),
    ],
)
def test_bad_inputs_fail_before_the_model_is_built(tmp_path, injected, make, error, message):
    good = image_files.write_png(tmp_path / "good.png", image_files.textured(8, 8))
    with pytest.raises(error, match=message):
        denoise_command.run(_parse([good, make(tmp_path), "--out", str(tmp_path / "o")]))
    assert injected["calls"] == [] and not os.path.exists(tmp_path / "o")


def test_out_that_is_a_file_is_refused(tmp_path, injected):
    source = image_files.write_png(tmp_path / "a.png", image_files.textured(8, 8))
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match=r"--out .*file: exists and is not a folder"):
        denoise_command.run(_parse([source, "--out", str(tmp_path / "file")]))
    assert injected["calls"] == []


def test_a_folder_input_denoises_its_images(tmp_path, injected):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("b.png", "a.png"):
        image_files.write_png(folder / name, image_files.textured(8, 8))
    (folder / "readme.txt").write_text("not an image")
    (folder / "sub").mkdir()
    assert denoise_command.run(_parse([str(folder), "--out", str(tmp_path / "o")])) == 0
    assert sorted(os.listdir(tmp_path / "o")) == ["a.png", "b.png"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"empty: no images in this folder"):
        denoise_command.run(_parse([str(empty), "--out", str(tmp_path / "o2")]))


def test_a_real_random_model_keeps_odd_shapes(tmp_path, injected):
    injected["model"] = image_files.residual_model(1)
    source = image_files.write_png(tmp_path / "odd.png", image_files.textured(17, 23))
    assert cli.main(["denoise", source, "--out", str(tmp_path / "o")]) == 0
    image = image_io.read_image(str(tmp_path / "o" / "odd.png"))
    assert image.pixels.shape == (17, 23, 1) and image.dtype == np.uint8


def test_the_command_is_registered():
    parser = cli.build_parser()
    args = parser.parse_args(["denoise", "x.png", "--out", "o", "--sigma", "15"])
    assert args._module == "keras_nonlocal.denoising.denoise_command"


def test_an_interrupted_write_leaves_no_partial_file(tmp_path, monkeypatch):
    source = image_files.write_png(tmp_path / "a.png", image_files.textured(8, 8))
    real_write = image_io.write_image

    def write_then_interrupt(path, image):
        real_write(path, image)  # the temporary file exists now
        raise KeyboardInterrupt  # Ctrl-C, or SIGTERM as the command line raises it

    monkeypatch.setattr(image_io, "write_image", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        denoise_command.denoise_images([source], tmp_path / "o", image_files.scaling_model(1, 1.0))
    assert os.listdir(tmp_path / "o") == []
