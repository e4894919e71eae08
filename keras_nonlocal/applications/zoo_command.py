"""`keras-nonlocal zoo`: the model zoo table, measured from built models.

For every zoo model: its input, parameter count (the official learnable
parameters: convolution kernels, BN scales and offsets, non-local projections,
classifier; BN running statistics listed apart) and multiply-adds ("FLOPs" as
the paper counts them) for the standard input.
"""

import os

import keras

from keras_nonlocal.applications import registry
from keras_nonlocal.applications.input_settings import INPUT_SETTINGS
from keras_nonlocal.applications.flops import count_macs


def add_arguments(parser):
    """Adds the `zoo` subcommand's arguments.

    Args:
        parser: an `argparse.ArgumentParser`.
    """
    parser.add_argument(
        "--models", nargs="+", default=None, metavar="NAME",
        help=f"zoo names (default: all of {', '.join(registry.list_models())})",
    )
    parser.add_argument(
        "--input-setting", nargs="+", default=["32x2", "8x8"], metavar="SETTING",
        choices=sorted(INPUT_SETTINGS),
        help="input settings of the video models (default: 32x2 8x8)",
    )
    parser.add_argument(
        "--format", choices=("markdown", "csv"), default="markdown", help="table format"
    )


def zoo_rows(models=None, input_settings=("32x2", "8x8")):
    """Measures every requested zoo model.

    Args:
        models: zoo names (default: all).
        input_settings: settings to build the video models in.

    Yields:
        Dicts with `model`, `input`, `params`, `bn_statistics`, `gmacs`.
    """
    for name in models or registry.list_models():
        config = registry.model_config(name)
        settings = input_settings if config["video"] else (None,)
        for setting in settings:
            kwargs = {"input_setting": setting} if setting else {}
            model = registry.get_model(name, **kwargs)
            trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
            frozen = sum(int(w.numpy().size) for w in model.non_trainable_weights)
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
    """Prints the zoo table.

    Args:
        args: parsed arguments (`models`, `input_setting`, `format`).

    Returns:
        The exit status.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    unknown = sorted(set(args.models or ()) - set(registry.list_models()))
    if unknown:
        print(f"Unknown model(s): {', '.join(unknown)}. Available: {', '.join(registry.list_models())}")
        return 2
    rows = zoo_rows(args.models, args.input_setting)
    if args.format == "csv":
        print(format_table(rows, "csv"))
    else:
        header_done = False
        for row in rows:  # print as measured: building R101 models takes a while
            table = format_table([row], "markdown").splitlines()
            if not header_done:
                print("\n".join(table[:2]))
                header_done = True
            print(table[2], flush=True)
    return 0
