"""Throughput of `keras_nonlocal.data.train_dataset` / `eval_dataset`.

Generates one H.264 video of moving shapes (default 300 frames of 320x240,
10 s at 30 fps like a Kinetics clip), lists it `--videos` times, and measures
clips per second for several `num_parallel_calls`, printing each setting's
ratio against the first setting of `--calls` (the serial run,
`num_parallel_calls=1`, by default) measured in the same process.

With `--against-model`, the same invocation also times a training step of
I3D-R50 and NL-I3D-R50 on clips of the same size (each in a fresh process,
as `bench_models` does) and prints the ratio of decoded to trained clips per
second: the pipeline keeps up with training where that ratio is >= 1.

Usage:
    python -m benchmarks.bench_data_pipeline [--videos 24] [--calls 1 2 4 0]
    python -m benchmarks.bench_data_pipeline --calls 1 0 --against-model

`0` in `--calls` stands for `tf.data.AUTOTUNE`.
"""

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np
import tensorflow as tf


def make_video(path, num_frames, width, height, fps=30):
    """Moving shapes: a square and a bar crossing a gradient background."""
    import av

    yy, xx = np.mgrid[0:height, 0:width]
    background = np.stack(
        [xx * 255 // max(width - 1, 1), yy * 255 // max(height - 1, 1), np.full_like(xx, 96)],
        axis=-1,
    ).astype(np.uint8)
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for k in range(num_frames):
            image = background.copy()
            x = (4 * k) % (width - 40)
            image[height // 3 : height // 3 + 40, x : x + 40] = (255, 255, 255)
            y = (3 * k) % (height - 10)
            image[y : y + 10, :] = (20, 20, 200)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def clips_per_second(make_dataset, repeats):
    best = 0.0
    for _ in range(repeats):
        ds = make_dataset()
        iterator = iter(ds)
        next(iterator)  # warm-up: graph tracing and the first decode
        count, start = 0, time.perf_counter()
        for _ in iterator:
            count += 1
        best = max(best, count / (time.perf_counter() - start))
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--videos", type=int, default=24, help="list length per run")
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 2, 4, 0])
    parser.add_argument("--clip", default="32x2", help="TxS of the training clips")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over all settings; each keeps its best")
    parser.add_argument("--eval", action="store_true", help="also time 10x3 eval views")
    parser.add_argument("--against-model", action="store_true",
                        help="also time I3D-R50 / NL-I3D-R50 training steps on the same clips")
    parser.add_argument("--batch", type=int, default=1, help="training batch of --against-model")
    args = parser.parse_args(argv)

    from keras_nonlocal.data import decoding
    from keras_nonlocal.data import pipeline

    num_frames, stride = (int(v) for v in args.clip.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        path = make_video(os.path.join(tmp, "bench.mp4"), args.frames, args.width, args.height)
        decoding.read_video(path, [0])  # warm-up: imports PyAV
        start = time.perf_counter()
        decoding.read_video(path, np.arange(0, 64, 2))
        decode_s = time.perf_counter() - start
        entries = [(path, 0)] * args.videos

        def train(calls):
            return lambda: pipeline.train_dataset(
                entries, num_frames=num_frames, stride=stride, seed=0,
                num_parallel_calls=calls, prefetch=tf.data.AUTOTUNE,
            )

        def evaluate(calls):
            return lambda: pipeline.eval_dataset(
                entries[: max(2, args.videos // 6)], num_frames=num_frames, stride=stride,
                views="10x3", num_parallel_calls=calls, batch_size=30,
            )

        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; TensorFlow {tf.__version__}")
        print(
            f"video: {args.frames} frames {args.width}x{args.height} H.264; "
            f"decoding it and converting one 32-frame clip to RGB takes {decode_s * 1000:.0f} ms"
        )
        print(f"train clips {num_frames}x{stride}, scale jitter [256, 320], crop 224, flip")
        settings = [("train", train, "clips/s")]
        if args.eval:
            settings.append(("eval 10x3, crops 256", evaluate, "videos/s"))
        # Rounds interleave the settings, so that load from other processes
        # drifts over all of them alike; each keeps its best round.
        best = {}
        for _ in range(args.repeats):
            for name, factory, _unit in settings:
                for calls in args.calls:
                    tf_calls = tf.data.AUTOTUNE if calls == 0 else calls
                    # eval batches hold the 30 views of one video: one element each
                    rate = clips_per_second(factory(tf_calls), 1)
                    best[name, calls] = max(best.get((name, calls), 0.0), rate)
        rows = []
        for name, _factory, unit in settings:
            serial = best[name, args.calls[0]]
            for calls in args.calls:
                rate = best[name, calls]
                label = "AUTOTUNE" if calls == 0 else str(calls)
                rows.append((name, label, rate, unit, rate / serial))
        print()
        print("| pipeline | num_parallel_calls | throughput | vs serial |")
        print("|---|---|---|---|")
        for name, calls, rate, unit, ratio in rows:
            print(f"| {name} | {calls} | {rate:.2f} {unit} | {ratio:.2f}x |")
        if args.against_model:
            print_against_models(best, args, num_frames)


def print_against_models(best, args, num_frames):
    """Training clips/s of the two models on the pipeline's clips, and the ratios."""
    from benchmarks.timing import run_isolated

    print()
    print("| model | training clips/s (batch, 224², float32) | "
          + " | ".join(f"decoded / trained, {'AUTOTUNE' if c == 0 else c} calls" for c in args.calls)
          + " |")
    print("|---|---|" + "---|" * len(args.calls))
    for model in ("i3d_r50", "nl_i3d_r50"):
        config = {"model": model, "frames": num_frames, "size": 224, "batch": args.batch,
                  "dtype": "float32", "jit": False, "reps": 3}
        result = run_isolated("benchmarks.bench_models", ["--child", json.dumps(config)])
        trained = args.batch / result["train_step_s"]
        ratios = " | ".join(f"{best['train', c] / trained:.1f}x" for c in args.calls)
        print(f"| {model} | {trained:.2f} (batch {args.batch}) | {ratios} |", flush=True)


if __name__ == "__main__":
    main()
