"""keras-tuner's distributed mode for our search: a chief oracle and workers.

keras-tuner runs one process per role, all with the same command line, told
apart by environment variables: `KERASTUNER_TUNER_ID` (`chief` for the
oracle, `tuner0`, `tuner1`, ... for the workers), `KERASTUNER_ORACLE_IP` and
`KERASTUNER_ORACLE_PORT` (where the chief listens; workers connect over
gRPC). The chief only hands out trials and records results; workers build,
train and report. `run_local_cluster` starts a chief and N workers on this
machine (what `keras-nonlocal tune --distributed N` does).
"""

import os
import socket
import subprocess
import sys
import threading
import time

ENV_TUNER_ID = "KERASTUNER_TUNER_ID"
ENV_ORACLE_IP = "KERASTUNER_ORACLE_IP"
ENV_ORACLE_PORT = "KERASTUNER_ORACLE_PORT"


def role():
    """This process's role in a keras-tuner search.

    Returns:
        `"chief"`, `"worker"`, or `"single"` (no distributed variables set).

    Example:

    >>> role()  # doctest: +SKIP
    'single'
    """
    if ENV_ORACLE_IP not in os.environ:
        return "single"
    if ENV_ORACLE_PORT not in os.environ or ENV_TUNER_ID not in os.environ:
        raise RuntimeError(
            f"{ENV_ORACLE_IP} is set, so this is a distributed search, but "
            f"{ENV_ORACLE_PORT} and {ENV_TUNER_ID} must be set too (e.g. "
            f"{ENV_TUNER_ID}=chief or tuner0, {ENV_ORACLE_PORT}=8000)."
        )
    return "chief" if "chief" in os.environ[ENV_TUNER_ID] else "worker"


def free_port(host="127.0.0.1"):
    """A TCP port that is free on `host` right now.

    Args:
        host: the address to bind.

    Returns:
        An int.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def cluster_environments(num_workers, port, ip="127.0.0.1", base=None):
    """Environments of a chief and `num_workers` workers.

    Args:
        num_workers: number of workers (>= 1).
        port: the chief's port.
        ip: the chief's address.
        base: environment to start from (default: `os.environ`).

    Returns:
        A list of `(tuner_id, environment dict)`, the chief first.

    Example:

    >>> [tid for tid, _ in cluster_environments(2, 8000)]
    ['chief', 'tuner0', 'tuner1']
    """
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
        raise ValueError(f"`num_workers` must be an integer >= 1. Received: num_workers={num_workers!r}")
    base = dict(os.environ if base is None else base)
    envs = []
    for tuner_id in ["chief"] + [f"tuner{i}" for i in range(num_workers)]:
        env = dict(base)
        env.update({ENV_TUNER_ID: tuner_id, ENV_ORACLE_IP: ip, ENV_ORACLE_PORT: str(port)})
        envs.append((tuner_id, env))
    return envs


def _pump(name, stream, lock, out):
    for line in iter(stream.readline, ""):
        with lock:
            out.write(f"[{name}] {line}")
            out.flush()
    stream.close()


def run_local_cluster(argv, num_workers, port=None, timeout=None, python=None, out=None):
    """Runs `keras-nonlocal tune ARGV` as a chief and N workers on 127.0.0.1.

    Every process runs the same command; their output is printed with a
    `[chief]` / `[tuner0]` ... prefix. The chief writes the leaderboard
    when all trials are done.

    Args:
        argv: arguments of `keras-nonlocal tune` (without `--distributed`).
        num_workers: number of workers.
        port: the chief's port (default: a free one).
        timeout: seconds before every process is stopped (default: none).
        python: the Python executable (default: this one).
        out: stream for the prefixed output (default: `sys.stdout`).

    Returns:
        0 when every process succeeded, else the first non-zero exit status
        (124 on timeout).

    Example:

    >>> run_local_cluster(["--max-trials", "4"], num_workers=2)  # doctest: +SKIP
    0
    """
    port = port or free_port()
    out = out or sys.stdout
    command = [python or sys.executable, "-m", "keras_nonlocal", "tune", *argv]
    lock = threading.Lock()
    processes, pumps = [], []
    try:
        # The children import this package even from a clone that is not installed.
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        for tuner_id, env in cluster_environments(num_workers, port):
            env.setdefault("PYTHONUNBUFFERED", "1")
            env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
            proc = subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            processes.append((tuner_id, proc))
            pump = threading.Thread(target=_pump, args=(tuner_id, proc.stdout, lock, out), daemon=True)
            pump.start()
            pumps.append(pump)
        deadline = None if timeout is None else time.monotonic() + timeout
        chief, workers = processes[0][1], processes[1:]
        while True:
            codes = [(tuner_id, proc.poll()) for tuner_id, proc in workers]
            failed = [(t, c) for t, c in codes if c not in (None, 0)]
            if failed:
                # A failed worker leaves its trial open: the chief would wait forever.
                with lock:
                    out.write(f"[launcher] {failed[0][0]} exited with status {failed[0][1]}; stopping all.\n")
                return failed[0][1]
            if chief.poll() is not None and (chief.returncode or all(c is not None for _, c in codes)):
                return chief.returncode
            if deadline is not None and time.monotonic() > deadline:
                with lock:
                    out.write(f"[launcher] the search did not finish within {timeout} s; stopping all.\n")
                return 124
            time.sleep(0.5)
    finally:
        for _, proc in processes:
            if proc.poll() is None:
                proc.terminate()
        for _, proc in processes:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for pump in pumps:
            pump.join(5)
