"""The `keras-nonlocal` command: one entry point, one subcommand per job.

Each subcommand lives in its own module, which defines `add_arguments(parser)`,
optionally `validate(args)` (the checks that need no heavy work: flag
combinations, that input files exist, that outputs can be written) and
`run(args) -> int`. Modules are imported only when the parser is built.

Every subcommand, whether run as `keras-nonlocal COMMAND` (`main`) or as one of
the `applications/*.py` scripts (`run_command`), obeys the same rules, enforced
here and nowhere else:

- A user error (a bad flag, a missing or corrupt file, no network) prints
  `PROG: error: MESSAGE` on stderr, one or two lines that name the flag or
  file, and no traceback. `--debug` or `KERAS_NONLOCAL_DEBUG=1` prints the
  traceback as well. Which exceptions are user errors: `user_errors()`.
  Anything else is a bug: a short message, the traceback with `--debug`.
- Exit status as argparse does it: 2 for a bad command line (argparse, a
  command's `validate`, or `UsageError`), 1 for work that failed (a bad file,
  no network), 130 after Ctrl-C and 143 after SIGTERM.
- Results on stdout, everything else on stderr: while a command runs,
  `sys.stdout` *is* stderr (so Keras progress bars and library prints go
  there), and the command prints its results with `echo`.
- SIGTERM raises `Terminated` (a `KeyboardInterrupt`) in the main thread, so
  the cleanup that runs on Ctrl-C (partial downloads, child processes) also
  runs when the process is killed politely.
"""

import argparse
import importlib
import os
import pickle
import signal
import sys
import traceback

from keras_nonlocal.command_line import UsageError
from keras_nonlocal.command_line import results_on_stdout
from keras_nonlocal.command_line import sigterm_as_interrupt
from keras_nonlocal.weights import CheckpointFormatError
from keras_nonlocal.weights import CheckpointMismatchError
from keras_nonlocal.weights import UnsafePickleError
from keras_nonlocal.weights import WeightsDownloadError
from keras_nonlocal.weights import WeightsIntegrityError

# subcommand -> (module, one-line help)
_COMMANDS = {
    "zoo": ("keras_nonlocal.applications.zoo_command", "print the model zoo table (params, FLOPs)"),
    "convert": ("keras_nonlocal.applications.convert_command", "convert an official .pkl checkpoint to .weights.h5"),
    "predict": ("keras_nonlocal.data.predict_command", "top-5 Kinetics classes for a video"),
    "tune": ("keras_nonlocal.tuning.tune_command", "search non-local block placement with keras-tuner"),
    "train": ("keras_nonlocal.training.train_command", "train a zoo model with the paper's recipe"),
    "evaluate": ("keras_nonlocal.training.evaluate_command", "multi-view evaluation of a trained model"),
    "denoise": ("keras_nonlocal.denoising.denoise_command", "denoise images with a pretrained non-local denoiser"),
    "denoise-benchmark": ("keras_nonlocal.denoising.benchmark_command", "PSNR/SSIM/time of our denoiser, NL-means and BM3D"),
    "train-denoiser": ("keras_nonlocal.denoising.train_command", "train a non-local image denoiser on a folder of images"),
    "attention": ("keras_nonlocal.attention.attention_command", "draw what a non-local block attends to"),
}

DEBUG_ENV = "KERAS_NONLOCAL_DEBUG"

EXIT_FAILED = 1  # the work failed: a bad file, no network
EXIT_USAGE = 2  # a bad command line, as argparse
# Interrupted: 128 + the signal number (130 for Ctrl-C, 143 for SIGTERM).

# What a user can cause with a bad flag, file or network; everything else is a
# bug. The package's own errors are listed even where a base class covers them,
# so that this tuple reads as the list of what a user may see.
_USER_ERRORS = (
    ValueError,  # a bad value, found by a command or the library's checks
    TypeError,  # a value of the wrong kind, from the same checks
    OSError,  # missing, unreadable or unwritable files; the network
    EOFError,  # an empty file
    pickle.UnpicklingError,  # a file that is not a pickle
    ModuleNotFoundError,  # an optional dependency (an extra) is not installed
    UnsafePickleError,
    CheckpointFormatError,
    CheckpointMismatchError,
    WeightsDownloadError,
    WeightsIntegrityError,
)
# The video pipeline's errors, by module: `keras_nonlocal.data` needs
# TensorFlow, which the denoising commands on JAX / PyTorch run without. An
# error cannot come from a module that was never imported, so each is looked
# up only once its module is loaded.
_VIDEO_ERRORS = (
    ("keras_nonlocal.data.decoding", "VideoDecodeError"),
    ("keras_nonlocal.data.pipeline", "TooManyBadFilesError"),
)


