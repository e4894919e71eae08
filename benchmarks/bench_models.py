"""NL-I3D-R50 against I3D-R50: inference clips/s and training-step time.

Every configuration runs in its own process (the Keras backend is fixed per
process). Each NL-I3D row is reported as a ratio to the I3D baseline of the
same backend, size and settings, measured in the same invocation, so the cost
of the five non-local blocks is a measured ratio (the paper reports it in
FLOPs).

Models run through Keras' own compiled paths: `predict_on_batch` for
inference and `train_on_batch` (SGD, sparse cross-entropy) for a training
step, with `jit_compile` on or off (XLA on TensorFlow and JAX,
`torch.compile` on PyTorch; its compilation is part of the warm-up call,
not of the timed ones).

Usage:
    python -m benchmarks.bench_models                        # TF, 8x224, fp32, jit off/on
    python -m benchmarks.bench_models --backends tensorflow jax torch --frames 8 32
    python -m benchmarks.bench_models --size 112 --quick     # small and fast
"""

import argparse
import itertools
import json
import sys

from benchmarks.timing import median_seconds, run_isolated


def child(config):
    import keras
    import numpy as np

    from keras_nonlocal.applications import get_model

    if config["dtype"] != "float32":
        keras.mixed_precision.set_global_policy(config["dtype"])
    batch = config["batch"]
    shape = (config["frames"], config["size"], config["size"], 3)
    model = get_model(config["model"], weights=None, input_shape=shape, classes=400,
                      input_setting="8x8" if config["frames"] <= 8 else "32x2")
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        jit_compile=config["jit"],
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch,) + shape).astype("float32")
    y = rng.integers(0, 400, size=(batch,))
    infer = median_seconds(lambda: model.predict_on_batch(x), reps=config["reps"], warmup=1)
    train = median_seconds(lambda: model.train_on_batch(x, y), reps=config["reps"], warmup=1)
    print(json.dumps({"infer_s": infer, "clips_per_s": batch / infer, "train_step_s": train,
                      "backend": keras.backend.backend()}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", nargs="+", default=["tensorflow"],
                        choices=["tensorflow", "jax", "torch"])
    parser.add_argument("--frames", nargs="+", type=int, default=[8])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--dtypes", nargs="+", default=["float32"],
                        choices=["float32", "mixed_bfloat16"])
    parser.add_argument("--jit", nargs="+", default=["off", "on"], choices=["off", "on"])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2 reps, jit off only")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(json.loads(args.child))
    reps = 2 if args.quick else args.reps
    jits = ["off"] if args.quick else args.jit

    print("| backend | clip | dtype | jit | model | clips/s | train step s | "
          "infer ratio NL/base | train ratio NL/base |")
    print("|" + "---|" * 9)
    for backend, frames, dtype, jit in itertools.product(args.backends, args.frames,
                                                         args.dtypes, jits):
        results = {}
        for model in ("i3d_r50", "nl_i3d_r50"):
            config = {"model": model, "frames": frames, "size": args.size, "batch": args.batch,
                      "dtype": dtype, "jit": jit == "on", "reps": reps}
            try:
                results[model] = run_isolated("benchmarks.bench_models",
                                              ["--child", json.dumps(config)],
                                              env={"KERAS_BACKEND": backend})
            except RuntimeError as error:
                print(f"| {backend} | {frames}x{args.size}² | {dtype} | {jit} | {model} | "
                      f"failed: {str(error).splitlines()[-1][:80]} |")
                continue
            r = results[model]
            base = results.get("i3d_r50")
            ratios = ("1.00", "1.00") if model == "i3d_r50" or base is None else (
                f"{r['infer_s'] / base['infer_s']:.2f}",
                f"{r['train_step_s'] / base['train_step_s']:.2f}")
            print(f"| {backend} | {frames}x{args.size}² | {dtype} | {jit} | {model} | "
                  f"{r['clips_per_s']:.2f} | {r['train_step_s']:.2f} | {ratios[0]} | "
                  f"{ratios[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
