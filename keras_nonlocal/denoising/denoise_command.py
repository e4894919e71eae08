"""`keras-nonlocal denoise INPUT... --out DIR`: denoise images with a pretrained model.

Reads PNG, JPEG, TIFF (8- and 16-bit) and `.npy` float arrays on the 0–255
scale, and writes each result in the same format under the same name in DIR.
An INPUT may be a folder: its images (not its subfolders) are taken.

σ is on the 0–255 scale whatever the file's bit depth. `--sigma` 15, 25 or 50
picks the model trained for that σ; any other σ, `--blind` or neither, the
blind model. A colour image given to a grayscale model is denoised channel by
channel. The model is built once for all inputs; inputs and outputs are checked
before it is.

Examples:
  keras-nonlocal denoise scan.png --out clean/ --sigma 25
  keras-nonlocal denoise photos/ --out clean/ --blind --overwrite
"""

import dataclasses
import functools
import os
import sys
import time

import numpy as np

import keras_nonlocal.denoising as denoising
from keras_nonlocal.command_line import echo
from keras_nonlocal.command_line import non_negative_int
from keras_nonlocal.denoising import image_io
from keras_nonlocal.denoising import noise
from keras_nonlocal.denoising.tiling import DEFAULT_TILE_SIZE
from keras_nonlocal.denoising.tiling import denoise_in_tiles


def add_arguments(parser):
    """Adds the `denoise` arguments to an `argparse` parser.

    Args:
        parser: an `argparse.ArgumentParser` (the subcommand's parser).

    Example:

    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> args = parser.parse_args(["a.png", "--out", "clean", "--sigma", "25"])
    >>> args.sigma, args.blind, args.weights
    (25.0, False, None)
    """
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files (PNG, JPEG, TIFF, .npy) or folders of them")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the results (created if missing)")
    level = parser.add_mutually_exclusive_group()
    level.add_argument(
        "--sigma", type=sigma_argument, default=None, metavar="S",
        help="noise level on the 0-255 scale: 15, 25 or 50 pick that model, any other the blind one",
    )
    level.add_argument("--blind", action="store_true", help="use the blind model (the default)")
    parser.add_argument(
        "--weights", default=None, metavar="W",
        help="a denoiser preset, .keras or .weights.h5 file (default: the preset --sigma picks)",
    )
    parser.add_argument(
        "--tile", type=non_negative_int, default=DEFAULT_TILE_SIZE, metavar="PIXELS",
        help=f"denoise images larger than this in overlapping tiles of this side, bounding "
             f"the memory (default: {DEFAULT_TILE_SIZE}; 0: never tile)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace results already in DIR")


def sigma_argument(value):
    """The `--sigma` flag: a finite number >= 0 on the 0–255 scale.

    Args:
        value: the flag's text.

    Returns:
        The value as a float.

    Raises:
        argparse.ArgumentTypeError: for anything else (argparse exits with 2).

    Example:

    >>> sigma_argument("15")
    15.0
    """
    import argparse

    try:
        return noise.check_sigma(value, "--sigma")
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def expand_inputs(inputs):
    """Input paths with each folder replaced by its images, sorted by name.

    Args:
        inputs: file and folder paths.

    Returns:
        A list of file paths.

    Raises:
        FileNotFoundError: for a path that does not exist.
        ValueError: for a folder without images.
    """
    paths = []
    for item in inputs:
        item = os.fspath(item)
        if os.path.isdir(item):
            found = sorted(
                os.path.join(item, name)
                for name in os.listdir(item)
                if not name.startswith(".")
                and os.path.splitext(name)[1].lower() in image_io.FORMATS
                and os.path.isfile(os.path.join(item, name))
            )
            if not found:
                raise ValueError(
                    f"{item}: no images in this folder (expected {', '.join(sorted(image_io.FORMATS))} files)"
                )
            paths.extend(found)
        elif not os.path.exists(item):
            raise FileNotFoundError(f"{item}: no such file or folder")
        else:
            paths.append(item)
    return paths


