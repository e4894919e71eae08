"""`keras-nonlocal denoise-benchmark --images DIR`: our denoiser against the classical ones.

Adds white Gaussian noise to each clean image (σ on the 0–255 scale, seeded
from `--seed` and the image's name, not clipped nor quantised) and prints, for
each σ, the mean PSNR (peak 255, output clipped to [0, 255]), SSIM and seconds
per image of: the noisy input, scikit-image's non-local means (h = 0.8σ, 5×5
patches, 13×13 search, fast mode), BM3D (the optional `bm3d` package), our
model and its ablation without non-local blocks. Every method runs in this
process on the same noisy images; a model gets one untimed call first (graph
tracing), the others need none.

Into `--out` it writes the per-image results (`denoise-benchmark.csv`), the
table (`denoise-benchmark.md`) and, for each σ, a figure of crops side by side
(`denoise-benchmark-sigma<σ>.png`: noisy | non-local means | BM3D | ours | clean).

Examples:
  keras-nonlocal denoise-benchmark --images set12/ --sigma 15 25 50
  keras-nonlocal denoise-benchmark --images set12/ --sigma 25 --limit 4 --skip ours ablation
"""

import csv
import dataclasses
import os
import sys
import time

import numpy as np

import keras_nonlocal.denoising as denoising
from keras_nonlocal.command_line import echo
from keras_nonlocal.denoising import classical
from keras_nonlocal.denoising.presets import ABLATION_PRESET
from keras_nonlocal.denoising import denoise_command
from keras_nonlocal.denoising import image_io
from keras_nonlocal.denoising import metrics
from keras_nonlocal.denoising import noise

# The preset of the σ = 25 denoiser without non-local blocks (the ablation), a
# key of `keras_nonlocal.denoising.DENOISER_PRESETS`.

CSV_NAME = "denoise-benchmark.csv"
TABLE_NAME = "denoise-benchmark.md"
FIGURE_COLUMNS = ("noisy", "nlm", "bm3d", "ours", "clean")
SKIPPABLE = ("nlm", "bm3d", "ours", "ablation")


class MethodUnavailable(Exception):
    """A method that cannot run here (not installed, no weights): its row says why."""


@dataclasses.dataclass
class Method:
    """One row of the benchmark: how to get a denoiser for a given σ.

    Attributes:
        key: short name (`"nlm"`, `"ours"`, ...), used by `--skip` and the CSV.
        label: the name in the table.
        build: `build(sigma)` returns `denoise(noisy) -> estimate` for
            `(H, W, C)` images on the 0–255 scale, or raises
            `MethodUnavailable` (or ImportError) with the reason.
        warmup: whether to make one untimed call per image size first (a
            Keras model traces its graph for each new input shape).
    """

    key: str
    label: str
    build: object
    warmup: bool = False


@dataclasses.dataclass
class Row:
    """One line of the table: a method at one σ, averaged over the images.

    Attributes:
        sigma: the noise level.
        key: the method's key.
        label: the method's name in the table.
        model: the model's name for learned methods, else `""`.
        psnr: mean PSNR in dB, or `None` when the method did not run.
        ssim: mean SSIM, or `None`.
        seconds: mean seconds per image, or `None` (untimed: the noisy input).
        images: how many images were measured.
        note: why the method did not run, else `""`.
    """

    sigma: float
    key: str
    label: str
    model: str = ""
    psnr: float = None
    ssim: float = None
    seconds: float = None
    images: int = 0
    note: str = ""


def _trained_sigma(weights):
    """The σ a preset was trained for; `None` for the blind one, a file or no preset."""
    if not isinstance(weights, str):
        return None
    return denoising.DENOISER_PRESETS.get(weights, {}).get("sigma")


def _model_method(key, label, load, weights=None):
    # With `weights`, a preset trained for one σ runs at that σ only.
    def build(sigma):
        trained = _trained_sigma(weights)
        if trained is not None and float(trained) != sigma:
            raise MethodUnavailable(f"{weights} is trained for σ={trained:g} only")
        try:
            model = load(sigma)
        except (ImportError, ValueError, OSError, KeyError) as e:
            raise MethodUnavailable(str(e).splitlines()[0] if str(e) else type(e).__name__) from e
        denoise = lambda noisy: denoise_command.denoise_array(model, noisy)  # noqa: E731
        denoise.model = model
        return denoise

    return Method(key, label, build, warmup=True)


