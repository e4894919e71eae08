"""`keras-nonlocal evaluate`: the paper's multi-view test of a model.

Every video gives `clips x crops` views (10 x 3 by default: 10 clips evenly
along time, 3 crops of 256 x 256 along the long side of frames scaled to short
side 256); the model runs fully-convolutionally on each view and the softmax
scores are averaged per video. Writes `results.json` (top-1, top-5, per-class
accuracy, confusion matrix), `confusion_matrix.png` and `scores.npz`.

Example:

    # a model trained by `keras-nonlocal train` (reads its recipe.json)
    keras-nonlocal evaluate --model nl_i3d_r50 --weights results/nl_i3d --data val.csv

    # the official Kinetics-400 weights
    keras-nonlocal evaluate --model nl_i3d_r50 --weights kinetics400 \\
        --recipe kinetics400_8x8 --data kinetics_val.csv --output-dir results/eval
"""

import json
import os

from keras_nonlocal.applications.input_settings import INPUT_SETTINGS
from keras_nonlocal.applications.registry import zoo_model
from keras_nonlocal.command_line import check_input_file
from keras_nonlocal.command_line import check_output_folder
from keras_nonlocal.command_line import echo
from keras_nonlocal.command_line import positive_int
from keras_nonlocal.weights.flags import check_weights_file
from keras_nonlocal.weights.presets import PRESET_CLASSES


def add_arguments(parser):
    """Adds the `evaluate` arguments to an `argparse` parser.

    Args:
        parser: an `argparse.ArgumentParser` (the subcommand's parser).

    Example:

    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> args = parser.parse_args(["--data", "val.csv", "--weights", "kinetics400"])
    >>> args.views, args.crop_size, args.scale
    ('10x3', 256, 256)
    """
    from keras_nonlocal.training.recipe import DEFAULT_RECIPE
    from keras_nonlocal.training.recipe import RECIPES

    parser.add_argument("--model", default="nl_i3d_r50", type=zoo_model, help="zoo model name (default: nl_i3d_r50)")
    parser.add_argument("--weights", required=True,
                        help="a training output folder (final.weights.h5 + recipe.json), a "
                             ".weights.h5 file, kinetics400, or an official .pkl")
    parser.add_argument("--data", required=True, help="test videos: a path,label list file or class folders")
    parser.add_argument("--classes", type=positive_int, default=None,
                        help="number of classes (default: 400 for kinetics400, else from the data)")
    parser.add_argument("--class-names", default=None, help="class names file (JSON list/dict or one per line)")
    parser.add_argument("--recipe", default=None, choices=sorted(RECIPES),
                        help=f"clip length/stride/input setting (default: the training folder's "
                             f"recipe.json, else {DEFAULT_RECIPE})")
    parser.add_argument("--input-setting", default=None, choices=sorted(INPUT_SETTINGS),
                        help="the model's input setting (default: the recipe's when --recipe or a "
                             "training folder gives one, else the checkpoint's); a checkpoint of "
                             "another setting is refused")
    parser.add_argument("--views", default="10x3", help="<clips>x<crops>, crops 1 or 3 (default: 10x3)")
    parser.add_argument("--num-frames", type=positive_int, default=None, help="clip length T (default: the recipe's)")
    parser.add_argument("--stride", type=positive_int, default=None, help="temporal stride S (default: the recipe's)")
    parser.add_argument("--crop-size", type=positive_int, default=256, help="view side (default: 256, fully-convolutional)")
    parser.add_argument("--scale", type=positive_int, default=256, help="short side before cropping (default: 256)")
    parser.add_argument("--batch-size", type=positive_int, default=30, help="views per batch (default: 30)")
    parser.add_argument("--logits", action="store_true", help="the model outputs logits")
    parser.add_argument("--model-kwargs", default=None, metavar="JSON", help="extra NonLocalResNet arguments")
    parser.add_argument("--output-dir", default=None, help="where to write the report (default: results/eval/<model>)")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1), help="print progress")


def _folder_weights(folder):
    weights = os.path.join(folder, "final.weights.h5")
    if not os.path.isfile(weights):
        raise FileNotFoundError(
            f"--weights {folder}: the folder holds no final.weights.h5 (give the output "
            "folder of `keras-nonlocal train`, a .weights.h5 file or kinetics400)"
        )
    return weights


