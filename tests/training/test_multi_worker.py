"""MultiWorkerMirroredStrategy: two workers on 127.0.0.1 stay in sync and learn."""

import json
import os
import time

import numpy as np
import pytest

from tests.training import helpers

JOB = os.path.join(os.path.dirname(__file__), "multi_worker_job.py")
TIMEOUT_S = 240


@pytest.mark.timeout(TIMEOUT_S + 60)
def test_two_workers_keep_trainable_weights_in_sync_and_loss_falls(tmp_path):
    ports = helpers.free_ports(2)
    workers = [f"127.0.0.1:{p}" for p in ports]
    processes, logs = [], []
    try:
        for index in range(2):
            tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            env = helpers.subprocess_env(TF_CONFIG=json.dumps(tf_config))
            process, log = helpers.start(
                JOB, [tmp_path / "run", tmp_path / f"worker{index}.npz"], env,
                tmp_path / f"worker{index}.log",
            )
            processes.append(process)
            logs.append(log)
        deadline = time.monotonic() + TIMEOUT_S
        for index, process in enumerate(processes):
            remaining = max(1.0, deadline - time.monotonic())
            try:
                code = process.wait(timeout=remaining)
            except Exception:
                pytest.fail(f"worker {index} timed out:\n{helpers.tail(tmp_path / f'worker{index}.log')}")
            assert code == 0, f"worker {index} failed:\n{helpers.tail(tmp_path / f'worker{index}.log')}"
    finally:
        for process in processes:
            helpers.stop(process)
        for log in logs:
            log.close()

    results = [np.load(tmp_path / f"worker{i}.npz") for i in range(2)]
    assert all(int(r["replicas"]) == 2 for r in results)
    names = [k for k in results[0].files if k.startswith("w")]
    assert names
    for name in names:
        np.testing.assert_array_equal(results[0][name], results[1][name], err_msg=name)
    for r in results:
        losses = r["losses"]
        assert losses[-1] < losses[0], losses
        assert r["steps"].tolist() == [0, 12]
    # The chief (worker 0) writes the shared outputs, worker 1 only its own backup.
    assert (tmp_path / "run" / "final.weights.h5").exists()
    assert (tmp_path / "run" / "workers" / "worker_1" / "backup").exists()
    assert not (tmp_path / "run" / "workers" / "worker_1" / "final.weights.h5").exists()
