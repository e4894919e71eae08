"""`keras-nonlocal train`: train or fine-tune a zoo model with an official recipe.

A thin wrapper: the clips come from `keras_nonlocal.data.train_dataset` /
`eval_dataset`, the model from `build_model`, the loop from `train`. Every
recipe number has a flag (`--base-lr`, `--lr-step-sizes`, `--warmup`, ...)
defaulting to the chosen official recipe.

Example:

    keras-nonlocal train --model nl_i3d_r50 --train train.csv --val val.csv \\
        --weights imagenet --recipe kinetics400_8x8 --output-dir results/nl_i3d

    # fine-tune Kinetics weights on 10 classes, 2 GPUs, mixed precision
    keras-nonlocal train --model nl_i3d_r50 --train ucf.csv --weights kinetics400 \\
        --recipe kinetics400_8x8 --base-lr 0.001 --max-steps 20000 \\
        --strategy mirrored --mixed-precision

    # several machines: the same command on each, TF_CONFIG set per worker
    TF_CONFIG='{"cluster": {"worker": ["h1:2222", "h2:2222"]},
                "task": {"type": "worker", "index": 0}}' \\
        keras-nonlocal train ... --strategy multi_worker
"""

import json
import os

from keras_nonlocal.applications.registry import zoo_model
from keras_nonlocal.command_line import UsageError
from keras_nonlocal.command_line import check_input_file
from keras_nonlocal.command_line import check_output_folder
from keras_nonlocal.command_line import echo
from keras_nonlocal.command_line import positive_int
from keras_nonlocal.training.recipe import add_recipe_arguments
from keras_nonlocal.weights.flags import check_weights_file
from keras_nonlocal.weights.flags import weights_argument

def add_arguments(parser):
    """Adds the `train` arguments to an `argparse` parser.

    Args:
        parser: an `argparse.ArgumentParser` (the subcommand's parser).

    Example:

    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> args = parser.parse_args(["--train", "train.csv", "--base-lr", "0.02"])
    >>> args.model, args.strategy, args.base_lr
    ('nl_i3d_r50', 'default', 0.02)
    """
    parser.add_argument("--model", default="nl_i3d_r50", type=zoo_model, help="zoo model name (default: nl_i3d_r50)")
    parser.add_argument("--train", required=True, dest="train_source",
                        help="training videos: a path,label list file or a folder of class folders")
    parser.add_argument("--val", dest="val_source", default=None,
                        help="validation videos, scored on one centre view every --eval-every steps")
    parser.add_argument("--classes", type=positive_int, default=None,
                        help="number of classes (default: from the training list)")
    parser.add_argument("--weights", default="imagenet", type=weights_argument,
                        help="initial weights: imagenet (official init), kinetics400, a "
                             ".weights.h5/.pkl file, or none (default: imagenet)")
    parser.add_argument("--output-dir", default=None,
                        help="results folder (default: results/train/<model>); re-running "
                             "with the same folder resumes from its last backup")
    parser.add_argument("--strategy", default="default", choices=("default", "mirrored", "multi_worker"),
                        help="tf.distribute strategy (multi_worker reads TF_CONFIG)")
    parser.add_argument("--communication", default="auto", choices=("auto", "ring", "nccl"),
                        help="multi-worker collectives (default: auto)")
    parser.add_argument("--mixed-precision", nargs="?", const="mixed_float16", default=None,
                        choices=("mixed_float16", "mixed_bfloat16"),
                        help="mixed precision policy (flag alone: mixed_float16)")
    parser.add_argument("--logits", action="store_true", help="build the classifier without softmax")
    parser.add_argument("--val-steps", type=positive_int, default=None, help="batches per validation (default: all)")
    parser.add_argument("--seed", type=int, default=None, help="data seed")
    parser.add_argument("--num-parallel-calls", type=positive_int, default=None,
                        help="decoding threads (default: tf.data.AUTOTUNE)")
    parser.add_argument("--model-kwargs", default=None, metavar="JSON",
                        help='extra NonLocalResNet arguments, e.g. \'{"nonlocal_mode": "dot_product"}\'')
    parser.add_argument("--verbose", type=int, default=None, choices=(0, 1, 2),
                        help="fit verbosity (default: progress bar on the chief)")
    add_recipe_arguments(parser)


