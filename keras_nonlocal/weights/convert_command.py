"""`keras-nonlocal convert`: an official `.pkl` in, a Keras `.weights.h5` out.

Builds the zoo model, maps every blob onto it (verifying that nothing is
missing, left over or mis-shaped), saves the weights and prints what was
mapped. The checkpoint may be a local `.pkl` or the name of an official file,
which is then downloaded into the cache first.
"""

import os
import sys

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
        "--model", default=None,
        help="zoo model to convert into, e.g. nl_i3d_r50 (default: inferred from an "
        "official file name)",
    )
    parser.add_argument(
        "--input-setting", default=None, choices=("32x2", "8x8", "128x1", "32x4"),
        help="input setting of a video model (default: inferred from an official "
        "file name, else the model's default)",
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


def _checkpoint_path(checkpoint):
    from keras_nonlocal.weights import fetch_official_checkpoint
    from keras_nonlocal.weights import sources

    if os.path.isfile(checkpoint):
        return checkpoint, None
    row = sources.OFFICIAL_CHECKPOINTS.get(
        checkpoint[:-4] if checkpoint.endswith(".pkl") else checkpoint
    )
    if row is None:
        raise ValueError(
            f"{checkpoint!r} is neither a file nor an official checkpoint name; "
            f"known names: {', '.join(sorted(sources.OFFICIAL_CHECKPOINTS))}."
        )
    return fetch_official_checkpoint(row.name), row


def _default_model(row):
    return f"{'nl_' if row.nonlocal_blocks else ''}{row.arch}_r{row.depth}"


def _list_blobs(path):
    from keras_nonlocal.weights import read_checkpoint

    checkpoint = read_checkpoint(path)
    for name, blob in checkpoint.blobs.items():
        print(f"{name} {tuple(blob.shape)}")
    print(
        f"{len(checkpoint.blobs)} blobs, "
        f"{sum(b.size for b in checkpoint.blobs.values()):,} values; "
        f"{len(checkpoint.solver_state)} solver-state entries skipped"
    )


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
    from keras_nonlocal.weights import convert_checkpoint
    from keras_nonlocal.weights import read_checkpoint

    if args.output is not None and os.path.exists(args.output) and not args.overwrite:
        raise FileExistsError(f"{args.output} exists; pass --overwrite to replace it.")
    if not args.list and args.output is None:
        raise ValueError("An output .weights.h5 path is needed (or --list).")
    if args.output is not None and not args.output.endswith(".weights.h5"):
        raise ValueError(f"The output must end in '.weights.h5'; received {args.output!r}.")
    path, row = _checkpoint_path(args.checkpoint)
    if args.list:
        _list_blobs(path)
        return None
    model_name = args.model or (_default_model(row) if row else None)
    if model_name is None:
        raise ValueError(
            "--model is needed for a checkpoint that is not an official file name "
            "(e.g. --model nl_i3d_r50)."
        )
    input_setting = args.input_setting or (row.input_setting if row else None)
    blobs = read_checkpoint(path).blobs
    conv1 = blobs.get("conv1_w")
    from keras_nonlocal.applications import get_model
    from keras_nonlocal.applications.registry import model_config

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
    print(f"{model_name}" + (f" ({input_setting})" if video and input_setting else "")
          + f" <- {path}")
    print(report.summary(verbose=args.verbose))
    print(f"Wrote {args.output}")
    print(LICENCE_NOTE)
    return report


def run(args):
    """Runs `keras-nonlocal convert`.

    Args:
        args: the parsed arguments.

    Returns:
        0 on success, 1 on an error (printed to stderr).
    """
    from keras_nonlocal.weights import CheckpointMismatchError
    from keras_nonlocal.weights import UnsafePickleError
    from keras_nonlocal.weights import WeightsDownloadError

    try:
        convert(args)
    except (FileExistsError, ValueError, CheckpointMismatchError, UnsafePickleError,
            WeightsDownloadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0

