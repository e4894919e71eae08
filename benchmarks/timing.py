"""Timing helpers shared by the benchmarks: medians, FLOP rates, peak memory.

The machine is shared and noisy, so every benchmark times a baseline in the
same process and reports ratios; absolute seconds are context only.
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import time


def median_seconds(fn, reps=5, warmup=2):
    """Median wall time of `fn()` over `reps` calls after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_rss_gib():
    """Peak resident memory of this process so far, in GiB (Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run_isolated(module, args, env=None):
    """Runs `python -m module args` in a fresh process and parses its JSON line.

    Peak memory is only meaningful per process, so memory measurements run
    one configuration per child process.
    """
    cmd = [sys.executable, "-m", module] + list(args)
    full_env = dict(os.environ, **(env or {}))
    out = subprocess.run(cmd, capture_output=True, text=True, env=full_env, check=False)
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")


def gemm_gflops(size=2048, reps=5):
    """Measured float32 GEMM rate of this machine through TensorFlow: the
    practical peak the block's FLOP rate is compared with."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    fn = tf.function(lambda: tf.matmul(a, b))
    seconds = median_seconds(lambda: fn().numpy(), reps=reps)
    return 2 * size**3 / seconds / 1e9
