"""`keras-nonlocal convert`: an official `.pkl` in, a Keras `.weights.h5` out.

Builds the zoo model, maps every blob onto it (verifying that nothing is
missing, left over or mis-shaped), saves the weights and prints what was
mapped. The checkpoint may be a local `.pkl` or the name of an official file,
which is then downloaded into the cache first.
"""

import os

from keras_nonlocal.applications.input_settings import INPUT_SETTINGS
from keras_nonlocal.applications.registry import get_model
from keras_nonlocal.applications.registry import model_config
from keras_nonlocal.applications.registry import zoo_model
from keras_nonlocal.command_line import check_input_file
from keras_nonlocal.command_line import check_output_file
from keras_nonlocal.command_line import echo
from keras_nonlocal.weights import cache
from keras_nonlocal.weights import convert_checkpoint
from keras_nonlocal.weights import fetch_official_checkpoint
from keras_nonlocal.weights import read_checkpoint
from keras_nonlocal.weights import validate_weights_argument
from keras_nonlocal.weights.presets import OFFICIAL_CHECKPOINTS
from keras_nonlocal.weights.presets import find_official_checkpoint

LICENCE_NOTE = (
    "The official models are released under CC-BY-NC 4.0 "
    "(facebookresearch/video-nonlocal-net); the converted weights inherit it."
)


def add_arguments(parser):
    """Adds the `convert` subcommand's arguments.

    Args:
        parser: an `argparse.ArgumentParser`.

    Example:

    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> parser.parse_args(["c2d.pkl", "c2d.weights.h5", "--model", "c2d_r50"]).model
    'c2d_r50'
    """
    parser.add_argument(
        "checkpoint",
        help="official checkpoint: a local .pkl, or an official file name such as "
        "i3d_nonlocal_8x8_IN_pretrain_400k (downloaded into the cache)",
    )
    parser.add_argument(
        "output", nargs="?", default=None,
        help="Keras weights file to write (must end in .weights.h5)",
    )
    parser.add_argument(
        "--model", default=None, type=zoo_model,
        help="zoo model to convert into, e.g. nl_i3d_r50 (default: inferred from an "
        "official file name)",
    )
    parser.add_argument(
        "--input-setting", default=None, choices=sorted(INPUT_SETTINGS),
        help="input setting of a video model (default: the official file's, else "
        "the model's default); an official file of another setting is refused",
    )
    parser.add_argument(
        "--no-top", action="store_true",
        help="convert the backbone only (no `pred` classifier)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing output file"
    )
    parser.add_argument(
        "--list", action="store_true",
        help="only list the checkpoint's blobs and shapes (no model is built)",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="print every blob -> weight assignment"
    )


def _official_row(checkpoint):
    """The official checkpoint a file or name refers to (`None`: another file)."""
    row = find_official_checkpoint(checkpoint)
    if os.path.exists(checkpoint):
        return row
    if row is None or "/" in checkpoint:
        raise FileNotFoundError(
            f"{checkpoint}: neither a file nor an official checkpoint name; "
            f"known names: {', '.join(sorted(OFFICIAL_CHECKPOINTS))}"
        )
    return row


def _checkpoint_path(checkpoint):
    row = _official_row(checkpoint)
    if os.path.isfile(checkpoint):
        return checkpoint, row
    return fetch_official_checkpoint(row.name), row


def _list_blobs(path):
    checkpoint = read_checkpoint(path)
    for name, blob in checkpoint.blobs.items():
        echo(f"{name} {tuple(blob.shape)}")
    echo(
        f"{len(checkpoint.blobs)} blobs, "
        f"{sum(b.size for b in checkpoint.blobs.values()):,} values; "
        f"{len(checkpoint.solver_state)} solver-state entries skipped"
    )


def validate(args):
    """Checks the arguments, the input and the output before any work.

    A missing output folder or an existing output fails here, not after the
    conversion.

    Args:
        args: the `argparse.Namespace` of `add_arguments`.

    Raises:
        ValueError: a bad flag value or combination (exit status 2).
        OSError: the checkpoint cannot be read or the output cannot be
            written (exit status 1).
    """
    if not args.list and args.output is None:
        raise ValueError("an output .weights.h5 path is needed (or --list)")
    if args.output is not None and not args.output.endswith(".weights.h5"):
        raise ValueError(f"the output must end in '.weights.h5'; received {args.output!r}")
    row = _official_row(args.checkpoint)
    if os.path.exists(args.checkpoint):
        check_input_file(args.checkpoint, "checkpoint")
    if not args.list and args.model is None and row is None:
        raise ValueError(
            "--model is needed for a checkpoint that is not an official file name "
            "(e.g. --model nl_i3d_r50)"
        )
    if row is not None and not args.list:  # an official file carries its input setting
        validate_weights_argument(row.name, include_top=False, input_setting=args.input_setting)
    if args.output is not None and not args.list:
        check_output_file(args.output, "output", overwrite=args.overwrite or False)


def convert(args):
    """Runs the conversion described by parsed arguments.

    Args:
        args: the `argparse.Namespace` of `add_arguments`.

    Returns:
        The `MappingReport`, or `None` with `--list`.

    Example:

    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> convert(parser.parse_args(
    ...     ["c2d_baseline_8x8_IN_pretrain_400k", "c2d.weights.h5"]))  # doctest: +SKIP
    """
    validate(args)
    path, row = _checkpoint_path(args.checkpoint)
    if args.list:
        _list_blobs(path)
        return None
    model_name = args.model or row.models[0]
    input_setting = args.input_setting or (row.input_setting if row else None)
    blobs = read_checkpoint(path).blobs
    conv1 = blobs.get("conv1_w")
    video = model_config(model_name)["video"]
    kwargs = {"weights": None, "include_top": not args.no_top}
    if video and input_setting:
        kwargs["input_setting"] = input_setting
    if not args.no_top and "pred_w" in blobs:
        kwargs["classes"] = int(blobs["pred_w"].shape[0])
    model = get_model(model_name, **kwargs)
    inflate = video and conv1 is not None and conv1.ndim == 4
    report = convert_checkpoint(
        model, path, args.output, include_top=not args.no_top, inflate=inflate,
        overwrite=args.overwrite,
    )
    if row is not None:
        # A cached official file just verified blob by blob: record its SHA-256
        # beside it, as a load through `weights=` does (docs/weights.md).
        cache.record_if_missing(path, source=row.file_name)
    echo(f"{model_name}" + (f" ({input_setting})" if video and input_setting else "")
         + f" <- {path}")
    echo(report.summary(verbose=args.verbose))
    echo(f"Wrote {args.output}")
    echo(LICENCE_NOTE)
    return report


def run(args):
    """Runs `keras-nonlocal convert` (after `validate`).

    Args:
        args: the parsed arguments.

    Returns:
        0 on success; errors are raised and reported by `keras_nonlocal.cli`.
    """
    convert(args)
    return 0