def _classical_method(key, label, function):
    def build(sigma):
        if function is classical.bm3d and not classical.bm3d_available():
            raise MethodUnavailable("not installed (pip install keras-nonlocal[bm3d])")
        return lambda noisy: function(noisy, sigma)

    return Method(key, label, build)


def default_methods(weights=None, ablation=ABLATION_PRESET, skip=()):
    """The benchmark's methods, in the table's order.

    Args:
        weights: our model's weights (`None`: the preset σ picks, see
            `keras_nonlocal.denoising.load_denoiser`).
        ablation: the ablation's weights preset or file.
        skip: keys of methods to leave out (`"nlm"`, `"bm3d"`, `"ours"`,
            `"ablation"`).

    Returns:
        A list of `Method`.
    """
    methods = [
        Method("noisy", "noisy input", lambda sigma: (lambda noisy: noisy)),
        _classical_method("nlm", "non-local means", classical.nl_means),
        _classical_method("bm3d", "BM3D", classical.bm3d),
        _model_method("ours", "ours", lambda sigma: denoising.load_denoiser(weights, sigma)),
        _model_method(
            "ablation", "ours, no non-local", lambda sigma: denoising.load_denoiser(ablation, sigma), ablation
        ),
    ]
    return [m for m in methods if m.key not in skip]


def list_images(folder, limit=None):
    """The images of a folder (not its subfolders), sorted by name.

    Args:
        folder: the folder.
        limit: keep only the first `limit`, or all with `None`.

    Returns:
        A list of paths.

    Raises:
        NotADirectoryError: when `folder` is not a folder.
        ValueError: when it holds no images, or `limit` < 1.
    """
    if not os.path.isdir(folder):
        raise NotADirectoryError(f"--images {folder}: not a folder")
    if limit is not None and limit < 1:
        raise ValueError(f"`--limit` must be >= 1. Received: --limit={limit}")
    return denoise_command.expand_inputs([folder])[:limit]


def _crop_box(shape, size):
    height, width = shape[:2]
    h, w = min(size, height), min(size, width)
    top, left = (height - h) // 2, (width - w) // 2
    return slice(top, top + h), slice(left, left + w)


def run_benchmark(paths, sigmas, methods, seed=0, figure_images=2, crop=96, log=None):
    """Measures every method on every image at every σ.

    For each σ, each method is built once (not timed), makes one untimed call
    per image size if it asks for a warm-up, and is then timed on each image's
    noisy version (the same for every method).

    Args:
        paths: clean images (read with `image_io.read_image`).
        sigmas: noise levels on the 0–255 scale.
        methods: a list of `Method` (see `default_methods`).
        seed: the base seed of the noise (with each image's name).
        figure_images: how many of the first images to keep crops of.
        crop: the side of the centre crops kept for the figure.
        log: a function taking one line of progress, or `None`.

    Returns:
        `(rows, records, crops)`: a list of `Row`; a list of per-image dicts
        (`sigma`, `image`, `method`, `psnr`, `ssim`, `seconds`); and
        `{sigma: [(image name, {key: crop})]}` with `"clean"` among the keys.
    """
    sigmas = [noise.check_sigma(s, "--sigma") for s in sigmas]
    if not paths:
        raise ValueError("no images to benchmark")
    clean_images = [(os.path.basename(p), image_io.read_image(p).pixels) for p in paths]
    rows, records, crops = [], [], {}
    for sigma in sigmas:
        noisy_images = [noise.noisy_version(clean, sigma, name, seed) for name, clean in clean_images]
        crops[sigma] = [(name, {"clean": clean[_crop_box(clean.shape, crop)]}) for name, clean in clean_images[:figure_images]]
        for method in methods:
            row = Row(sigma, method.key, method.label)
            rows.append(row)
            try:
                denoise = method.build(sigma)
            except (MethodUnavailable, ImportError) as e:
                row.note = str(e)
                if log is not None:
                    log(f"σ={sigma:g} {method.label}: {row.note}")
                continue
            model = getattr(denoise, "model", None)
            if model is not None:
                row.model = str(getattr(model, "name", ""))
                for (name, clean), noisy in zip(clean_images, noisy_images):
                    denoise_command.check_channels(model, clean.shape[-1], name)
            if method.warmup:  # one untimed call per image size: tracing is not denoising
                sizes = {}
                for noisy in noisy_images:
                    sizes.setdefault(noisy.shape, noisy)
                for noisy in sizes.values():
                    denoise(noisy.astype(np.float32))
            psnrs, ssims, times = [], [], []
            for index, ((name, clean), noisy) in enumerate(zip(clean_images, noisy_images)):
                start = time.perf_counter()
                estimate = np.asarray(denoise(noisy.astype(np.float32) if model is not None else noisy))
                seconds = time.perf_counter() - start
                psnrs.append(metrics.psnr(clean, estimate))
                ssims.append(metrics.ssim(clean, estimate))
                times.append(seconds)
                records.append(
                    {"sigma": sigma, "image": name, "method": method.key, "psnr": psnrs[-1], "ssim": ssims[-1],
                     "seconds": None if method.key == "noisy" else seconds}
                )
                if index < figure_images:
                    crops[sigma][index][1][method.key] = np.clip(estimate[_crop_box(estimate.shape, crop)], 0, 255)
                if log is not None:
                    log(f"σ={sigma:g} {method.label} {name}: {psnrs[-1]:.2f} dB, {seconds:.2f} s")
            row.psnr, row.ssim = float(np.mean(psnrs)), float(np.mean(ssims))
            row.seconds = None if method.key == "noisy" else float(np.mean(times))
            row.images = len(psnrs)
    return rows, records, crops