def parse_model_kwargs(text):
    """Parses `--model-kwargs` JSON; lists become tuples.

    Args:
        text: a JSON object, or None.

    Returns:
        A dict.

    Example:

    >>> parse_model_kwargs('{"depths": [1, 1, 1, 1]}')
    {'depths': (1, 1, 1, 1)}
    """
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"`--model-kwargs` must be a JSON object ({e}). Received: {text!r}") from None
    if not isinstance(value, dict):
        raise ValueError(f"`--model-kwargs` must be a JSON object. Received: {text!r}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}


def _shard(videos, index, count):
    from keras_nonlocal.data import VideoList

    if count == 1:
        return videos
    return VideoList(videos.paths[index::count], videos.labels[index::count], videos.class_names)


def _without_sharding(ds):
    import tensorflow as tf

    options = tf.data.Options()
    # Each worker already reads its own share of the videos (see _shard).
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return ds.with_options(options)


def build_datasets(args, recipe, strategy):
    """The training and validation datasets of a `train` invocation.

    Multi-worker runs give each worker every `num_workers`-th video, so no
    video is decoded twice.

    Args:
        args: the parsed arguments.
        recipe: the `Recipe`.
        strategy: the `tf.distribute.Strategy`.

    Returns:
        `(train_ds, val_ds, videos)`: val_ds may be None; videos is the
        training `VideoList`.
    """
    import tensorflow as tf

    from keras_nonlocal import data
    from keras_nonlocal.training.strategy import worker_info

    index, count = worker_info(strategy)
    videos = data.as_video_list(args.train_source)
    parallel = args.num_parallel_calls or tf.data.AUTOTUNE
    train_ds = data.train_dataset(
        _shard(videos, index, count),
        num_frames=recipe.num_frames,
        stride=recipe.stride,
        crop_size=recipe.crop_size,
        scale_range=recipe.scale_range,
        batch_size=recipe.batch_size,
        seed=None if args.seed is None else args.seed + index,
        num_parallel_calls=parallel,
    )
    val_ds = None
    if args.val_source:
        val = data.eval_dataset(
            _shard(data.as_video_list(args.val_source), index, count),
            num_frames=recipe.num_frames,
            stride=recipe.stride,
            views="1x1",
            crop_size=recipe.crop_size,
            # The official validation scale is the lower jitter bound (256).
            scale=max(recipe.crop_size, recipe.scale_range[0]),
            batch_size=recipe.batch_size,
            num_parallel_calls=parallel,
        )
        val_ds = val.map(lambda view, label, video: (view, label))
    if count > 1:
        train_ds = _without_sharding(train_ds)
        val_ds = None if val_ds is None else _without_sharding(val_ds)
    return train_ds, val_ds, videos


def _output_dir(args):
    return args.output_dir or os.path.join("results", "train", args.model)


def validate(args):
    """Checks the arguments and the input files before any TensorFlow work.

    Args:
        args: the parsed `argparse.Namespace`.

    Raises:
        ValueError: a bad flag value or combination (exit status 2).
        OSError: a list file, folder or weights file cannot be used (exit
            status 1).
    """
    from keras_nonlocal.training.recipe import Recipe

    Recipe.from_args(args)
    parse_model_kwargs(args.model_kwargs)
    check_input_file(args.train_source, "--train", folder_ok=True)
    if args.val_source:
        check_input_file(args.val_source, "--val", folder_ok=True)
    check_weights_file(args.weights)
    check_output_folder(_output_dir(args), "--output-dir")


def run(args):
    """Runs the `train` subcommand (after `validate`).

    Args:
        args: the parsed `argparse.Namespace`.

    Returns:
        0 on success; errors are raised and reported by `keras_nonlocal.cli`.
    """
    from keras_nonlocal.training.recipe import Recipe
    from keras_nonlocal.training.strategy import get_strategy
    from keras_nonlocal.training.trainer import train

    recipe = Recipe.from_args(args)
    model_kwargs = parse_model_kwargs(args.model_kwargs)
    # First, before any other TensorFlow work (multi-worker set-up).
    strategy = get_strategy(args.strategy, communication=args.communication)
    train_ds, val_ds, videos = build_datasets(args, recipe, strategy)
    classes = args.classes or videos.num_classes
    if classes < 1:
        raise UsageError(f"--train {args.train_source}: cannot tell the number of classes; pass --classes")
    weights = args.weights
    output_dir = _output_dir(args)
    verbose = "auto" if args.verbose is None else args.verbose
    result = train(
        args.model,
        train_ds,
        val_ds,
        recipe=recipe,
        strategy=strategy,
        output_dir=output_dir,
        classes=classes,
        weights=weights,
        mixed_precision=args.mixed_precision,
        logits=args.logits,
        validation_steps=args.val_steps,
        verbose=verbose,
        model_kwargs=model_kwargs,
    )
    if videos.class_names is not None:
        with open(os.path.join(result.output_dir, "class_names.json"), "w", encoding="utf-8") as f:
            json.dump(list(videos.class_names), f)
    echo(
        f"trained {args.model} from step {result.initial_step} to {result.final_step}; "
        f"outputs in {result.output_dir}"
    )
    return 0
