"""`keras-nonlocal predict VIDEO`: top-5 Kinetics classes for a video.

A thin wrapper: the model comes from `keras_nonlocal.applications.get_model`,
the scores from `keras_nonlocal.data.predict_video` (multi-view testing), the
class names from `keras_nonlocal.applications.decode_predictions`.
"""

import sys

import numpy as np

from keras_nonlocal.applications.input_settings import INPUT_SETTINGS
from keras_nonlocal.weights.loading import weights_argument


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
    parser.add_argument("--model", default="nl_i3d_r50", help="zoo model name (default: nl_i3d_r50)")
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
    parser.add_argument("--frames", type=int, default=None, help="clip length T (default: the model's); with --crop-size, builds the model for that size")
    parser.add_argument("--stride", type=int, default=None, help="temporal stride S (default: 2/8/1 for T=32/8/128)")
    parser.add_argument("--crop-size", type=int, default=None, help="view side (default: the model's, or 256)")
    parser.add_argument("--scale", type=int, default=256, help="short side before cropping (default: 256)")
    parser.add_argument("--short-video", choices=("loop", "pad"), default="loop", help="videos shorter than T*S (default: loop)")
    parser.add_argument("--top", type=int, default=5, help="how many classes to print (default: 5)")
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


def run(args):
    """Runs the `predict` subcommand.

    Args:
        args: the parsed `argparse.Namespace`.

    Returns:
        0 on success, 1 when the video or model cannot be used, 2 for bad
        arguments.
    """
    from keras_nonlocal.data import decoding
    from keras_nonlocal.data import multiview
    from keras_nonlocal.data import sampling

    try:
        sampling.parse_views(args.views)
        if args.top < 1:
            raise ValueError(f"`--top` must be >= 1. Received: --top={args.top}")
    except ValueError as e:
        print(f"keras-nonlocal predict: error: {e}", file=sys.stderr)
        return 2
    weights = args.weights
    # Both given: build the model for that clip size (e.g. 8 frames, or 256
    # pixels for fully-convolutional testing); otherwise use its default.
    input_shape = None
    if args.frames and args.crop_size:
        input_shape = (args.frames, args.crop_size, args.crop_size, 3)
    try:
        model = _build_model(args.model, weights, input_shape, args.input_setting)
    except (ImportError, AttributeError, ValueError) as e:
        print(f"keras-nonlocal predict: error: cannot build model {args.model!r}: {e}", file=sys.stderr)
        return 1
    try:
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
    except (decoding.VideoDecodeError, ValueError) as e:
        print(f"keras-nonlocal predict: error: {e}", file=sys.stderr)
        return 1
    top = min(args.top, scores.shape[-1])
    decoded = _decode_predictions(np.asarray(scores)[None], top)[0]
    print(f"{args.video}: top-{top} of {scores.shape[-1]} classes ({args.model}, {args.views} views)")
    for rank, entry in enumerate(decoded, start=1):
        print(_format_row(rank, entry))
    return 0
