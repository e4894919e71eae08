import argparse
import csv
import os

import numpy as np
import pytest

import keras_nonlocal.denoising as denoising
from keras_nonlocal import cli
from keras_nonlocal.denoising import benchmark_command
from keras_nonlocal.denoising import classical
from keras_nonlocal.denoising import metrics
from keras_nonlocal.denoising import noise
from tests.denoising import image_files

pytest.importorskip("skimage")
pytest.importorskip("matplotlib")


@pytest.fixture
def images(tmp_path):
    """Two tiny 8-bit grayscale images."""
    folder = tmp_path / "clean"
    folder.mkdir()
    image_files.write_png(folder / "a.png", image_files.textured(32, 32, seed=1))
    image_files.write_png(folder / "b.png", image_files.textured(28, 36, seed=2))
    return folder


@pytest.fixture
def models(monkeypatch):
    """`load_denoiser` replaced by tiny models: ours is a random residual CNN, the ablation the identity."""
    calls = []
    ours = image_files.residual_model(1)
    identity = image_files.scaling_model(1, 1.0)

    def load(weights, sigma):
        calls.append((weights, sigma))
        return identity if weights == benchmark_command.ABLATION_PRESET else ours

    monkeypatch.setattr(denoising, "load_denoiser", load, raising=False)
    presets = {benchmark_command.ABLATION_PRESET: {"sigma": 25, "channels": 1}}
    monkeypatch.setattr(denoising, "DENOISER_PRESETS", presets, raising=False)
    return {"calls": calls, "ours": ours}


def _parse(argv):
    parser = argparse.ArgumentParser()
    benchmark_command.add_arguments(parser)
    return parser.parse_args(argv)


def _table(out):
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("σ"))
    return lines[start + 1 :]


