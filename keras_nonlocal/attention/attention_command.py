"""`keras-nonlocal attention INPUT --model M --out FILE`: what a block attends to.

Writes a picture of one non-local block's attention for chosen positions of
the input: for a clip, its frames in a row per query with arrows to the most
attended positions (the paper's Figure 3) or a heat overlay; for an image, a
heat overlay. `.gif` / `.mp4` outputs animate the overlay over the frames.

INPUT is a video (any file PyAV reads, a frame folder or an HDF5 frames
file), an image (PNG, JPEG, TIFF) or a `.npy` array that is fed to the model
as it is (`(T, H, W, C)` or `(H, W, C)`). Without `--query`, the positions
of strongest block input are used (the L2 norm of the features reaching the
block). Pixels reach zoo models with the official normalisation, `.keras`
models scaled to [0, 1] and denoiser presets on the 0–255 scale
(`--preprocess` changes it).
"""

import argparse
import os

import numpy as np

import keras_nonlocal.denoising as denoising
from keras_nonlocal.applications import registry
from keras_nonlocal.command_line import check_input_file
from keras_nonlocal.command_line import check_output_file
from keras_nonlocal.command_line import echo
from keras_nonlocal.command_line import positive_int
from keras_nonlocal.weights.flags import check_weights_file
from keras_nonlocal.weights.flags import weights_argument

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
OUTPUT_SUFFIXES = (".png", ".pdf", ".svg", ".gif", ".mp4")
PREPROCESS = ("official", "unit", "none")
PRETRAINED = "pretrained"


def _position(text):
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a position: give T,Y,X for a clip or Y,X for an image "
            "(non-negative integers)."
        )
    return values


def add_arguments(parser):
    """Adds the `attention` arguments to an `argparse` parser.

    Args:
        parser: an `argparse.ArgumentParser` (the subcommand's parser).

    Example:

    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> parser.parse_args(["clip.mp4", "--model", "m.keras", "--out", "a.png",
    ...                    "--query", "3,100,80"]).query
    [(3, 100, 80)]
    """
    parser.add_argument("input", help="a video, frame folder, HDF5 frames, image or .npy array")
    parser.add_argument("--model", required=True, help="a zoo model name, a denoiser preset or a .keras file")
    parser.add_argument(
        "--weights", default=PRETRAINED, type=weights_argument,
        help="weights for a zoo model: a preset or .weights.h5 path, 'none' for random "
        "(default: the model's pretrained preset)",
    )
    parser.add_argument("--out", required=True, help=f"the picture: one of {', '.join(OUTPUT_SUFFIXES)}")
    parser.add_argument(
        "--query", type=_position, nargs="+", default=None, metavar="T,Y,X",
        help="query positions in the model's input (T,Y,X for clips, Y,X for images); "
        "default: the most salient positions",
    )
    parser.add_argument("--num-queries", type=positive_int, default=3, help="salient queries when --query is not given (default: 3)")
    parser.add_argument("--block", default=None, help="the non-local block's layer name (default: the last one)")
    parser.add_argument("--top-k", type=positive_int, default=8, help="keys drawn per query (default: 8)")
    parser.add_argument("--style", choices=("arrows", "heat"), default=None, help="default: arrows for clips, heat for images")
    parser.add_argument("--preprocess", choices=PREPROCESS, default=None, help="official (zoo default), unit (/255, .keras default) or none (0-255, denoiser presets' default)")
    parser.add_argument("--frames", type=positive_int, default=None, help="clip length when the model does not fix it (default: 8)")
    parser.add_argument("--stride", type=positive_int, default=None, help="temporal stride (default: 8, 2, 1 for 8, 32, 128 frames)")
    parser.add_argument("--crop-size", type=positive_int, default=None, help="frame side when the model does not fix it (default: 224)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def validate(args):
    """Checks the flags, the input, the model and the output before any work.

    Args:
        args: the parsed `argparse.Namespace`.

    Raises:
        ValueError: a bad flag value (exit status 2).
        OSError: a missing input or model, an output that cannot be written
            (exit status 1).
    """
    suffix = os.path.splitext(args.out)[1].lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f"--out {args.out}: the picture must end in one of {', '.join(OUTPUT_SUFFIXES)}")
    if (
        not args.model.endswith(".keras")
        and args.model not in registry.list_models()
        and args.model not in denoising.DENOISER_PRESETS
    ):
        raise ValueError(_unknown_model(args.model))
    check_input_file(args.input, "INPUT", folder_ok=True)
    if args.model.endswith(".keras"):
        check_input_file(args.model, "--model")
    elif args.weights != PRETRAINED and args.model not in denoising.DENOISER_PRESETS:
        check_weights_file(args.weights)
    check_output_file(args.out, "--out", overwrite=args.overwrite or False)


