"""What every `keras-nonlocal` command shares: flag types, input and output
checks, and where results go.

The command modules (`<package>/<name>_command.py`) import these; the
dispatcher, `keras_nonlocal.cli`, runs them under its rules (one-line errors,
argparse's exit statuses, results on stdout and everything else on stderr).
This module imports nothing from the package, so every layer may use it.
"""

import argparse
import contextlib
import os
import signal
import sys
import threading

class UsageError(ValueError):
    """A bad command line found after parsing: exit status 2.

    Raise it from a command's `run` for a flag value or combination that can
    only be judged once some work is done (`validate` turns its own
    `ValueError` / `TypeError` into this).

    Example:

    >>> raise UsageError("--frames 8 and --crop-size 32 are needed together")  # doctest: +SKIP
    """


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
def results_on_stdout():
    """While a command runs: `sys.stdout` is stderr, `echo` writes to stdout.

    Used by `keras_nonlocal.cli` around every command, so progress bars and
    library prints go to stderr and only results reach standard output.
    """
    _result_streams.append(sys.stdout)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _result_streams.pop()


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


@contextlib.contextmanager
def sigterm_as_interrupt():
    """While in this context, SIGTERM raises `Terminated` in the main thread.

    By default SIGTERM ends a Python process at once, without running
    `finally` blocks, so a download in progress would leave its partial file.
    `keras_nonlocal.cli` runs every command inside this context, so SIGTERM
    unwinds like Ctrl-C; a program that embeds the library can do the same.
    The library itself installs no signal handler. Off the main thread it
    does nothing.

    Example:

    >>> with sigterm_as_interrupt():  # doctest: +SKIP
    ...     keras_nonlocal.weights.download.download(url, path)
    """
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
