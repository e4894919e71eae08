"""Shared pieces of the training tests: tiny models, tiny data, subprocesses."""

import os
import socket
import subprocess
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = sys.executable

# A zoo model shrunk to a few thousand weights: same layers, names and head.
TINY_MODEL_KWARGS = dict(depths=(1, 1, 1, 1), widths=(4, 4, 4, 4), stem_filters=4)
TINY_NL_MODEL_KWARGS = dict(TINY_MODEL_KWARGS, nonlocal_placement={3: (0,)})
FRAMES, SIZE = 4, 32


def tiny_recipe(**changes):
    """The 8x8 recipe on 4-frame 32x32 clips, a few steps."""
    from keras_nonlocal.training import get_recipe

    values = dict(num_frames=FRAMES, stride=1, crop_size=SIZE, scale_range=(SIZE, 40),
                  batch_size=4, max_steps=6, checkpoint_every=2, eval_every=2, base_lr=0.05)
    values.update(changes)
    return get_recipe("kinetics400_8x8").replace(**values)


def learnable_clips(n, classes=3, seed=0):
    """Clips whose class is their brightness: a task a tiny model learns in steps."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    base = (labels[:, None, None, None, None] - (classes - 1) / 2.0) * 1.5
    clips = base + 0.1 * rng.standard_normal((n, FRAMES, SIZE, SIZE, 3))
    return clips.astype("float32"), labels.astype("int32")


def write_videos(folder, n, classes=3, frames=10, height=36, width=44, seed=0):
    """Writes `n` HDF5 frame files and a `path,label` list; returns the list path."""
    from keras_nonlocal.data import write_hdf5_frames

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        label = i % classes
        level = 40 + 80 * label
        video = np.clip(level + rng.integers(-10, 10, (frames, height, width, 3)), 0, 255)
        path = os.path.join(folder, f"video_{i:03d}.h5")
        write_hdf5_frames(path, video.astype(np.uint8))
        lines.append(f"{path},{label}")
    list_path = os.path.join(folder, "list.csv")
    with open(list_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return list_path


def free_ports(count):
    """`count` TCP ports free on 127.0.0.1 right now."""
    sockets, ports = [], []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
        ports.append(s.getsockname()[1])
    for s in sockets:
        s.close()
    return ports


def subprocess_env(**extra):
    """Environment of a CPU-light worker subprocess that can import the package."""
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env.update(
        TF_CPP_MIN_LOG_LEVEL="3",
        CUDA_VISIBLE_DEVICES="",
        OMP_NUM_THREADS="1",
        TF_NUM_INTRAOP_THREADS="1",
        TF_NUM_INTEROP_THREADS="1",
        KERAS_BACKEND="tensorflow",
    )
    env.update(extra)
    return env


def start(script, args, env, log_path):
    """Starts `python script args...` with its output in `log_path`."""
    log = open(log_path, "wb")
    return subprocess.Popen([PYTHON, script, *map(str, args)], env=env, cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT), log


def stop(process):
    """Kills a subprocess if it is still running."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)


def tail(path, chars=3000):
    with open(path, errors="replace") as f:
        return f.read()[-chars:]
