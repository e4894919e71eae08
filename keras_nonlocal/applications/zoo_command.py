"""`keras-nonlocal zoo`: the model zoo table, measured from built models.

For every zoo model: its input, parameter count (the official learnable
parameters: convolution kernels, BN scales and offsets, non-local projections,
classifier; BN running statistics listed apart) and multiply-adds ("FLOPs" as
the paper counts them) for the standard input.
"""

import math
import os
import sys

import keras

from keras_nonlocal.applications import registry
from keras_nonlocal.applications.flops import count_macs
from keras_nonlocal.applications.input_settings import INPUT_SETTINGS
from keras_nonlocal.command_line import echo


def add_arguments(parser):
    """Adds the `zoo` subcommand's arguments.

    Args:
        parser: an `argparse.ArgumentParser`.
    """
    parser.add_argument(
        "--models", nargs="+", default=None, metavar="NAME", choices=registry.list_models(),
        help=f"zoo names (default: all of {', '.join(registry.list_models())})",
    )
    parser.add_argument(
        "--input-setting", nargs="+", default=["32x2", "8x8"], metavar="SETTING",
        choices=sorted(INPUT_SETTINGS),
        help=f"input settings of the video models, from {', '.join(sorted(INPUT_SETTINGS))} "
        "(default: 32x2 8x8)",
    )
    parser.add_argument(
        "--format", choices=("markdown", "csv"), default="markdown", help="table format"
    )


def _entries(models, input_settings):
    for name in models or registry.list_models():
        settings = input_settings if registry.model_config(name)["video"] else (None,)
        for setting in settings:
            yield name, setting


def zoo_rows(models=None, input_settings=("32x2", "8x8"), progress=None):
    """Measures every requested zoo model.

    The models are built without initialising their weights (inside a
    `keras.StatelessScope`): the counts need only shapes.

    Args:
        models: zoo names (default: all).
        input_settings: settings to build the video models in.
        progress: optional stream for one line per model before it is built.

    Yields:
        Dicts with `model`, `input`, `params`, `bn_statistics`, `gmacs`.
    """
    entries = list(_entries(models, input_settings))
    for index, (name, setting) in enumerate(entries, start=1):
        if progress is not None:
            label = f"{name} ({setting})" if setting else name
            print(f"[{index}/{len(entries)}] building {label}", file=progress, flush=True)
        kwargs = {"input_setting": setting} if setting else {}
        with keras.StatelessScope():
            model = registry.get_model(name, **kwargs)
        trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
        frozen = sum(math.prod(w.shape) for w in model.non_trainable_weights)
        shape = "×".join(str(s) for s in model.input_shape[1:-1])
        yield {
            "model": name,
            "input": f"{shape} ({setting})" if setting else shape,
            "params": trainable,
            "bn_statistics": frozen,
            "gmacs": count_macs(model) / 1e9,
        }
        del model
        keras.backend.clear_session()


def format_table(rows, fmt="markdown"):
    """Formats zoo rows.

    Args:
        rows: iterable of dicts from `zoo_rows`.
        fmt: `"markdown"` or `"csv"`.

    Returns:
        The table as a string.
    """
    header = ("model", "input", "params (M)", "BN statistics (M)", "GFLOPs (multiply-adds)")
    lines = []
    if fmt == "csv":
        lines.append(",".join(header))
        for r in rows:
            lines.append(f"{r['model']},{r['input']},{r['params']},{r['bn_statistics']},{r['gmacs']:.2f}")
    else:
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for r in rows:
            lines.append(
                f"| {r['model']} | {r['input']} | {r['params'] / 1e6:.2f} | "
                f"{r['bn_statistics'] / 1e6:.3f} | {r['gmacs']:.1f} |"
            )
    return "\n".join(lines)


def run(args):
    """Prints the zoo table, a row as soon as its model is measured.

    The header comes at once and a progress line per model goes to stderr:
    building the R101 models takes a while.

    Args:
        args: parsed arguments (`models`, `input_setting`, `format`).

    Returns:
        The exit status.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    header = format_table([], args.format)
    echo(header)
    for row in zoo_rows(args.models, args.input_setting, progress=sys.stderr):
        echo(format_table([row], args.format)[len(header) + 1:])
    return 0