def _cells(row):
    if row.psnr is None:
        return [f"{row.sigma:g}", row.label, row.model, row.note]
    seconds = "-" if row.seconds is None else f"{row.seconds:.3f}"
    return [f"{row.sigma:g}", row.label, row.model, f"{row.psnr:.2f}", f"{row.ssim:.4f}", seconds]


_HEADER = ["σ", "method", "model", "PSNR (dB)", "SSIM", "s/image"]


def format_table(rows):
    """The results as an aligned text table.

    A method that did not run gets its reason in place of its numbers (the
    reason does not widen the columns).

    Args:
        rows: a list of `Row`.

    Returns:
        The table as a string.

    Example:

    >>> print(format_table([Row(25, "noisy", "noisy input", psnr=20.17, ssim=0.3, images=1),
    ...                     Row(25, "bm3d", "BM3D", note="not installed")]))
    σ   method       model  PSNR (dB)  SSIM    s/image
    25  noisy input         20.17      0.3000  -
    25  BM3D                not installed
    """
    lines = [_HEADER] + [_cells(row) for row in rows]
    widths = [max(len(line[i]) for line in lines if len(line) == len(_HEADER) or i < len(line) - 1)
              for i in range(len(_HEADER))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)


def format_markdown(rows):
    """The results as a Markdown table.

    Args:
        rows: a list of `Row`.

    Returns:
        The table as a string.
    """
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    lines += ["| " + " | ".join((_cells(row) + ["", ""])[: len(_HEADER)]) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_csv(path, records):
    """Writes the per-image results.

    Args:
        path: the CSV file.
        records: the per-image dicts of `run_benchmark`.
    """
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["sigma", "image", "method", "psnr", "ssim", "seconds"])
        writer.writeheader()
        for record in records:
            writer.writerow(
                {
                    **record,
                    "sigma": f"{record['sigma']:g}",
                    "psnr": f"{record['psnr']:.4f}",
                    "ssim": f"{record['ssim']:.5f}",
                    "seconds": "" if record["seconds"] is None else f"{record['seconds']:.4f}",
                }
            )


def figure_name(sigma):
    """The figure's file name for one σ.

    Example:

    >>> figure_name(25.0)
    'denoise-benchmark-sigma25.png'
    """
    return f"denoise-benchmark-sigma{sigma:g}.png"