def _same_file(a, b):
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_out_dir(out_dir):
    """Checks that an output folder exists and is writable, or can be created.

    Args:
        out_dir: the folder (the `--out` flag).

    Raises:
        NotADirectoryError: when it is a file.
        PermissionError: when it cannot be written or created.
    """
    if os.path.exists(out_dir):
        if not os.path.isdir(out_dir):
            raise NotADirectoryError(f"--out {out_dir}: exists and is not a folder")
        if not os.access(out_dir, os.W_OK | os.X_OK):
            raise PermissionError(f"--out {out_dir}: the folder is not writable")
        return
    parent = os.path.dirname(os.path.abspath(out_dir))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"--out {out_dir}: cannot create the folder ({parent} is not a writable folder)")


def plan_outputs(paths, out_dir, overwrite=False):
    """Checks inputs and outputs before any work, and pairs them.

    Each input is written under its own name in `out_dir`. Refused: an
    unreadable or unsupported input, an output that would replace an input,
    two inputs with the same output name, an output that exists (unless
    `overwrite`), and an `out_dir` that cannot be written or created.

    Args:
        paths: the input files.
        out_dir: the output folder.
        overwrite: whether existing outputs (other than inputs) may be
            replaced.

    Returns:
        A list of `(input path, output path, ImageInfo)`.

    Raises:
        ValueError: for duplicate output names or unsupported types.
        OSError: for unreadable inputs, outputs that exist or would replace
            an input, and an unusable `out_dir`.
    """
    out_dir = os.fspath(out_dir)
    check_out_dir(out_dir)
    plan, taken = [], {}
    for path in paths:
        info = image_io.probe_image(path)
        name = os.path.basename(path)
        target = os.path.join(out_dir, name)
        if name in taken:
            raise ValueError(f"{taken[name]} and {path} would both be written to {target}; denoise them into different folders")
        taken[name] = path
        plan.append((path, target, info))
    for _, target, _ in plan:
        for path in paths:
            if _same_file(path, target):
                raise FileExistsError(f"{target}: refusing to write over the input {path}; choose another --out")
        if os.path.lexists(target) and not overwrite:
            raise FileExistsError(f"{target}: exists; pass --overwrite to replace it")
        if os.path.isdir(target):
            raise IsADirectoryError(f"{target}: a folder is in the way of the output")
    return plan


def model_channels(model):
    """The channel count a model takes, or `None` when it does not say.

    Args:
        model: a Keras model (or any callable).

    Returns:
        An int, or `None`.
    """
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):
        return None
    if isinstance(shape, list):
        shape = shape[0]
    channels = shape[-1] if shape else None
    return int(channels) if channels is not None else None


def _predict(model, batch):
    if hasattr(model, "predict_on_batch"):
        out = model.predict_on_batch(batch)
    else:
        out = model(batch)
    if not isinstance(out, np.ndarray):
        import keras

        out = keras.ops.convert_to_numpy(out)
    return np.asarray(out, dtype=np.float32)


def check_channels(model, channels, where):
    """Refuses an image whose channels the model cannot denoise.

    A grayscale model takes colour images (channel by channel); a colour
    model takes colour images only.

    Args:
        model: the denoiser.
        channels: the image's colour channels, 1 or 3.
        where: how to name the image in the error.

    Raises:
        ValueError: for a grayscale image and a colour model.
    """
    expected = model_channels(model)
    if expected is not None and expected != 1 and expected != channels:
        raise ValueError(
            f"{where}: the model takes {expected}-channel images; this one has {channels} "
            "(use a grayscale model, or convert the image to RGB)"
        )


def denoise_array(model, pixels, tile_size=DEFAULT_TILE_SIZE):
    """Denoises one image with a model: `(H, W, C)` on the 0–255 scale in and out.

    A colour image given to a grayscale model is denoised channel by channel,
    one channel in flight at a time. An image larger than `tile_size` on a
    side is denoised in overlapping tiles (`tiling.denoise_in_tiles`), which
    bounds the memory.

    Args:
        model: a Keras model (or a callable) mapping a `(B, H, W, C)` float32
            batch on the 0–255 scale to the denoised batch.
        pixels: the noisy image, `(H, W, C)`.
        tile_size: the largest tile side, or `None` for the whole image at
            once.

    Returns:
        The denoised image, float32, of `pixels`' shape.

    Raises:
        ValueError: for a grayscale image and a colour model.

    Example:

    >>> identity = lambda batch: batch
    >>> denoise_array(identity, np.zeros((5, 7, 3), "float32")).shape
    (5, 7, 3)
    """
    pixels = np.asarray(pixels, dtype=np.float32)
    channels = pixels.shape[-1]
    check_channels(model, channels, "image")
    predict = functools.partial(_predict, model)
    if model_channels(model) == 1 and channels > 1:
        planes = [denoise_in_tiles(predict, pixels[..., c : c + 1], tile_size)[..., 0]
                  for c in range(channels)]
        return np.stack(planes, axis=-1)
    return denoise_in_tiles(predict, pixels, tile_size)