def _resolve(args):
    """Weights file and recipe of an invocation."""
    from keras_nonlocal.training.recipe import Recipe
    from keras_nonlocal.training.recipe import get_recipe

    weights = args.weights
    recipe = None
    if os.path.isdir(weights):
        folder = weights
        weights = _folder_weights(folder)
        recipe_file = os.path.join(folder, "recipe.json")
        if args.recipe is None and os.path.isfile(recipe_file):
            with open(recipe_file, encoding="utf-8") as f:
                recipe = Recipe.from_dict(json.load(f))
    chosen = recipe is not None or args.recipe is not None
    if recipe is None:
        recipe = get_recipe(args.recipe or "kinetics400_32x2")
    changes = {"dropout_rate": 0.0}
    if args.input_setting:
        changes["input_setting"] = args.input_setting
    elif not chosen:
        changes["input_setting"] = None  # follow the checkpoint
    if args.num_frames:
        changes["num_frames"] = args.num_frames
    if args.stride:
        changes["stride"] = args.stride
    return weights, recipe.replace(**changes)


def _output_dir(args):
    return args.output_dir or os.path.join("results", "eval", args.model)


def validate(args):
    """Checks the arguments and the input files before a model is built.

    Args:
        args: the parsed `argparse.Namespace`.

    Raises:
        ValueError: a bad flag value or combination (exit status 2).
        OSError: the data, class names or weights cannot be used (exit
            status 1).
    """
    from keras_nonlocal import data
    from keras_nonlocal.training.train_command import parse_model_kwargs

    data.parse_views(args.views)
    parse_model_kwargs(args.model_kwargs)
    check_weights_file(_folder_weights(args.weights) if os.path.isdir(args.weights) else args.weights)
    check_input_file(args.data, "--data", folder_ok=True)
    if args.class_names:
        check_input_file(args.class_names, "--class-names")
    check_output_folder(_output_dir(args), "--output-dir")


def run(args):
    """Runs the `evaluate` subcommand (after `validate`).

    Args:
        args: the parsed `argparse.Namespace`.

    Returns:
        0 on success; errors are raised and reported by `keras_nonlocal.cli`.
    """
    from keras_nonlocal import data
    from keras_nonlocal.training.evaluation import evaluate
    from keras_nonlocal.training.model_factory import build_model
    from keras_nonlocal.training.train_command import parse_model_kwargs

    weights, recipe = _resolve(args)
    model_kwargs = parse_model_kwargs(args.model_kwargs)
    videos = data.as_video_list(args.data)
    class_names = data.load_class_names(args.class_names) if args.class_names else videos.class_names
    classes = args.classes or PRESET_CLASSES.get(weights)
    classes = classes or (len(class_names) if class_names else videos.num_classes)
    if class_names is not None and len(class_names) != classes:
        class_names = None
    local_file = str(weights).endswith(".weights.h5")
    model = build_model(
        args.model,
        classes,
        recipe,
        weights=None if local_file else weights,
        input_shape=(recipe.num_frames, args.crop_size, args.crop_size, 3),
        logits=args.logits,
        **model_kwargs,
    )
    if local_file:
        model.load_weights(weights)
    ds = data.eval_dataset(
        videos,
        num_frames=recipe.num_frames,
        stride=recipe.stride,
        views=args.views,
        crop_size=args.crop_size,
        scale=args.scale,
        batch_size=args.batch_size,
    )
    output_dir = _output_dir(args)
    report = evaluate(
        model,
        ds,
        output_dir=output_dir,
        class_names=class_names,
        from_logits=args.logits,
        views=args.views,
        extra={
            "model": args.model,
            "weights": str(weights),
            "data": str(args.data),
            "num_frames": recipe.num_frames,
            "stride": recipe.stride,
            "crop_size": args.crop_size,
            "scale": args.scale,
        },
        verbose=args.verbose,
    )
    echo(
        f"{args.model} on {report.num_videos} videos ({args.views} views): "
        f"top-1 {100 * report.top1:.2f}%  top-5 {100 * report.top5:.2f}%  "
        f"mean class accuracy {100 * report.mean_class_accuracy:.2f}%"
    )
    echo(f"report: {os.path.join(output_dir, 'results.json')}")
    return 0
