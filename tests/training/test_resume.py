"""A killed run resumes from its last backup's step, not from step 0."""

import csv
import json
import os
import signal
import time

import pytest

from keras_nonlocal.training import read_events
from tests.training import helpers

JOB = os.path.join(os.path.dirname(__file__), "resume_job.py")
EVERY = 2  # steps between backups in resume_job.py


def _backup_epoch(output_dir):
    path = os.path.join(output_dir, "backup", "training_metadata.json")
    try:
        with open(path) as f:
            return json.load(f)["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.timeout(300)
def test_sigkilled_run_resumes_at_the_backed_up_step(tmp_path):
    out = str(tmp_path / "run")
    env = helpers.subprocess_env()
    process, log = helpers.start(JOB, [out, 1000, 0.3], env, tmp_path / "first.log")
    try:
        deadline = time.monotonic() + 150
        while _backup_epoch(out) < 2:
            assert process.poll() is None, f"run ended early:\n{helpers.tail(tmp_path / 'first.log')}"
            assert time.monotonic() < deadline, f"no backup:\n{helpers.tail(tmp_path / 'first.log')}"
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        helpers.stop(process)
        log.close()
    assert process.returncode == -signal.SIGKILL
    killed_epoch = _backup_epoch(out)
    assert killed_epoch >= 2

    resumed_max = killed_epoch * EVERY + 4
    process, log = helpers.start(JOB, [out, resumed_max, 0], env, tmp_path / "second.log")
    try:
        code = process.wait(timeout=150)
    finally:
        helpers.stop(process)
        log.close()
    assert code == 0, helpers.tail(tmp_path / "second.log")

    begins = [e for e in read_events(os.path.join(out, "events.jsonl")) if e["event"] == "train_begin"]
    assert [b["step"] for b in begins][0] == 0
    resumed = begins[-1]
    # The last complete backup: the one read above, or the one before it when
    # the kill hit a save (BackupAndRestore then falls back to its copy).
    assert resumed["step"] in (killed_epoch * EVERY, (killed_epoch - 1) * EVERY)
    assert resumed["step"] > 0
    assert resumed["epoch"] * EVERY == resumed["step"]
    assert f"initial_step={resumed['step']} final_step={resumed_max}" in helpers.tail(tmp_path / "second.log")

    with open(os.path.join(out, "training_log.csv")) as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    # The second run logged only the epochs after the backup: 4 steps = 2 epochs.
    assert epochs[-2:] == [resumed["epoch"], resumed["epoch"] + 1]
