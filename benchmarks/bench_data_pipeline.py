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

With `--long VIDEO` (or `--long-seconds S`, which encodes a 720p video of
S seconds first), it instead times reading training clips (T x S at random
positions) and 10-clip test views from that long video three ways in one
process: the full decode that `read_video` used to do (every frame decoded
and kept, then the clip's frames converted), `read_video` now (seek to the
keyframe before the clip, decode forward, stop after it), and a plain PyAV
seek-and-decode loop (index -> pts from the stream's average rate, no
checks) as the floor. `--rss` adds the peak resident memory (VmHWM of a
fresh process each) of `predict_video`, `eval_dataset` and `train_dataset`
on the long video and on a 3-s video of the same size.

Usage:
    python -m benchmarks.bench_data_pipeline [--videos 24] [--calls 1 2 4 0]
    python -m benchmarks.bench_data_pipeline --calls 1 0 --against-model
    python -m benchmarks.bench_data_pipeline --long-seconds 60 --rss

`0` in `--calls` stands for `tf.data.AUTOTUNE`.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
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


def make_long_video(path, seconds, width=1280, height=720, fps=25, gop=250):
    """A 720p H.264 video of `seconds` (x264 defaults: GOP 250, B-frames)."""
    import av

    yy, xx = np.mgrid[0:height, 0:width]
    base = ((xx // 4 + yy // 4) % 256).astype(np.uint8)
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(gop), "bf": "2", "crf": "28"}
        for k in range(int(seconds * fps)):
            image = np.empty((height, width, 3), np.uint8)
            image[..., 0] = base + np.uint8(k % 256)
            image[..., 1] = np.roll(base, 3 * k, axis=1)
            image[..., 2] = (7 * k) % 256
            x = (5 * k) % (width - 100)
            image[100:200, x : x + 100] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def full_decode_clip(path, indices):
    """What `read_video` did before seeking: decode and keep every frame."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = list(container.decode(stream))
    indices = indices(len(frames)) if callable(indices) else indices
    unique, inverse = np.unique(np.ravel(indices), return_inverse=True)
    stacked = np.stack([frames[int(i)].to_ndarray(format="rgb24") for i in unique])
    return stacked[inverse].reshape(np.shape(indices) + stacked.shape[1:])


def full_decode_streaming_clip(path, indices):
    """The full decode without keeping the frames: its time, not its memory
    (a lower bound of the time before seeking, for videos whose frames do
    not fit in memory)."""
    import av

    indices = np.asarray(indices)
    wanted = set(indices.ravel().tolist())
    out = {}
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for i, frame in enumerate(container.decode(stream)):
            if i in wanted:
                out[i] = frame.to_ndarray(format="rgb24")
    return np.stack([out[int(i)] for i in indices.ravel()]).reshape(
        indices.shape + out[int(indices.flat[0])].shape
    )


def plain_pyav_clip(path, indices):
    """The floor: per clip, seek by pts = index / average_rate, decode
    forward, stop after the clip; no index, no checks."""
    import av

    indices = np.asarray(indices)
    rows = indices.reshape(-1, indices.shape[-1])
    out = None
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        step = 1 / (stream.average_rate * stream.time_base)  # pts per frame
        start = stream.start_time or 0
        for r, row in enumerate(rows):
            places = {}
            for t, i in enumerate(row.tolist()):
                places.setdefault(i, []).append(t)
            container.seek(int(start + row.min() * step), stream=stream, backward=True)
            for frame in container.decode(stream):
                i = int(round((frame.pts - start) / step))
                if i in places:
                    if out is None:  # straight into the output, as read_video
                        out = np.empty(rows.shape + (frame.height, frame.width, 3), np.uint8)
                    out[r, places[i]] = frame.to_ndarray(format="rgb24")
                if i >= row.max():
                    break
    return out.reshape(indices.shape + out.shape[2:])


def _rss_child(kind, path, num_frames, stride):
    """Runs one workload on `path` and prints its peak RSS in MiB (JSON)."""
    from keras_nonlocal.data import decoding
    from keras_nonlocal.data import multiview
    from keras_nonlocal.data import pipeline

    import keras

    inputs = keras.Input((num_frames, 224, 224, 3))
    x = keras.layers.Conv3D(8, 3, strides=2)(inputs)
    x = keras.layers.GlobalAveragePooling3D()(x)
    model = keras.Model(inputs, keras.layers.Dense(400, activation="softmax")(x))
    start = time.perf_counter()
    if kind == "predict":
        multiview.predict_video(path, model, stride=stride, views="10x3", progress=False)
    elif kind == "evaluate":
        ds = pipeline.eval_dataset([(path, 0)], num_frames=num_frames, stride=stride,
                                   views="10x3", crop_size=224, batch_size=30)
        multiview.evaluate_views(model, ds)
    else:
        ds = pipeline.train_dataset([(path, 0)] * 4, num_frames=num_frames, stride=stride,
                                    batch_size=2, seed=0)
        for _ in ds:
            pass
    seconds = time.perf_counter() - start
    peak = _peak_rss_mib()
    print(json.dumps({"kind": kind, "rss_mib": peak, "seconds": seconds,
                      "frames": decoding.frame_count(path)}))


def _peak_rss_mib():
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries the
    parent's peak over into a child's ru_maxrss across fork and exec."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_rss(kind, path, num_frames, stride):
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_data_pipeline", "--rss-child", kind, path,
         "--clip", f"{num_frames}x{stride}"],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def long_video_report(args, num_frames, stride):
    from keras_nonlocal.data import decoding
    from keras_nonlocal.data import sampling

    tmp = tempfile.mkdtemp()
    path = args.long
    if path is None:
        path = make_long_video(os.path.join(tmp, "long.mp4"), args.long_seconds)
    n = decoding.frame_count(path)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; TensorFlow {tf.__version__}")
    print(f"long video: {path}, {n} frames, {os.path.getsize(path) / 2**20:.0f} MiB")
    decoding.clear_index_cache()
    start = time.perf_counter()
    decoding.frame_count(path)
    print(f"indexing its packets (once per file, cached): {time.perf_counter() - start:.2f} s")
    rng = np.random.default_rng(0)
    train = [sampling.train_clip_indices(n, num_frames, stride, rng) for _ in range(args.clips)]
    views = sampling.eval_clip_indices(n, num_frames, stride, 10)
    methods = [("read_video (seek)", decoding.read_video), ("plain PyAV seek loop", plain_pyav_clip)]
    if args.full == "keep":
        methods.insert(0, ("full decode, all frames kept (before)", full_decode_clip))
    elif args.full == "stream":
        methods.insert(0, ("full decode, frames not kept (before, time only)", full_decode_streaming_clip))
    # The floor must be right too: it equals read_video on these clips.
    np.testing.assert_array_equal(decoding.read_video(path, train[0]), plain_pyav_clip(path, train[0]))
    rows = {}
    for name, read in methods:
        stats = decoding.DecodeStats()
        kwargs = {"stats": stats} if read is decoding.read_video else {}
        start = time.perf_counter()
        for indices in train:
            read(path, indices, **kwargs)
        train_rate = len(train) / (time.perf_counter() - start)
        start = time.perf_counter()
        read(path, views)
        eval_rate = 1 / (time.perf_counter() - start)
        rows[name] = (train_rate, eval_rate, stats)
    base = rows[methods[0][0]]
    print(f"\nclips {num_frames}x{stride} at {len(train)} random positions; test views: one 10-clip read")
    print("| decoding | training clips/s | vs first | 10-clip videos/s | vs first |")
    print("|---|---|---|---|---|")
    for name, (train_rate, eval_rate, _stats) in rows.items():
        print(f"| {name} | {train_rate:.3f} | {train_rate / base[0]:.1f}x | {eval_rate:.3f} | "
              f"{eval_rate / base[1]:.1f}x |")
    stats = rows["read_video (seek)"][2]
    print(f"read_video decoded {stats.frames_decoded / len(train):.0f} frames per training clip "
          f"(span {num_frames * stride - stride + 1}), {stats.seeks / len(train):.1f} seeks")
    if args.rss:
        short = make_long_video(os.path.join(tmp, "short.mp4"), 3)
        print("\n| workload | peak RSS, 3-s video | peak RSS, long video | long / short | time 3 s | time long |")
        print("|---|---|---|---|---|---|")
        for kind in ("predict", "evaluate", "train"):
            a = measure_rss(kind, short, num_frames, stride)
            b = measure_rss(kind, path, num_frames, stride)
            print(f"| {kind} | {a['rss_mib']:.0f} MiB | {b['rss_mib']:.0f} MiB | "
                  f"{b['rss_mib'] / a['rss_mib']:.2f}x | {a['seconds']:.1f} s | {b['seconds']:.1f} s |",
                  flush=True)


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
    parser.add_argument("--long", default=None, help="time clip reading on this long video")
    parser.add_argument("--long-seconds", type=float, default=None,
                        help="encode a 720p video of this many seconds and time clip reading on it")
    parser.add_argument("--clips", type=int, default=6, help="training clips read per method (--long)")
    parser.add_argument("--full", choices=("keep", "stream", "none"), default="keep",
                        help="the full-decode baseline of --long: as before (keeps every frame, "
                             "~1.4 MB each at 720p), decoding without keeping frames, or none")
    parser.add_argument("--rss", action="store_true", help="peak RSS of predict/evaluate/train (--long)")
    parser.add_argument("--rss-child", nargs=2, metavar=("KIND", "VIDEO"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    num_frames, stride = (int(v) for v in args.clip.lower().split("x"))
    if args.rss_child:
        return _rss_child(args.rss_child[0], args.rss_child[1], num_frames, stride)
    if args.long or args.long_seconds:
        return long_video_report(args, num_frames, stride)

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