def _unknown_model(spec):
    from keras_nonlocal import applications

    return (
        f"--model {spec}: neither a .keras file nor a zoo model nor a denoiser preset; "
        f"zoo models: {', '.join(applications.list_models())}; denoiser presets: "
        f"{', '.join(denoising.DENOISER_PRESETS)}"
    )


def load_model(spec, weights=PRETRAINED, frames=None, crop_size=None):
    """The model of `--model`: a `.keras` file, a zoo name or a denoiser preset.

    Args:
        spec: a path ending in `.keras`, a name of
            `keras_nonlocal.applications.list_models()` or a denoiser preset
            (a name in `keras_nonlocal.denoising.DENOISER_PRESETS`, loaded
            with `load_denoiser`; its input is on the 0–255 scale).
        weights: for a zoo model, its `weights`: `"pretrained"` for the
            pretrained preset of its family, `None` for random weights.
        frames: for a zoo video model, the clip length to build it for
            (default: its input setting's).
        crop_size: for a zoo model, the frame side to build it for (224).

    Returns:
        `(model, default_preprocess)`.

    Raises:
        FileNotFoundError: for a denoiser preset whose weights are not
            shipped.
    """
    import keras

    from keras_nonlocal import applications
    from keras_nonlocal import denoising

    if spec.endswith(".keras"):
        import keras_nonlocal.layers  # noqa: F401  registers the layers for loading

        return keras.saving.load_model(spec), "unit"
    if spec in denoising.DENOISER_PRESETS:
        try:
            return denoising.load_denoiser(spec), "none"
        except FileNotFoundError as e:
            raise FileNotFoundError(
                f"--model {spec}: {e} Here, give a trained denoiser's .keras file as --model."
            ) from None
    if spec in applications.list_models():
        config = applications.MODEL_CONFIGS[spec]
        if weights == PRETRAINED:
            weights = "kinetics400" if config["video"] else "imagenet"
        kwargs = {"weights": weights}
        if frames or crop_size:
            side = crop_size or 224
            if config["video"]:
                kwargs["input_shape"] = (frames or 8, side, side, 3)
            else:
                kwargs["input_shape"] = (side, side, 3)
        return applications.get_model(spec, **kwargs), "official"
    raise ValueError(_unknown_model(spec))


def _model_grid(model):
    shape = model.input_shape
    if isinstance(shape, list):
        shape = shape[0]
    return tuple(shape[1:-1]), shape[-1]


def _preprocess(pixels, how):
    from keras_nonlocal.applications import preprocess_input

    pixels = np.asarray(pixels, "float32")
    if how == "official":
        return preprocess_input(pixels)
    if how == "unit":
        return pixels / 255.0
    return pixels


def _read_image(path, grid, channels):
    from PIL import Image

    try:
        image = Image.open(path)
        image.load()
    except Exception as e:
        raise ValueError(f"INPUT {path!r} cannot be read as an image: {e}") from e
    image = image.convert("L" if channels == 1 else "RGB")
    if None not in grid[-2:]:
        image = image.resize((grid[-1], grid[-2]), Image.BILINEAR)
    pixels = np.asarray(image)
    return pixels[..., None] if channels == 1 else pixels