def _write_atomically(target, image):
    folder, name = os.path.split(target)
    stem, suffix = os.path.splitext(name)
    partial = os.path.join(folder, f".{stem}.{os.getpid()}.part{suffix}")
    try:
        image_io.write_image(partial, image)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def denoise_images(paths, out_dir, model, overwrite=False, log=None, tile_size=DEFAULT_TILE_SIZE):
    """Denoises image files with one model and writes them, same name and format, into a folder.

    Everything is checked (see `plan_outputs` and `check_channels`) before the
    first image is denoised. Each result is written under a temporary name and
    renamed, so an interrupted run leaves no partial file.

    Args:
        paths: image files (PNG, JPEG, TIFF, `.npy`).
        out_dir: the output folder, created if missing.
        model: a Keras model (or a callable) on `(B, H, W, C)` float32
            batches on the 0–255 scale.
        overwrite: whether existing outputs may be replaced.
        log: a function taking one line of progress, or `None`.
        tile_size: see `denoise_array`.

    Returns:
        The output paths, in the order of `paths`.

    Example:

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> np.save(os.path.join(folder, "x.npy"), np.full((4, 4), 50.0, "float32"))
    >>> halve = lambda batch: batch / 2
    >>> [out] = denoise_images([os.path.join(folder, "x.npy")], os.path.join(folder, "out"), halve)
    >>> float(np.load(out)[0, 0])
    25.0
    """
    plan = plan_outputs(paths, out_dir, overwrite=overwrite)
    for path, _, info in plan:
        check_channels(model, info.channels, path)
    os.makedirs(out_dir, exist_ok=True)
    outputs = []
    for index, (path, target, _) in enumerate(plan, start=1):
        start = time.perf_counter()
        image = image_io.read_image(path)
        denoised = denoise_array(model, image.pixels, tile_size)
        _write_atomically(target, dataclasses.replace(image, pixels=denoised))
        outputs.append(target)
        if log is not None:
            log(f"[{index}/{len(plan)}] {path} -> {target} ({time.perf_counter() - start:.2f} s)")
    return outputs


def _load_model(weights, sigma):
    return denoising.load_denoiser(weights, sigma)


def _log(line):
    print(line, file=sys.stderr, flush=True)


def validate(args):
    """Checks the inputs and the output folder, before the model is built.

    Args:
        args: the parsed `argparse.Namespace`.

    Returns:
        The plan: a list of `(input path, output path, ImageInfo)`.

    Raises:
        ValueError: for unsupported inputs or two inputs with one output name.
        OSError: for missing or unreadable inputs, outputs that exist or
            would replace an input, and an unusable `--out`.
    """
    return plan_outputs(expand_inputs(args.inputs), args.out, overwrite=args.overwrite)


def run(args):
    """Runs the `denoise` subcommand.

    Args:
        args: the parsed `argparse.Namespace`.

    Returns:
        0 on success.

    Raises:
        ValueError: for bad inputs or options (named in the message).
        OSError: for files that cannot be read or written.
    """
    plan = validate(args)
    start = time.perf_counter()
    model = _load_model(args.weights, None if args.blind else args.sigma)
    _log(f"model: {getattr(model, 'name', model)}")
    paths = [path for path, _, _ in plan]
    outputs = denoise_images(paths, args.out, model, overwrite=args.overwrite, log=_log,
                             tile_size=args.tile or None)
    seconds = time.perf_counter() - start
    echo(
        f"denoised {len(outputs)} image(s) into {args.out} in {seconds:.1f} s "
        f"({seconds / len(outputs):.2f} s per image, the model's loading included)"
    )
    return 0
