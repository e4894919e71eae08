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
import contextlib
import importlib
import os
import pickle
import signal
import sys
import threading
import traceback

import h5py

from keras_nonlocal.applications import registry
from keras_nonlocal.data import TooManyBadFilesError
from keras_nonlocal.data import VideoDecodeError
from keras_nonlocal.weights import CheckpointFormatError
from keras_nonlocal.weights import CheckpointMismatchError
from keras_nonlocal.weights import UnsafePickleError
from keras_nonlocal.weights import WeightsDownloadError
from keras_nonlocal.weights import WeightsIntegrityError
from keras_nonlocal.weights import validate_weights_argument

# subcommand -> (module, one-line help)
_COMMANDS = {
    "zoo": ("keras_nonlocal.applications.zoo_command", "print the model zoo table (params, FLOPs)"),
    "convert": ("keras_nonlocal.weights.convert_command", "convert an official .pkl checkpoint to .weights.h5"),
    "predict": ("keras_nonlocal.data.predict_command", "top-5 Kinetics classes for a video"),
    "tune": ("keras_nonlocal.tuning.tune_command", "search non-local block placement with keras-tuner"),
    "train": ("keras_nonlocal.training.train_command", "train a zoo model with the paper's recipe"),
    "evaluate": ("keras_nonlocal.training.evaluate_command", "multi-view evaluation of a trained model"),
    "denoise": ("keras_nonlocal.denoising.denoise_command", "denoise images with a pretrained non-local denoiser"),
    "denoise-benchmark": ("keras_nonlocal.denoising.benchmark_command", "PSNR/SSIM/time of our denoiser, NL-means and BM3D"),
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
    VideoDecodeError,
    TooManyBadFilesError,
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
    return _USER_ERRORS


class UsageError(ValueError):
    """A bad command line found after parsing: exit status 2.

    Raise it from a command's `run` for a flag value or combination that can
    only be judged once some work is done (`validate` turns its own
    `ValueError` / `TypeError` into this).

    Example:

    >>> raise UsageError("--frames 8 and --crop-size 32 are needed together")  # doctest: +SKIP
    """


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread while a command runs.

    A subclass of `KeyboardInterrupt`, so `finally` clauses and `except
    KeyboardInterrupt` cleanups run exactly as after Ctrl-C.

    Args:
        signum: the signal number.
    """

    def __init__(self, signum=signal.SIGTERM):
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = int(signum)


# ------------------------------------------------------------------ flag types


def _typed(text, convert, kind):
    try:
        return convert(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None


def positive_int(text):
    """An argparse `type=` for integers >= 1 (frames, strides, sizes, counts).

    Args:
        text: the flag's text.

    Returns:
        The integer.

    Raises:
        argparse.ArgumentTypeError: argparse then names the flag and exits
            with status 2.

    Example:

    >>> positive_int("8")
    8
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected an integer >= 1, got '0'
    """
    value = _typed(text, int, "an integer >= 1")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def non_negative_int(text):
    """An argparse `type=` for integers >= 0 (seeds, optional counts).

    Args:
        text: the flag's text.

    Returns:
        The integer.

    Example:

    >>> non_negative_int("0")
    0
    """
    value = _typed(text, int, "an integer >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def positive_float(text):
    """An argparse `type=` for finite numbers > 0 (learning rates, timeouts).

    Args:
        text: the flag's text.

    Returns:
        The float.

    Example:

    >>> positive_float("1e-2")
    0.01
    """
    value = _typed(text, float, "a number > 0")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def fraction(text):
    """An argparse `type=` for numbers strictly between 0 and 1.

    Args:
        text: the flag's text.

    Returns:
        The float.

    Example:

    >>> fraction("0.2")
    0.2
    """
    value = _typed(text, float, "a number between 0 and 1")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1 (exclusive), got {text!r}")
    return value


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


def zoo_model(text):
    """An argparse `type=` for `--model`: a name from the model zoo.

    Args:
        text: the flag's text.

    Returns:
        The name.

    Example:

    >>> zoo_model("nl_i3d_r50")
    'nl_i3d_r50'
    """
    names = registry.list_models()
    if text not in names:
        raise argparse.ArgumentTypeError(
            f"unknown zoo model {text!r}; choose from {', '.join(names)}"
        )
    return text


def check_weights_file(weights, flag="--weights"):
    """Checks a `--weights` value before any work.

    Presets (`kinetics400`, `imagenet`), official checkpoint names and URLs
    pass (their download reports its own errors); anything else must be a
    readable file, and a `.h5` file must open as HDF5.

    Args:
        weights: the flag's value (may be `None`).
        flag: the flag's name, for the message.

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError, OSError: the
            file cannot be used (the message names it and the flag).

    Example:

    >>> check_weights_file("kinetics400")
    >>> check_weights_file("missing.weights.h5")
    Traceback (most recent call last):
    ...
    FileNotFoundError: --weights missing.weights.h5: no such file (nor a preset, an official checkpoint name or a URL)
    """
    if weights is None:
        return
    path = os.fspath(weights)
    if not os.path.exists(path):
        try:
            validate_weights_argument(path, include_top=False)
        except ValueError:
            raise FileNotFoundError(
                f"{flag} {path}: no such file (nor a preset, an official checkpoint name or a URL)"
            ) from None
        return
    check_input_file(path, flag)
    if path.endswith(".h5"):
        try:
            with h5py.File(path, "r"):
                pass
        except OSError:
            raise OSError(
                f"{flag} {path}: not an HDF5 file (corrupt or truncated?); give a "
                ".weights.h5 file written by Keras or by `keras-nonlocal convert`"
            ) from None


def check_input_file(path, flag, folder_ok=False):
    """Checks that an input named on the command line exists and is readable.

    Args:
        path: the path.
        flag: the flag or argument name, for the message.
        folder_ok: whether a folder is acceptable too.

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError: with a message
            naming the flag and the path.

    Example:

    >>> check_input_file("no/such.csv", "--data")
    Traceback (most recent call last):
    ...
    FileNotFoundError: --data no/such.csv: no such file
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{flag} {path}: no such file{' or folder' if folder_ok else ''}")
    if os.path.isdir(path) and not folder_ok:
        raise IsADirectoryError(f"{flag} {path}: a folder, not a file")
    if not os.access(path, os.R_OK):
        raise PermissionError(f"{flag} {path}: not readable (check its permissions)")


def check_output_file(path, flag, overwrite=None):
    """Checks that an output file can be written, before the work that makes it.

    Args:
        path: the file to be written.
        flag: the flag or argument name, for the message.
        overwrite: `None` when an existing file is simply replaced; `False`
            to refuse an existing file (the command has `--overwrite`).

    Raises:
        FileNotFoundError: its folder does not exist.
        FileExistsError: it exists and `overwrite` is `False`.
        PermissionError, IsADirectoryError: it cannot be written.

    Example:

    >>> check_output_file("no/such/folder/out.weights.h5", "output")
    Traceback (most recent call last):
    ...
    FileNotFoundError: output no/such/folder/out.weights.h5: the folder no/such/folder does not exist; create it first
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    shown = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{flag} {path}: the folder {shown} does not exist; create it first")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{flag} {path}: a folder; give a file name")
    if os.path.exists(path) and overwrite is False:
        raise FileExistsError(f"{flag} {path} exists; pass --overwrite to replace it")
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"{flag} {path}: the folder {shown} is not writable")


def check_output_folder(path, flag):
    """Checks that an output folder exists or can be created, before any work.

    Args:
        path: the folder (created later by the command).
        flag: the flag's name, for the message.

    Raises:
        NotADirectoryError, PermissionError: with a message naming the flag.

    Example:

    >>> check_output_folder("results/new_run", "--output-dir")  # doctest: +SKIP
    """
    path = os.fspath(path)
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise NotADirectoryError(f"{flag} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK):
        raise PermissionError(f"{flag} {path}: cannot write into {existing}")


# ------------------------------------------------------------------ results


_result_streams = []


def result_stream():
    """Where a command writes its results: the real standard output.

    While a command runs, `sys.stdout` is standard error (progress bars and
    logs go there), so results are printed to this stream (or with `echo`).
    Outside a command it is `sys.stdout`.

    Returns:
        A text stream.

    Example:

    >>> result_stream() is sys.stdout
    True
    """
    return _result_streams[-1] if _result_streams else sys.stdout


def echo(*values, sep=" ", end="\n"):
    """Prints a result line to standard output (see `result_stream`).

    Args:
        *values: what to print, as `print` takes it.
        sep: separator, as for `print`.
        end: line end, as for `print`.

    Example:

    >>> echo("top-1", 0.5)
    top-1 0.5
    """
    print(*values, sep=sep, end=end, file=result_stream(), flush=True)


@contextlib.contextmanager
def _results_on_stdout():
    _result_streams.append(sys.stdout)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _result_streams.pop()


@contextlib.contextmanager
def _terminate_as_interrupt():
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
        with _terminate_as_interrupt(), _results_on_stdout():
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
