"""Time and peak memory of `safe_load` against `pickle.load` on a checkpoint.

Writes a synthetic checkpoint in the official format (a Python-2 pickle of
`{"blobs": {name: float32 array}}` with the `model_iter` and `lr` entries,
NumPy 1 module names, array data as Python-2 strings), about the size of an
official NL-I3D-R50 file by default, and reads it `--repeats` times with
`pickle.load(f, encoding="latin1")` (the baseline) and with
`keras_nonlocal.weights.safe_load`, each in the same process, printing the
ratio of the median times. Peak memory is measured with `tracemalloc`
(NumPy reports its allocations there) in a separate pass.

Usage:
    python -m benchmarks.bench_safe_pickle [--megabytes 140] [--blobs 600] [--repeats 3]
"""

import argparse
import os
import pickle
import platform
import statistics
import tempfile
import time
import tracemalloc

import numpy as np

from keras_nonlocal.weights import safe_load
from tests.weights.helpers import py2_pickle_bytes


def _time(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _peak(function):
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=140.0)
    parser.add_argument("--blobs", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    per_blob = int(args.megabytes * 2**20 / 4 / args.blobs)
    blobs = {f"res{i}_w": rng.standard_normal(per_blob).astype(np.float32)
             for i in range(args.blobs)}
    blobs["model_iter"] = 400000
    blobs["lr"] = np.array([0.01], np.float32)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "checkpoint.pkl")
        with open(path, "wb") as f:
            f.write(py2_pickle_bytes(blobs))
        del blobs

        def baseline():
            with open(path, "rb") as f:
                return pickle.load(f, encoding="latin1")

        def safe():
            return safe_load(path)

        reference, loaded = baseline(), safe()
        assert all(np.array_equal(loaded["blobs"][k], v) for k, v in reference["blobs"].items())
        del reference, loaded
        size = os.path.getsize(path)
        t_base, t_safe = _time(baseline, args.repeats), _time(safe, args.repeats)
        m_base, m_safe = _peak(baseline), _peak(safe)
    print(f"# {platform.processor() or platform.machine()}, numpy {np.__version__}, "
          f"file {size / 2**20:.1f} MiB, {args.blobs} blobs")
    print("| reader | median s | time ratio | peak MiB | peak / file |")
    print("|---|---|---|---|---|")
    print(f"| pickle.load (baseline) | {t_base:.3f} | 1.00 | {m_base / 2**20:.0f} | "
          f"{m_base / size:.2f} |")
    print(f"| safe_load | {t_safe:.3f} | {t_safe / t_base:.2f} | {m_safe / 2**20:.0f} | "
          f"{m_safe / size:.2f} |")


if __name__ == "__main__":
    main()
