"""A tiny search finishes, writes its leaderboard and plot, and resumes."""

import csv
import json
import os
import subprocess
import time

from keras_nonlocal.tuning.tuners import read_trial_log
from tests.tuning.conftest import TINY_ARGS
from tests.tuning.conftest import child_env
from tests.tuning.conftest import run_script
from tests.tuning.conftest import script_command
from tests.tuning.conftest import stop


def begun(project_dir):
    return [r["trial_id"] for r in read_trial_log(project_dir) if r["event"] == "begin"]


def ended(project_dir):
    return [r["trial_id"] for r in read_trial_log(project_dir) if r["event"] == "end"]


def statuses(project_dir):
    result = {}
    for name in sorted(os.listdir(project_dir)):
        path = os.path.join(project_dir, name, "trial.json")
        if name.startswith("trial_") and os.path.exists(path):
            with open(path) as f:
                trial = json.load(f)
            result[trial["trial_id"]] = trial["status"]
    return result


def test_search_writes_leaderboard_and_plot_then_extends_without_rerunning(tmp_path):
    args = ["--directory", str(tmp_path), "--project-name", "p", *TINY_ARGS]
    first = run_script("--max-trials", "2", *args)
    assert first.returncode == 0, first.stderr[-3000:]
    project = tmp_path / "p"
    for name in ("leaderboard.csv", "leaderboard.md", "leaderboard.png"):
        assert (project / name).stat().st_size > 0
    with open(project / "leaderboard.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    # The reference trials come first: the baseline and the paper's block.
    by_trial = {r["trial_id"]: r for r in rows}
    assert by_trial["0"]["placement"] == "none" and by_trial["0"]["num_blocks"] == "0"
    assert by_trial["1"]["placement"] == "res4[0]"
    assert int(float(by_trial["1"]["flops"])) > int(float(by_trial["0"]["flops"]))
    assert int(float(by_trial["1"]["params"])) > int(float(by_trial["0"]["params"]))
    assert "| rank | trial | placement |" in (project / "leaderboard.md").read_text()
    assert "baseline (no non-local block)" in first.stdout

    second = run_script("--max-trials", "3", *args)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming" in second.stderr  # a log; the leaderboard alone is on stdout
    assert begun(project) == ["0", "1", "2"], "only the new trial ran"
    assert statuses(project) == {"0": "COMPLETED", "1": "COMPLETED", "2": "COMPLETED"}


def test_resume_with_other_settings_is_refused(tmp_path):
    args = ["--directory", str(tmp_path), "--project-name", "p", *TINY_ARGS]
    os.makedirs(tmp_path / "p")
    with open(tmp_path / "p" / "search_config.json", "w") as f:
        json.dump({"epochs": 99}, f)
    result = run_script("--max-trials", "1", *args)
    assert result.returncode == 2
    assert "other settings" in result.stderr and "--overwrite" in result.stderr


def test_an_interrupted_search_resumes_without_repeating_finished_trials(tmp_path):
    args = ["--max-trials", "2", "--directory", str(tmp_path), "--project-name", "p", *TINY_ARGS]
    project = tmp_path / "p"
    process = subprocess.Popen(script_command(*args), env=child_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while "0" not in ended(project):
            assert process.poll() is None, "the search stopped before its first trial ended"
            assert time.monotonic() < deadline, "no trial finished in time"
            time.sleep(0.5)
        process.kill()  # as a crash would: no clean-up
        process.wait(10)
    finally:
        stop(process)
    assert ended(project) == ["0"]

    resumed = run_script(*args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert begun(project).count("0") == 1, "the finished trial was not run again"
    assert statuses(project) == {"0": "COMPLETED", "1": "COMPLETED"}
    assert (project / "leaderboard.csv").exists()
