"""Shared helpers of the tuning tests: tiny searches in subprocesses."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("keras_tuner")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "applications", "tune.py")

# A search that takes seconds: 1 epoch on a few clips, one thread per process.
TINY_ARGS = ["--epochs", "1", "--train-samples", "32", "--val-samples", "16",
             "--batch-size", "16", "--threads", "1"]


def script_command(*args):
    """`python applications/tune.py ARGS` as a list."""
    return [sys.executable, SCRIPT, *args]


def child_env(**extra):
    """An environment for child processes that can import this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        env.pop(name, None)
    env.update(extra)
    return env


def run_script(*args, timeout=180):
    """Runs the script to completion, bounded by `timeout` seconds."""
    return subprocess.run(
        script_command(*args), env=child_env(), capture_output=True, text=True, timeout=timeout
    )


def stop(process):
    """Ends a child process we started (terminate, then kill)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
