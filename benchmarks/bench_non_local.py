"""Non-local block speed and memory: every variant, chunked and plain.

Each configuration runs in its own process (peak memory is per process);
all run in one invocation, and every time is reported as a ratio to the plain
hand-written block (`plain_block.py`) at the same shape.

Usage:
    python -m benchmarks.bench_non_local                 # the default table
    python -m benchmarks.bench_non_local --quick         # small shapes only
    KERAS_BACKEND=jax python -m benchmarks.bench_non_local --modes embedded_gaussian

Columns: fwd / fwd+bwd medians in seconds, their ratio to the plain block
(< 1 is faster), forward GFLOP/s, and peak process memory of the fwd+bwd run.
"""

import argparse
import json
import os
import sys

SHAPES = {
    "2x4x28x28x512": (2, 4, 28, 28, 512),
    "2x4x14x14x1024": (2, 4, 14, 14, 1024),
    "2x8x28x28x512": (2, 8, 28, 28, 512),
    "1x16x28x28x512": (1, 16, 28, 28, 512),
    "2x64x64x256": (2, 64, 64, 256),
    "1x16x56x56x256": (1, 16, 56, 56, 256),
    "1x32x56x56x256": (1, 32, 56, 56, 256),
}
QUICK_SHAPES = ("2x4x14x14x1024", "2x4x28x28x512")
MODES = ("embedded_gaussian", "gaussian", "dot_product", "concatenation")


def forward_flops(shape, mode, reassociate=False, pool=(1, 2, 2)):
    """Multiply-adds x2 of one forward pass, in the order the block evaluates.

    `reassociate`: `theta` and `W` multiplied into the keys and values
    (`keras_nonlocal.layers.non_local.reassociation_pays`). The concatenation
    mode projects queries and keys on `w_f` directly (one channel each).
    The plain block's count is the embedded Gaussian's in order.
    """
    *lead, c = shape
    batch, spatial = lead[0], lead[1:]
    d = c // 2
    n = 1
    for s in spatial:
        n *= s
    pool = pool[-len(spatial):]
    m = 1
    for s, p in zip(spatial, pool):
        m *= s // p
    if mode == "dot_product":
        macs = n * c * d + m * c * 2 * d + m * d * d + n * d * d + n * d * c
    else:
        if mode == "gaussian":
            keys, logits_depth = m * c * d, c  # g only; logits in the input depth
        elif mode == "concatenation":
            keys, logits_depth = n * c + m * c + m * c * d, 0  # scores and g
        else:
            keys, logits_depth = m * c * 2 * d, d  # phi and g
        if reassociate:
            # queries stay x (depth C); theta and W act on the M keys/values
            query_side = m * d * c if mode == "embedded_gaussian" else 0
            logits_depth = c if logits_depth else 0
            macs = keys + query_side + n * m * logits_depth + m * d * c + n * m * c
        else:
            query_side = n * c * d if mode == "embedded_gaussian" else 0
            macs = keys + query_side + n * m * logits_depth + n * m * d + n * d * c
    return 2 * batch * macs


def child(config):
    """Times one configuration in this process; prints one JSON line."""
    import keras
    import numpy as np

    from benchmarks.steps import layer_steps
    from benchmarks.timing import median_seconds, peak_rss_gib

    shape = tuple(config["shape"])
    if config["impl"] == "plain_torch":
        from benchmarks.plain_torch_block import torch_steps

        forward, forward_backward = torch_steps(shape)
        result = {"backend": "pytorch (plain module)"}
        result["fwd"] = median_seconds(forward, reps=config["reps"], warmup=config.get("warmup", 2))
        result["fwd_bwd"] = median_seconds(
            forward_backward, reps=config["reps"], warmup=config.get("warmup", 2)
        )
        result["peak_gib"] = peak_rss_gib()
        print(json.dumps(result))
        return
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    if config["impl"] == "plain":
        from benchmarks.plain_block import PlainNonLocal3D

        layer = PlainNonLocal3D(shape[-1])
    else:
        from keras_nonlocal.layers import NonLocalBlock

        layer = NonLocalBlock(
            mode=config["mode"],
            chunk_size=config.get("chunk_size"),
            use_fused=config.get("use_fused", True),
        )
    layer(x[:1], training=False)  # builds every sublayer eagerly
    forward, forward_backward = layer_steps(layer, x, jit_compile=config.get("jit", False))
    result = {"backend": keras.backend.backend()}
    if not config.get("backward_only"):
        result["fwd"] = median_seconds(forward, reps=config["reps"], warmup=config.get("warmup", 2))
    result["fwd_bwd"] = median_seconds(
        forward_backward, reps=config["reps"], warmup=config.get("warmup", 2)
    )
    result["peak_gib"] = peak_rss_gib()
    result["flops"] = forward_flops(shape, config.get("mode", "embedded_gaussian"),
                                    reassociate=_reassociates(layer, x))
    if config["impl"] == "plain" and keras.backend.backend() == "tensorflow":
        from benchmarks.timing import gemm_gflops

        result["gemm_gflops"] = gemm_gflops()  # same process, moments later
    print(json.dumps(result))


