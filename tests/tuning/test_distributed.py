"""keras-tuner's distributed mode: a chief and two workers on 127.0.0.1."""

import subprocess
import time

from keras_nonlocal.tuning.distributed import cluster_environments
from keras_nonlocal.tuning.distributed import free_port
from keras_nonlocal.tuning.tuners import read_trial_log
from tests.tuning.conftest import TINY_ARGS
from tests.tuning.conftest import child_env
from tests.tuning.conftest import script_command
from tests.tuning.conftest import stop
from tests.tuning.test_search_end_to_end import statuses

TIMEOUT = 300


def test_chief_and_two_workers_run_every_trial_once_and_report_the_best(tmp_path):
    args = ["--max-trials", "3", "--directory", str(tmp_path), "--project-name", "p", *TINY_ARGS]
    processes = {}
    logs = {}
    try:
        for tuner_id, env in cluster_environments(2, free_port()):
            logs[tuner_id] = open(tmp_path / f"{tuner_id}.log", "w+")
            processes[tuner_id] = subprocess.Popen(
                script_command(*args), env=child_env(**{k: env[k] for k in (
                    "KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")}),
                stdout=logs[tuner_id], stderr=subprocess.STDOUT, text=True,
            )
        deadline = time.monotonic() + TIMEOUT
        for tuner_id in ("tuner0", "tuner1", "chief"):  # the chief exits last
            remaining = max(1.0, deadline - time.monotonic())
            assert processes[tuner_id].wait(remaining) == 0, _tail(logs[tuner_id])
    finally:
        for process in processes.values():
            stop(process)
        for log in logs.values():
            log.close()

    project = tmp_path / "p"
    records = read_trial_log(project)
    begun = [r["trial_id"] for r in records if r["event"] == "begin"]
    assert sorted(begun) == ["0", "1", "2"], "every trial ran exactly once"
    assert {r["tuner_id"] for r in records} <= {"tuner0", "tuner1"}, "the chief trains nothing"
    assert statuses(project) == {"0": "COMPLETED", "1": "COMPLETED", "2": "COMPLETED"}
    chief_out = (tmp_path / "chief.log").read_text()
    assert "best with non-local blocks" in chief_out
    assert (project / "leaderboard.csv").exists() and (project / "leaderboard.png").exists()


def _tail(log):
    log.flush()
    log.seek(0)
    return log.read()[-3000:]
