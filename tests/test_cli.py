"""The rules every `keras-nonlocal` command obeys (`keras_nonlocal/cli.py`).

A user error is one or two lines on stderr naming the flag or file, with no
traceback (unless `--debug` / `KERAS_NONLOCAL_DEBUG=1`); exit status 2 for a
bad command line, 1 for failed work; results alone on stdout; SIGTERM runs the
Ctrl-C cleanup. The per-command cases live beside each command's tests and use
`assert_user_error` from here.
"""

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from keras_nonlocal import cli
from keras_nonlocal import command_line
from keras_nonlocal.weights import flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def assert_user_error(captured, *names, prog="keras-nonlocal"):
    """One `PROG: error:` message of at most two lines, naming `names`, no traceback.

    Args:
        captured: `capsys.readouterr()` (or anything with `out` and `err`).
        *names: texts the message must contain (the flag, the file).
        prog: the program name that starts the message.

    Returns:
        The message's lines.
    """
    err = captured.err
    assert "Traceback" not in err, err
    lines = err.rstrip("\n").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(f"{prog}") and ": error: " in line]
    assert len(starts) == 1, err
    message = lines[starts[0]:]
    assert 1 <= len(message) <= 2, err
    for name in names:
        assert name in "\n".join(message), (name, err)
    assert captured.out == "", f"stdout is for results only: {captured.out!r}"
    return message


def closed_port():
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ flags


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["predict", "v.mp4", "--stride", "0"], "--stride"),
        (["predict", "v.mp4", "--frames", "0"], "--frames"),
        (["predict", "v.mp4", "--scale", "0"], "--scale"),
        (["predict", "v.mp4", "--crop-size", "-3"], "--crop-size"),
        (["predict", "v.mp4", "--top", "0"], "--top"),
        (["predict", "v.mp4", "--model", "nl_i3d_r18"], "--model"),
        (["convert", "c.pkl", "o.weights.h5", "--model", "r50"], "--model"),
        (["zoo", "--models", "resnet18"], "--models"),
        (["zoo", "--input-setting", "16x4"], "--input-setting"),
        (["train", "--train", "t.csv", "--classes", "0"], "--classes"),
        (["evaluate", "--weights", "w", "--data", "d", "--num-frames", "0"], "--num-frames"),
        (["evaluate", "--weights", "w", "--data", "d", "--scale", "zero"], "--scale"),
        (["tune", "--val-fraction", "1"], "--val-fraction"),
        (["tune", "--stride", "0"], "--stride"),
    ],
)
def test_a_bad_flag_value_exits_2_naming_the_flag(capsys, argv, flag):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    message = assert_user_error(capsys.readouterr(), f"argument {flag}", prog=f"keras-nonlocal {argv[0]}")
    assert "--help" in message[-1]


def test_flag_types_refuse_zero_and_text():
    import argparse

    assert command_line.positive_int("3") == 3 and command_line.non_negative_int("0") == 0
    assert command_line.positive_float("0.5") == 0.5 and command_line.fraction("0.25") == 0.25
    for function, text in [(command_line.positive_int, "0"), (command_line.positive_int, "1.5"), (command_line.non_negative_int, "-1"),
                           (command_line.positive_float, "0"), (command_line.positive_float, "inf"), (command_line.positive_float, "nan"),
                           (command_line.fraction, "0"), (command_line.fraction, "1")]:
        with pytest.raises(argparse.ArgumentTypeError, match=repr(text)):
            function(text)


def test_a_missing_command_prints_the_help_on_stderr(capsys):
    assert cli.main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "COMMAND" in captured.err


# ------------------------------------------------------------------ the mechanism


@pytest.fixture
def fake_command(monkeypatch):
    """`keras-nonlocal zoo` replaced by a command whose `run` does `behaviour`."""
    from keras_nonlocal.applications import zoo_command

    state = {}

    def run(args):
        print("progress 1/1")  # as a library or a Keras progress bar would
        command_line.echo("the result")
        state["behaviour"]()
        return 0

    monkeypatch.setattr(zoo_command, "run", run)
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    return state


