"""`keras-nonlocal predict VIDEO`: top-5 Kinetics classes for a video.

A thin wrapper: the model comes from `keras_nonlocal.applications.get_model`,
the scores from `keras_nonlocal.data.predict_video` (multi-view testing), the
class names from `keras_nonlocal.applications.decode_predictions`.
"""

import numpy as np

from keras_nonlocal.applications.input_settings import INPUT_SETTINGS
from keras_nonlocal.applications.registry import zoo_model
from keras_nonlocal.command_line import check_input_file
from keras_nonlocal.command_line import echo
from keras_nonlocal.command_line import positive_int
from keras_nonlocal.weights.flags import check_weights_file
from keras_nonlocal.weights.flags import weights_argument


def add_arguments(parser):
    """Adds the `predict` arguments to an `argparse` parser.

    Args:
        parser: an `argparse.ArgumentParser` (the subcommand's parser).

    Example:

    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> parser.parse_args(["clip.mp4"]).views
    '10x3'
    """
    parser.add_argument("video", help="a video file, frame folder or HDF5 frames file")
    parser.add_argument("--model", default="nl_i3d_r50", type=zoo_model, help="zoo model name (default: nl_i3d_r50)")
    parser.add_argument(
        "--weights",
        default="kinetics400",
        type=weights_argument,
        help="weights preset or .weights.h5 path; 'none' for random weights (default: kinetics400)",
    )
    parser.add_argument(
        "--input-setting",
        default=None,
        choices=sorted(INPUT_SETTINGS),
        help="the model's input setting (default: the checkpoint's; without one, 32x2). "
        "A checkpoint of another setting is refused; --frames does not choose it",
    )
    parser.add_argument("--views", default="10x3", help="<clips>x<crops>, crops 1 or 3 (default: 10x3)")
    parser.add_argument("--frames", type=positive_int, default=None, help="clip length T (default: the model's); with --crop-size, builds the model for that size")
    parser.add_argument("--stride", type=positive_int, default=None, help="temporal stride S (default: 2/8/1 for T=32/8/128)")
    parser.add_argument("--crop-size", type=positive_int, default=None, help="view side (default: the model's); with --frames, builds the model for that size")
    parser.add_argument("--scale", type=positive_int, default=256, help="short side before cropping (default: 256)")
    parser.add_argument("--short-video", choices=("loop", "pad"), default="loop", help="videos shorter than T*S (default: loop)")
    parser.add_argument("--top", type=positive_int, default=5, help="how many classes to print (default: 5)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _build_model(name, weights, input_shape=None, input_setting=None):
    from keras_nonlocal import applications

    kwargs = {"weights": weights, "input_setting": input_setting}
    if input_shape is not None:
        kwargs["input_shape"] = input_shape
    return applications.get_model(name, **kwargs)


def _decode_predictions(preds, top):
    from keras_nonlocal import applications

    return applications.decode_predictions(preds, top=top)


def _format_row(rank, entry):
    score = float(entry[-1])
    names = [str(v) for v in entry[:-1]]
    name = names[-1] if names else "?"
    return f"{rank:>2}. {name:<40} {score:.4f}"


def validate(args):
    """Checks the arguments and the input files before a model is built.

    Args:
        args: the parsed `argparse.Namespace`.

    Raises:
        ValueError: a bad flag value or combination (exit status 2).
        OSError: the video or the weights file cannot be read (exit status 1).
    """
    from keras_nonlocal.data import sampling

    sampling.parse_views(args.views)
    # The model is built for another clip size only when both are given; one
    # alone would meet a model of the default size and fail after the build.
    given = [f for f, v in (("--frames", args.frames), ("--crop-size", args.crop_size)) if v]
    if len(given) == 1:
        other = "--crop-size" if given[0] == "--frames" else "--frames"
        raise ValueError(
            f"{given[0]} needs {other} as well: the model is built for another clip "
            f"size only when both are given (e.g. --frames 8 --crop-size 224)"
        )
    check_input_file(args.video, "video", folder_ok=True)
    check_weights_file(args.weights)


def run(args):
    """Runs the `predict` subcommand (after `validate`).

    Args:
        args: the parsed `argparse.Namespace`.

    Returns:
        0 on success; errors are raised and reported by `keras_nonlocal.cli`.
    """
    from keras_nonlocal.data import multiview

    input_shape = None
    if args.frames and args.crop_size:
        input_shape = (args.frames, args.crop_size, args.crop_size, 3)
    model = _build_model(args.model, args.weights, input_shape, args.input_setting)
    scores = multiview.predict_video(
        args.video,
        model,
        num_frames=args.frames,
        stride=args.stride,
        views=args.views,
        crop_size=args.crop_size,
        scale=args.scale,
        short_video=args.short_video,
        progress=not args.no_progress,
    )
    top = min(args.top, scores.shape[-1])
    decoded = _decode_predictions(np.asarray(scores)[None], top)[0]
    echo(f"{args.video}: top-{top} of {scores.shape[-1]} classes ({args.model}, {args.views} views)")
    for rank, entry in enumerate(decoded, start=1):
        echo(_format_row(rank, entry))
    return 0
