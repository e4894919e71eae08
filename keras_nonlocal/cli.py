"""The `keras-nonlocal` command: one entry point, one subcommand per job.

Each subcommand lives in its own module, which defines `add_arguments(parser)`
and `run(args) -> int`. Modules are imported only when their subcommand runs, so
`keras-nonlocal --help` stays fast and optional dependencies stay optional.
"""

import argparse
import importlib
import sys

# subcommand -> (module, one-line help)
_COMMANDS = {
    "zoo": ("keras_nonlocal.applications.zoo_command", "print the model zoo table (params, FLOPs)"),
    "convert": ("keras_nonlocal.weights.convert_command", "convert an official .pkl checkpoint to .weights.h5"),
    "predict": ("keras_nonlocal.data.predict_command", "top-5 Kinetics classes for a video"),
    "tune": ("keras_nonlocal.tuning.tune_command", "search non-local block placement with keras-tuner"),
    "train": ("keras_nonlocal.training.train_command", "train a zoo model with the paper's recipe"),
    "evaluate": ("keras_nonlocal.training.evaluate_command", "multi-view evaluation of a trained model"),
    "train-denoiser": ("keras_nonlocal.denoising.train_command", "train a non-local image denoiser on a folder of images"),
}


def weights_argument(value):
    """The `--weights` flag of the commands: `"none"` (or empty) means `None`.

    Use as `parser.add_argument("--weights", type=weights_argument)`.

    Args:
        value: the flag's text.

    Returns:
        `None` for random initialisation, otherwise `value` unchanged.

    Example:

    >>> weights_argument("none") is None
    True
    >>> weights_argument("kinetics400")
    'kinetics400'
    """
    return None if str(value).lower() in ("none", "") else value


def _available_commands():
    available = {}
    for name, (module, help_text) in _COMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            available[name] = (module, help_text)
    return available


def build_parser():
    """Builds the argument parser with every installed subcommand.

    Returns:
        An `argparse.ArgumentParser`.
    """
    parser = argparse.ArgumentParser(
        prog="keras-nonlocal",
        description="Non-local neural networks for Keras 3.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in _available_commands().items():
        command = importlib.import_module(module)
        sub = subparsers.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=command.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(_module=module)
        command.add_arguments(sub)
    return parser


def run_command(name, argv=None, prog=None):
    """Runs one subcommand as a stand-alone program (the `applications/` scripts).

    Args:
        name: the subcommand, e.g. `"train"`.
        argv: its arguments, without the program name. Defaults to
            `sys.argv[1:]`.
        prog: the program name shown in usage lines.

    Returns:
        The process exit status.
    """
    module, help_text = _COMMANDS[name]
    command = importlib.import_module(module)
    parser = argparse.ArgumentParser(
        prog=prog,
        description=help_text,
        epilog=command.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_arguments(parser)
    return int(command.run(parser.parse_args(argv)) or 0)


def main(argv=None):
    """Runs the `keras-nonlocal` command line.

    Args:
        argv: list of arguments, without the program name. Defaults to
            `sys.argv[1:]`.

    Returns:
        The process exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