def _floor_row(shape_name, plain):
    """The plain block's multiply-adds at the GEMM rate measured beside it.

    The forward does `flops` in GEMMs, the backward twice that (each product
    has an input and a weight gradient): no block that does the same
    products can run faster than these times, whatever it fuses.
    """
    peak = plain["gemm_gflops"] * 1e9
    fwd, fwd_bwd = plain["flops"] / peak, 3 * plain["flops"] / peak
    return (
        f"| {shape_name} | GEMM floor (plain block's FLOPs at the measured peak) | "
        f"{fwd:.3f} | {fwd_bwd:.3f} | {fwd / plain['fwd']:.2f} | "
        f"{fwd_bwd / plain['fwd_bwd']:.2f} | {plain['gemm_gflops']:.0f} | |"
    )


def _reassociates(layer, x):
    """Whether `layer` evaluates `x` in the reassociated order."""
    import numpy as np

    if not hasattr(layer, "_reassociates"):
        return False  # the plain block
    n = int(np.prod([x.shape[1 + a] for a in layer._axes]))
    m = int(np.prod([x.shape[1 + a] // layer._pool[a] for a in layer._axes]))
    return layer._reassociates(n, m)


def compare_backends(args):
    """The embedded Gaussian block on each Keras backend and as a plain
    PyTorch module, with ratios to the plain Keras block on TensorFlow."""
    from benchmarks.timing import run_isolated

    shapes = args.shapes or list(QUICK_SHAPES)
    reps = 3 if args.quick else args.reps
    print("| shape | block | backend | fwd s | fwd+bwd s | fwd ratio | fwd+bwd ratio |")
    print("|" + "---|" * 7)
    for shape_name in shapes:
        shape = SHAPES[shape_name]
        rows = [("plain Keras block", "tensorflow", {"impl": "plain"})]
        rows += [("NonLocalBlock", backend, {"impl": "ours", "mode": "embedded_gaussian"})
                 for backend in args.backends]
        if "torch" in args.backends:
            rows.append(("NonLocalBlock, torch.compile", "torch",
                         {"impl": "ours", "mode": "embedded_gaussian", "jit": True}))
        rows.append(("plain PyTorch module", "torch", {"impl": "plain_torch"}))
        baseline = None
        for label, backend, config in rows:
            config = dict(config, shape=shape, reps=reps, warmup=args.warmup)
            result = run_isolated("benchmarks.bench_non_local", ["--child", json.dumps(config)],
                                  env={"KERAS_BACKEND": backend})
            baseline = baseline or result
            print(f"| {shape_name} | {label} | {backend} | {result['fwd']:.3f} | "
                  f"{result['fwd_bwd']:.3f} | {result['fwd'] / baseline['fwd']:.2f} | "
                  f"{result['fwd_bwd'] / baseline['fwd_bwd']:.2f} |", flush=True)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", nargs="+", default=None, choices=sorted(SHAPES))
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--chunk-size", type=int, default=1024)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--backends", nargs="+", default=None,
                        choices=["tensorflow", "jax", "torch"],
                        help="compare the embedded Gaussian block across Keras backends "
                        "(and a plain PyTorch module) instead of the variant table")
    parser.add_argument("--chunked-only", action="store_true",
                        help="only the chunked block (shapes too large for the full matrix)")
    parser.add_argument("--quick", action="store_true", help="small shapes, 3 reps")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(json.loads(args.child))

    from benchmarks.timing import run_isolated

    if args.backends:
        return compare_backends(args)
    shapes = args.shapes or (QUICK_SHAPES if args.quick else list(SHAPES))
    reps = 3 if args.quick else args.reps
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    print(f"backend: {backend}; each row a fresh process; ratios vs the plain block\n")
    header = "| shape | block | fwd s | fwd+bwd s | fwd ratio | fwd+bwd ratio | fwd GFLOP/s | peak GiB |"
    print(header)
    print("|" + "---|" * 8)
    rows = []
    for shape_name in shapes:
        shape = SHAPES[shape_name]
        configs = []
        if not args.chunked_only:
            if len(shape) == 5:
                configs.append(("plain (baseline)", {"impl": "plain"}))
            for mode in args.modes:
                configs.append((mode, {"impl": "ours", "mode": mode}))
        for chunk in (args.chunk_size, "auto"):
            configs.append(
                (f"embedded_gaussian chunk {chunk}",
                 {"impl": "ours", "mode": "embedded_gaussian", "chunk_size": chunk})
            )
        baseline = None
        for label, config in configs:
            config = dict(config, shape=shape, reps=reps, warmup=args.warmup)
            result = run_isolated("benchmarks.bench_non_local", ["--child", json.dumps(config)])
            if baseline is None:
                baseline = result
            gflops = result["flops"] / result["fwd"] / 1e9
            row = (
                f"| {shape_name} | {label} | {result['fwd']:.3f} | {result['fwd_bwd']:.3f} | "
                f"{result['fwd'] / baseline['fwd']:.2f} | "
                f"{result['fwd_bwd'] / baseline['fwd_bwd']:.2f} | {gflops:.0f} | "
                f"{result['peak_gib']:.2f} |"
            )
            rows.append(row)
            print(row, flush=True)
        if baseline and "gemm_gflops" in baseline:
            print(_floor_row(shape_name, baseline), flush=True)
    from benchmarks.timing import gemm_gflops

    print(f"\nmeasured float32 GEMM peak (TensorFlow, 2048^3): {gemm_gflops():.0f} GFLOP/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