def plot_crops(path, sigma, crops, rows):
    """Writes a figure of crops side by side: noisy | NL-means | BM3D | ours | clean.

    Args:
        path: the PNG file.
        sigma: the noise level (for the title).
        crops: `[(image name, {key: crop})]` for this σ (from `run_benchmark`).
        rows: the table's rows (for the column titles).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt

    labels = {row.key: row.label for row in rows}
    labels["clean"] = "clean"
    columns = [key for key in FIGURE_COLUMNS if any(key in kept for _, kept in crops)]
    figure, axes = plt.subplots(
        len(crops), len(columns), figsize=(2.2 * len(columns), 2.9 * len(crops)), squeeze=False
    )
    for r, (name, kept) in enumerate(crops):
        for c, key in enumerate(columns):
            axis = axes[r][c]
            axis.set_axis_off()
            if key not in kept:
                continue
            crop = kept[key]
            gray = crop.shape[-1] == 1
            axis.imshow(crop[..., 0] if gray else crop / 255.0, cmap="gray" if gray else None, vmin=0, vmax=255 if gray else 1)
            title = labels.get(key, key)
            if key != "clean":
                title += f"\n{metrics.psnr(kept['clean'], crop):.2f} dB (crop)"
            axis.set_title(f"{name}\n{title}" if c == 0 else title, fontsize=8)
    figure.suptitle(f"σ = {sigma:g}", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def add_arguments(parser):
    """Adds the `denoise-benchmark` arguments to an `argparse` parser.

    Args:
        parser: an `argparse.ArgumentParser` (the subcommand's parser).

    Example:

    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> args = parser.parse_args(["--images", "set12", "--sigma", "15", "25"])
    >>> args.sigma, args.skip, args.out
    ([15.0, 25.0], [], 'denoise-benchmark')
    """
    parser.add_argument("--images", required=True, metavar="DIR", help="a folder of clean images")
    parser.add_argument(
        "--sigma", nargs="+", type=denoise_command.sigma_argument, default=[15.0, 25.0, 50.0], metavar="S",
        help="noise levels on the 0-255 scale (default: 15 25 50)",
    )
    parser.add_argument("--limit", type=_positive_int, default=None, metavar="N", help="only the first N images")
    parser.add_argument("--skip", nargs="+", choices=SKIPPABLE, default=[], metavar="METHOD", help=f"leave out methods: {', '.join(SKIPPABLE)}")
    parser.add_argument("--seed", type=int, default=0, help="base seed of the noise (default: 0)")
    parser.add_argument("--weights", default=None, metavar="W", help="our model's weights (default: the preset σ picks)")
    parser.add_argument("--ablation", default=ABLATION_PRESET, metavar="W", help=f"the ablation's weights (default: {ABLATION_PRESET})")
    parser.add_argument("--out", default="denoise-benchmark", metavar="DIR", help="folder for the CSV, table and figures (default: ./denoise-benchmark)")
    parser.add_argument("--figure-images", type=_positive_int, default=2, metavar="N", help="images in each figure (default: 2)")
    parser.add_argument("--crop", type=_positive_int, default=96, metavar="PIXELS", help="side of the figure's centre crops (default: 96)")
    parser.add_argument("--overwrite", action="store_true", help="replace results already in --out")


def _positive_int(value):
    import argparse

    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1; received {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1; received {value!r}")
    return number


def _outputs(out, sigmas):
    return [os.path.join(out, CSV_NAME), os.path.join(out, TABLE_NAME)] + [
        os.path.join(out, figure_name(s)) for s in sigmas
    ]


def _check_outputs(out, sigmas, overwrite):
    denoise_command.check_out_dir(out)
    if not overwrite:
        for path in _outputs(out, sigmas):
            if os.path.exists(path):
                raise FileExistsError(f"{path}: exists; pass --overwrite to replace it")


def _log(line):
    print(line, file=sys.stderr, flush=True)


def validate(args):
    """Checks the images, options and outputs, before any work.

    Args:
        args: the parsed `argparse.Namespace`.

    Returns:
        The image paths to measure.

    Raises:
        ValueError: for bad options or unsupported images.
        OSError: for a missing `--images` folder, unreadable images, or
            results in `--out` that exist (without `--overwrite`).
    """
    paths = list_images(args.images, args.limit)
    for path in paths:
        image_io.probe_image(path)
    _check_outputs(args.out, list(dict.fromkeys(args.sigma)), args.overwrite)
    return paths


def run(args):
    """Runs the `denoise-benchmark` subcommand.

    Args:
        args: the parsed `argparse.Namespace`.

    Returns:
        0 on success.

    Raises:
        ValueError: for bad options or images (named in the message).
        OSError: for files that cannot be read or written.
    """
    paths = validate(args)
    sigmas = list(dict.fromkeys(args.sigma))
    methods = default_methods(weights=args.weights, ablation=args.ablation, skip=set(args.skip))
    rows, records, crops = run_benchmark(
        paths, sigmas, methods, seed=args.seed, figure_images=args.figure_images, crop=args.crop, log=_log
    )
    echo(f"{len(paths)} image(s) from {args.images}, seed {args.seed}")
    echo(format_table(rows))
    os.makedirs(args.out, exist_ok=True)
    write_csv(os.path.join(args.out, CSV_NAME), records)
    with open(os.path.join(args.out, TABLE_NAME), "w", encoding="utf-8") as f:
        f.write(format_markdown(rows))
    for sigma in sigmas:
        plot_crops(os.path.join(args.out, figure_name(sigma)), sigma, crops[sigma], rows)
    _log(f"wrote {', '.join(_outputs(args.out, sigmas))}")
    return 0
