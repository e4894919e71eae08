"""The non-local denoiser against its ablation on a full-size image: time and peak RSS.

Each model denoises one grayscale image (1920×1080 by default) the way the
`denoise` command does (`denoise_array`: overlapping tiles of `--tile`
pixels, 768 by default; `--tile 0` runs the whole image in one call) in its
own process, so the peak resident memory
(`resource.getrusage(...).ru_maxrss`, the whole process: Python, the backend,
the model and the activations) belongs to that model alone. The non-local
model's seconds are reported as a ratio to the ablation ("dncnn", the same
network without blocks) measured in the same invocation.

Usage:
    python -m benchmarks.bench_denoiser                       # TF, 1920x1080
    python -m benchmarks.bench_denoiser --backends tensorflow jax --size 1080 1920
    python -m benchmarks.bench_denoiser --config '{"base": "nl_dncnn", "chunk_size": 512}'
    python -m benchmarks.bench_denoiser --tile 0              # the whole image at once
"""

import argparse
import json
import sys
import time

from benchmarks.timing import peak_rss_gib, run_isolated
from keras_nonlocal.denoising.tiling import DEFAULT_TILE_SIZE


def child(config):
    import keras
    import numpy as np

    from keras_nonlocal.denoising import build_denoiser
    from keras_nonlocal.denoising.denoise_command import denoise_array

    model = build_denoiser(config["model"])
    height, width = config["size"]
    rng = np.random.default_rng(0)
    clean = rng.uniform(0, 255, (height, width, model.input_shape[-1])).astype("float32")
    noisy = clean + rng.normal(0, 25, clean.shape).astype("float32")
    times = []
    for _ in range(config["reps"]):
        start = time.perf_counter()
        out = denoise_array(model, noisy, tile_size=config["tile"] or None)
        times.append(time.perf_counter() - start)
    assert out.shape == noisy.shape
    print(json.dumps({
        "first_s": times[0],
        "seconds": min(times),
        "peak_rss_gib": peak_rss_gib(),
        "params": model.count_params(),
        "backend": keras.backend.backend(),
    }))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", nargs="+", default=["tensorflow"],
                        choices=["tensorflow", "jax", "torch"])
    parser.add_argument("--size", nargs=2, type=int, default=[1080, 1920], metavar=("H", "W"))
    parser.add_argument("--config", default="nl_dncnn",
                        help="the non-local model: a config name or JSON dict (default: nl_dncnn)")
    parser.add_argument("--baseline", default="dncnn", help="the ablation (default: dncnn)")
    parser.add_argument("--reps", type=int, default=2,
                        help="predict calls per model; the first includes tracing")
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE_SIZE,
                        help="tile side of `denoise_array` (default: the command's); 0: none")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(json.loads(args.child))

    def model_arg(text):
        return json.loads(text) if text.lstrip().startswith("{") else text

    tiles = f"tiles of {args.tile}" if args.tile else "whole image"
    print(f"image {args.size[0]}x{args.size[1]}x1, denoise_array ({tiles}), best of {args.reps}")
    print("| backend | model | params | first call s | s / image | peak RSS GiB | time ratio NL/ablation |")
    print("|" + "---|" * 7)
    for backend in args.backends:
        results = {}
        for label, model in (("ablation", model_arg(args.baseline)), ("nl", model_arg(args.config))):
            config = {"model": model, "size": args.size, "reps": args.reps, "tile": args.tile}
            results[label] = run_isolated(
                "benchmarks.bench_denoiser", ["--child", json.dumps(config)],
                env={"KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"},
            )
        for label, model in (("ablation", args.baseline), ("nl", args.config)):
            r = results[label]
            ratio = r["seconds"] / results["ablation"]["seconds"]
            print(f"| {backend} | {model} | {r['params']:,} | {r['first_s']:.2f} | "
                  f"{r['seconds']:.2f} | {r['peak_rss_gib']:.2f} | {ratio:.2f} |")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