def user_errors():
    """The exception types that the command line reports as user errors.

    A user error is printed as one `PROG: error: MESSAGE` line (two at most)
    with exit status 1 (2 for `UsageError`); any other exception is a bug.

    Returns:
        A tuple of exception classes.

    Example:

    >>> issubclass(FileNotFoundError, user_errors())
    True
    >>> issubclass(ZeroDivisionError, user_errors())
    False
    """
    loaded = tuple(
        getattr(sys.modules[module], name)
        for module, name in _VIDEO_ERRORS
        if module in sys.modules
    )
    return _USER_ERRORS + loaded


# ------------------------------------------------------------------ parsing


class ArgumentParser(argparse.ArgumentParser):
    """`argparse.ArgumentParser` whose errors take two lines, not the usage.

    `PROG: error: MESSAGE` and where the usage is; exit status 2.
    """

    def error(self, message):
        self.exit(
            EXIT_USAGE,
            f"{self.prog}: error: {message}\n(run '{self.prog} --help' for the usage)\n",
        )


def _add_debug_flag(parser, default):
    parser.add_argument(
        "--debug", action="store_true", default=default,
        help=f"show the traceback of an error (or set {DEBUG_ENV}=1)",
    )


def _available_commands():
    # A command whose module cannot be imported (the video commands need
    # TensorFlow, which the denoising commands on JAX / PyTorch do without)
    # is left out of the parser rather than failing every command.
    available = {}
    for name, (module, help_text) in _COMMANDS.items():
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        available[name] = (module, help_text)
    return available


def build_parser():
    """Builds the argument parser with every installed subcommand.

    Returns:
        An `argparse.ArgumentParser`.
    """
    parser = ArgumentParser(
        prog="keras-nonlocal",
        description="Non-local neural networks for Keras 3.",
    )
    _add_debug_flag(parser, False)
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
        # Also after the subcommand; SUPPRESS keeps `keras-nonlocal --debug CMD`.
        _add_debug_flag(sub, argparse.SUPPRESS)
        command.add_arguments(sub)
    return parser


# ------------------------------------------------------------------ running


def _debug(args):
    return bool(getattr(args, "debug", False)) or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def _message(error):
    # OSError from open() & co. carries the file apart from its text.
    if isinstance(error, OSError) and error.filename and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error).strip() or type(error).__name__


def _execute(command, args, prog):
    """Runs a parsed command under the rules of this module."""
    debug = _debug(args)
    stage = "validate"
    try:
        with sigterm_as_interrupt(), results_on_stdout():
            validate = getattr(command, "validate", None)
            if validate is not None:
                try:
                    validate(args)
                except UsageError:
                    raise
                except (ValueError, TypeError) as error:
                    raise UsageError(_message(error)) from error
            stage = "run"
            return int(command.run(args) or 0)
    except KeyboardInterrupt as error:
        if debug:
            traceback.print_exc()
        signum = getattr(error, "signum", signal.SIGINT)
        reason = "terminated" if signum != signal.SIGINT else "interrupted"
        print(f"{prog}: {reason}", file=sys.stderr)
        return 128 + signum
    except UsageError as error:
        if debug:
            traceback.print_exc()
        print(f"{prog}: error: {_message(error)}\n(run '{prog} --help' for the usage)", file=sys.stderr)
        return EXIT_USAGE
    except user_errors() as error:
        if debug:
            traceback.print_exc()
        print(f"{prog}: error: {_message(error)}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:  # a bug: say so, briefly
        if debug:
            traceback.print_exc()
        hint = "" if debug else f"; run again with --debug (or {DEBUG_ENV}=1) for the traceback"
        print(
            f"{prog}: internal error while the command ran ({stage}): "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}\n"
            f"This is a bug in keras-nonlocal; please report it{hint}.",
            file=sys.stderr,
        )
        return EXIT_FAILED


def run_command(name, argv=None, prog=None):
    """Runs one subcommand as a stand-alone program (the `applications/` scripts).

    Args:
        name: the subcommand, e.g. `"train"`.
        argv: its arguments, without the program name. Defaults to
            `sys.argv[1:]`.
        prog: the program name shown in usage lines and messages.

    Returns:
        The process exit status (argparse errors exit with `SystemExit(2)`).
    """
    module, help_text = _COMMANDS[name]
    command = importlib.import_module(module)
    parser = ArgumentParser(
        prog=prog,
        description=help_text,
        epilog=command.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_debug_flag(parser, False)
    command.add_arguments(parser)
    args = parser.parse_args(argv)
    return _execute(command, args, parser.prog)


def main(argv=None):
    """Runs the `keras-nonlocal` command line.

    Args:
        argv: list of arguments, without the program name. Defaults to
            `sys.argv[1:]`.

    Returns:
        The process exit status (argparse errors exit with `SystemExit(2)`).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return _execute(importlib.import_module(args._module), args, f"{parser.prog} {args.command}")


if __name__ == "__main__":
    sys.exit(main())