def test_benchmark_prints_every_method_and_writes_csv_table_and_figure(tmp_path, images, models, capsys):
    out = tmp_path / "report"
    status = cli.main(
        ["denoise-benchmark", "--images", str(images), "--sigma", "15", "25", "--skip", "bm3d", "--out", str(out)]
    )
    assert status == 0
    printed = capsys.readouterr()
    rows = _table(printed.out)
    labels = ["noisy input", "non-local means", "ours", "ours, no non-local"]
    for sigma in ("15", "25"):
        found = [r for r in rows if r.startswith(sigma + " ")]
        assert [label for label in labels if any(f"  {label}  " in r + "  " for r in found)] == labels
    assert "BM3D" not in printed.out
    # the ablation is a σ = 25 preset: its σ = 15 row says so and loads nothing
    ablation_15 = next(r for r in rows if r.startswith("15 ") and "no non-local" in r)
    assert f"{benchmark_command.ABLATION_PRESET} is trained for σ=25 only" in ablation_15
    assert models["calls"] == [(None, 15.0), (None, 25.0), (benchmark_command.ABLATION_PRESET, 25.0)]
    assert "σ=25 non-local means b.png" in printed.err  # progress on stderr
    assert sorted(os.listdir(out)) == [
        "denoise-benchmark-sigma15.png", "denoise-benchmark-sigma25.png",
        "denoise-benchmark.csv", "denoise-benchmark.md",
    ]
    with open(out / "denoise-benchmark.csv", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    assert len(records) == 2 * 2 * 4 - 2  # σ x images x methods, less the ablation at σ = 15
    from PIL import Image

    with Image.open(out / "denoise-benchmark-sigma25.png") as im:
        assert im.format == "PNG" and im.width > im.height > 100
    assert (out / "denoise-benchmark.md").read_text().startswith("| σ | method |")


def test_results_agree_with_an_independent_computation(images, models):
    paths = benchmark_command.list_images(str(images))
    rows, records, _ = benchmark_command.run_benchmark(
        paths, [25], benchmark_command.default_methods(skip={"bm3d"})
    )
    by = {(r["image"], r["method"]): r for r in records}
    from skimage import io as skio
    from skimage.metrics import peak_signal_noise_ratio
    from skimage.restoration import denoise_nl_means

    for path in paths:
        name = os.path.basename(path)
        clean = skio.imread(path).astype(np.float64)
        noisy = clean + 25 * np.random.default_rng(noise.image_seed(0, name)).standard_normal(clean.shape)
        assert by[name, "noisy"]["psnr"] == pytest.approx(
            10 * np.log10(255**2 / np.mean((clean - np.clip(noisy, 0, 255)) ** 2)), abs=1e-9
        )
        nlm = denoise_nl_means(noisy, h=0.8 * 25, sigma=25, fast_mode=True, patch_size=5, patch_distance=6)
        assert by[name, "nlm"]["psnr"] == pytest.approx(
            peak_signal_noise_ratio(clean, np.clip(nlm, 0, 255), data_range=255), abs=1e-6
        )
        ours = models["ours"].predict_on_batch(noisy[None, ..., None].astype(np.float32))[0, ..., 0]
        assert by[name, "ours"]["psnr"] == pytest.approx(metrics.psnr(clean, ours), abs=1e-4)
        # the ablation here is the identity: it sees the same noisy image as every other method
        assert by[name, "ablation"]["psnr"] == pytest.approx(by[name, "noisy"]["psnr"], abs=1e-4)
        assert by[name, "nlm"]["psnr"] > by[name, "noisy"]["psnr"] + 3
    row = {r.key: r for r in rows}
    assert row["nlm"].psnr == pytest.approx(np.mean([by[os.path.basename(p), "nlm"]["psnr"] for p in paths]))
    assert row["noisy"].seconds is None and row["nlm"].seconds > 0 and row["ours"].images == 2
    assert row["ours"].model == "tiny_residual"


def test_noise_does_not_depend_on_the_other_images(images, models):
    paths = benchmark_command.list_images(str(images))
    methods = benchmark_command.default_methods(skip={"bm3d", "nlm", "ours", "ablation"})
    _, both, _ = benchmark_command.run_benchmark(paths, [50], methods, seed=7)
    _, alone, _ = benchmark_command.run_benchmark(paths[1:], [50], methods, seed=7)
    assert both[1]["psnr"] == alone[0]["psnr"]
    _, other_seed, _ = benchmark_command.run_benchmark(paths[1:], [50], methods, seed=8)
    assert other_seed[0]["psnr"] != alone[0]["psnr"]


def test_bm3d_row_says_not_installed_when_it_is_missing(images, models, monkeypatch, capsys):
    monkeypatch.setattr(classical, "bm3d_available", lambda: False)
    args = _parse(["--images", str(images), "--sigma", "25", "--skip", "ours", "ablation", "nlm",
                   "--out", str(images.parent / "r")])
    assert benchmark_command.run(args) == 0
    bm3d_row = next(r for r in _table(capsys.readouterr().out) if "BM3D" in r)
    assert "not installed (pip install keras-nonlocal[bm3d])" in bm3d_row


def test_a_method_without_weights_gets_a_row_saying_why(images, monkeypatch, capsys):
    def load(weights, sigma):
        raise ValueError(f"no shipped weights for sigma={sigma:g}")

    monkeypatch.setattr(denoising, "load_denoiser", load, raising=False)
    monkeypatch.setattr(denoising, "DENOISER_PRESETS", {}, raising=False)
    args = _parse(["--images", str(images), "--sigma", "15", "--skip", "bm3d", "nlm", "--limit", "1",
                   "--out", str(images.parent / "r")])
    assert benchmark_command.run(args) == 0
    rows = _table(capsys.readouterr().out)
    assert sum("no shipped weights for sigma=15" in r for r in rows) == 2
    assert any(r.startswith("15 ") and "noisy input" in r for r in rows)


@pytest.mark.skipif(not classical.bm3d_available(), reason="bm3d is not installed")
def test_bm3d_runs_on_a_32x32_image(tmp_path):
    clean = image_files.textured(32, 32).astype(np.float64)[..., 0]
    noisy = noise.noisy_version(clean, 25, "a.png")
    estimate = classical.bm3d(noisy, 25)
    assert estimate.shape == clean.shape
    assert metrics.psnr(clean, estimate) > metrics.psnr(clean, noisy) + 3
    rgb = image_files.textured(32, 32, 3).astype(np.float64)
    assert classical.bm3d(noise.noisy_version(rgb, 25, "c.png"), 25).shape == (32, 32, 3)


def test_outputs_and_options_are_checked_before_any_work(tmp_path, images, models):
    out = tmp_path / "r"
    out.mkdir()
    (out / "denoise-benchmark.csv").write_text("old")
    with pytest.raises(FileExistsError, match=r"denoise-benchmark\.csv: exists; pass --overwrite"):
        benchmark_command.run(_parse(["--images", str(images), "--sigma", "25", "--out", str(out)]))
    assert models["calls"] == []
    with pytest.raises(NotADirectoryError, match=r"--images .*nowhere: not a folder"):
        benchmark_command.run(_parse(["--images", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]))
    for flags in (["--limit", "0"], ["--sigma", "-1"], ["--skip", "everything"]):
        with pytest.raises(SystemExit) as exit_info:
            _parse(["--images", str(images), *flags])
        assert exit_info.value.code == 2


def test_limit_and_rgb_images_with_a_grayscale_model(tmp_path, models, capsys):
    folder = tmp_path / "rgb"
    folder.mkdir()
    for name in ("x.png", "y.png", "z.png"):
        image_files.write_png(folder / name, image_files.textured(24, 24, 3))
    args = _parse(["--images", str(folder), "--sigma", "25", "--limit", "2", "--skip", "bm3d",
                   "--out", str(tmp_path / "r")])
    assert benchmark_command.run(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 image(s)")
    with open(tmp_path / "r" / "denoise-benchmark.csv", encoding="utf-8") as f:
        assert {r["image"] for r in csv.DictReader(f)} == {"x.png", "y.png"}


def test_the_command_is_registered():
    args = cli.build_parser().parse_args(["denoise-benchmark", "--images", "set12"])
    assert args._module == "keras_nonlocal.denoising.benchmark_command"
    assert args.sigma == [15.0, 25.0, 50.0]


def test_models_get_one_untimed_call_per_image_size(images, monkeypatch):
    model = image_files.residual_model(1)
    shapes = []

    class Recording:
        input_shape = model.input_shape
        name = "recording"

        def predict_on_batch(self, batch):
            shapes.append(batch.shape[1:3])
            return model.predict_on_batch(batch)

    monkeypatch.setattr(denoising, "load_denoiser", lambda weights, sigma: Recording(), raising=False)
    monkeypatch.setattr(denoising, "DENOISER_PRESETS", {}, raising=False)
    paths = benchmark_command.list_images(str(images))  # 32x32 and 28x36
    methods = benchmark_command.default_methods(skip={"nlm", "bm3d", "ablation"})
    benchmark_command.run_benchmark(paths, [25], methods)
    assert shapes == [(32, 32), (28, 36), (32, 32), (28, 36)]  # warm-up per size, then timed