def test_results_go_to_stdout_and_progress_to_stderr(fake_command, capsys):
    fake_command["behaviour"] = lambda: None
    assert cli.main(["zoo"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "the result\n"
    assert "progress 1/1" in captured.err


@pytest.mark.parametrize(
    "error",
    [
        FileNotFoundError(2, "No such file or directory", "clip.mp4"),
        ValueError("clip.mp4: 3 frames, the clip needs 8"),
        EOFError("clip.pkl: empty file"),
    ],
)
def test_a_user_error_is_one_line_and_exits_1(fake_command, capsys, error):
    def fail():
        raise error

    fake_command["behaviour"] = fail
    assert cli.main(["zoo"]) == 1
    message = assert_user_error(capsys.readouterr()._replace(out=""), "clip.")
    assert len(message) == 1


def test_a_usage_error_raised_during_the_work_exits_2(fake_command, capsys):
    def fail():
        raise command_line.UsageError("--blocks 10 does not fit the backbone")

    fake_command["behaviour"] = fail
    assert cli.main(["zoo"]) == 2
    assert_user_error(capsys.readouterr()._replace(out=""), "--blocks")


def test_a_bug_is_reported_briefly_with_the_way_to_see_the_traceback(fake_command, capsys):
    def fail():
        return {}["missing"]

    fake_command["behaviour"] = fail
    assert cli.main(["zoo"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "internal error" in err and "KeyError" in err and "--debug" in err
    assert len(err.strip().splitlines()) <= 3  # the progress line and two lines of message


@pytest.mark.parametrize("how", ["flag before", "flag after", "environment"])
def test_debug_shows_the_traceback(fake_command, capsys, monkeypatch, how):
    def fail():
        raise ValueError("clip.mp4: too short")

    fake_command["behaviour"] = fail
    argv = {"flag before": ["--debug", "zoo"], "flag after": ["zoo", "--debug"], "environment": ["zoo"]}[how]
    if how == "environment":
        monkeypatch.setenv(cli.DEBUG_ENV, "1")
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "in fail" in err
    assert err.rstrip().endswith("keras-nonlocal zoo: error: clip.mp4: too short")


def test_validate_errors_exit_2_and_come_before_the_work(monkeypatch, capsys):
    from keras_nonlocal.data import predict_command

    def build(*args):
        raise AssertionError("the model must not be built")

    monkeypatch.setattr(predict_command, "_build_model", build)
    assert cli.main(["predict", "v.mp4", "--views", "10x2"]) == 2
    assert_user_error(capsys.readouterr(), "views")


def test_the_scripts_follow_the_same_rules(tmp_path, capsys):
    missing = tmp_path / "missing.pkl"
    assert cli.run_command("convert", [str(missing), "--list"], prog="convert_checkpoint.py") == 1
    assert_user_error(capsys.readouterr(), str(missing), prog="convert_checkpoint.py")
    with pytest.raises(SystemExit) as exit_info:
        cli.run_command("predict", ["v.mp4", "--stride", "0"], prog="predict.py")
    assert exit_info.value.code == 2
    assert_user_error(capsys.readouterr(), "--stride", prog="predict.py")


def test_every_script_goes_through_run_command():
    scripts = [name for name in os.listdir(os.path.join(REPO, "applications")) if name.endswith(".py")]
    assert len(scripts) >= 5
    for name in scripts:
        with open(os.path.join(REPO, "applications", name), encoding="utf-8") as f:
            assert "run_command(" in f.read(), name


def test_a_script_run_as_a_program(tmp_path):
    """Exit status, stderr and stdout of a real process, not of a function call."""
    env = dict(os.environ, PYTHONPATH=REPO)
    env.pop(cli.DEBUG_ENV, None)
    empty = tmp_path / "empty.pkl"
    empty.write_bytes(b"")
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "applications", "convert_checkpoint.py"), str(empty),
         str(tmp_path / "no" / "out.weights.h5"), "--model", "c2d_r50"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    last = result.stderr.rstrip().splitlines()[-1]
    assert last.startswith("convert_checkpoint.py: error: output ") and "does not exist" in last


# ------------------------------------------------------------------ SIGTERM


class _SlowServer:
    """Announces a large file and sends it slowly: a download that is in progress."""

    def __init__(self):
        server = self
        self.started = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(1 << 30))
                self.end_headers()
                server.started.set()
                try:
                    for _ in range(600):
                        self.wfile.write(b"\0" * 4096)
                        self.wfile.flush()
                        time.sleep(0.1)
                except OSError:  # the client went away
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_sigterm_during_a_download_leaves_no_partial_file(tmp_path):
    server = _SlowServer()
    home = tmp_path / "keras_home"
    env = dict(os.environ, PYTHONPATH=REPO, KERAS_HOME=str(home),
               KERAS_NONLOCAL_WEIGHTS_BASE_URLS=server.base_url)
    env.pop(cli.DEBUG_ENV, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_nonlocal", "convert", "c2d_baseline_8x8_IN_pretrain_400k", "--list"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        def partial_files():
            return [os.path.join(d, f) for d, _, files in os.walk(home) for f in files if f.endswith(".part")]

        deadline = time.monotonic() + 240
        while not (server.started.is_set() and partial_files()):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the download did not start"
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        server.close()
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    assert err.rstrip().splitlines()[-1] == "keras-nonlocal convert: terminated"
    assert out == ""
    assert partial_files() == []


# ------------------------------------------------------------------ zoo


def test_zoo_prints_the_header_at_once_and_progress_on_stderr(monkeypatch, capsys):
    from keras_nonlocal.applications import registry

    built = []
    real = registry.get_model

    def get_model(name, **kwargs):
        built.append(name)
        out = capsys.readouterr()  # what was printed since the last build
        if len(built) == 1:
            assert out.out.startswith("| model | input |"), "the header comes before the first build"
        else:
            assert out.out.startswith("| resnet50 |"), "each row comes as soon as it is measured"
        assert f"[{len(built)}/2] building {name}" in out.err
        return real(name, **kwargs)

    monkeypatch.setattr(registry, "get_model", get_model)
    assert cli.main(["zoo", "--models", "resnet50", "nl_resnet50"]) == 0
    assert built == ["resnet50", "nl_resnet50"]
    assert capsys.readouterr().out.startswith("| nl_resnet50 |")


def test_zoo_counts_from_unbuilt_weights_equal_the_built_model():
    import math

    from keras_nonlocal.applications import get_model
    from keras_nonlocal.applications.zoo_command import zoo_rows

    (row,) = zoo_rows(["nl_i3d_r50"], ["8x8"])
    model = get_model("nl_i3d_r50", input_setting="8x8", weights=None)
    assert row["params"] == sum(int(w.numpy().size) for w in model.trainable_weights)
    assert row["bn_statistics"] == sum(math.prod(w.shape) for w in model.non_trainable_weights)


def test_weights_names_pass_the_file_check_and_other_values_must_be_files(tmp_path):
    for name in ("kinetics400", "imagenet", "i3d_nonlocal_8x8_IN_pretrain_400k",
                 "i3d_nonlocal_8x8_IN_pretrain_400k.pkl", "https://example.org/nl.weights.h5", None):
        flags.check_weights_file(name)
    for name in ("kinetics600", str(tmp_path / "nl.pkl"), str(tmp_path / "nl.weights.h5")):
        with pytest.raises(FileNotFoundError, match=f"--weights {name}: no such file"):
            flags.check_weights_file(name)
    with pytest.raises(IsADirectoryError, match="--weights"):
        flags.check_weights_file(str(tmp_path))