def _read_clip(args, grid):
    from keras_nonlocal.data import decoding
    from keras_nonlocal.data import multiview
    from keras_nonlocal.data import sampling
    from keras_nonlocal.data import transforms

    frames = grid[0] or args.frames or 8
    if grid[0] and args.frames and args.frames != grid[0]:
        raise ValueError(f"--frames {args.frames}: the model takes clips of {grid[0]} frames.")
    crop = grid[1] or args.crop_size or 224
    stride = args.stride or multiview.DEFAULT_STRIDES.get(frames, 1)
    clip = decoding.read_frames(args.input, lambda n: sampling.eval_clip_indices(n, frames, stride, 1))
    clip = transforms.short_side_scale(np.asarray(clip)[0], max(crop, transforms.TEST_SCALE))
    clip = transforms.spatial_crop(clip, crop, 1)
    return np.clip(np.asarray(clip), 0, 255).round().astype("uint8")


def read_input(args, model, default_preprocess):
    """The pixels to show and the batch for the model.

    Args:
        args: the parsed arguments (`input`, `preprocess`, `frames`,
            `stride`, `crop_size`).
        model: the loaded model.
        default_preprocess: the model kind's default `--preprocess`.

    Returns:
        `(pixels, batch)`: the clip or image as shown, and a batch of one.
    """
    grid, channels = _model_grid(model)
    rank = len(grid)
    suffix = os.path.splitext(args.input)[1].lower()
    if suffix == ".npy":
        try:
            array = np.load(args.input, allow_pickle=False)
        except Exception as e:
            raise ValueError(f"INPUT {args.input!r} cannot be read as a .npy array: {e}") from e
        if channels == 1 and array.ndim == rank:
            array = array[..., None]  # a grayscale image (H, W) or clip (T, H, W), as `denoise` reads
        if array.ndim != rank + 1 or array.shape[-1] != channels:
            raise ValueError(
                f"INPUT {args.input!r} has shape {array.shape}; the model takes "
                f"{'clips (T, H, W, C)' if rank == 3 else 'images (H, W, C)'} with C={channels}."
            )
        return array, array[None].astype("float32")
    how = args.preprocess or default_preprocess
    if suffix in IMAGE_SUFFIXES:
        if rank != 2:
            raise ValueError(
                f"INPUT {args.input!r} is an image, but the model takes clips; give a video or a .npy clip."
            )
        pixels = _read_image(args.input, grid, channels)
    else:
        if rank != 3:
            raise ValueError(
                f"INPUT {args.input!r} is read as a video, but the model takes images "
                f"({', '.join(IMAGE_SUFFIXES)} or .npy)."
            )
        pixels = _read_clip(args, grid)
    return pixels, _preprocess(pixels, how)[None]


def run(args):
    """Runs the `attention` subcommand (after `validate`).

    Args:
        args: the parsed `argparse.Namespace`.

    Returns:
        0 on success; errors are raised and reported by `keras_nonlocal.cli`.
    """
    from keras_nonlocal.attention import figures
    from keras_nonlocal.attention import maps as attention_maps

    model, default_preprocess = load_model(args.model, args.weights, args.frames, args.crop_size)
    attention_maps.select_block(model, args.block)
    pixels, batch = read_input(args, model, default_preprocess)
    found = attention_maps.attention_maps(
        model, batch, queries=args.query, block=args.block, num_queries=args.num_queries
    )
    suffix = os.path.splitext(args.out)[1].lower()
    is_clip = pixels.ndim == 4
    if suffix in (".gif", ".mp4"):
        if not is_clip:
            raise ValueError(f"--out {args.out!r}: animations are for clips; use .png for an image.")
        figures.save_animation(pixels, found[0], args.out)
    elif is_clip:
        figures.save_figure(
            figures.plot_clip_attention(pixels, found, args.top_k, args.style or figures.ARROWS), args.out
        )
    else:
        figures.save_figure(
            figures.plot_image_attention(pixels, found, args.top_k, args.style or figures.HEAT), args.out
        )
    echo(f"{args.out}: block {found[0].block_name}")
    for m in found:
        query = ",".join(str(a) for a, _ in m.query)
        top = "; ".join(
            f"({','.join(f'{c:.0f}' for c in center)}) {w:.3g}" for center, w in m.top_keys(3)
        )
        echo(f"  query {query}: top keys {top}")
    return 0
