"""The official architecture, written out independently of the package.

Everything here restates `shared/spec/official-architecture.md` (and the
official `resnet_video*.py` / `resnet_helper.py` / `nonlocal_helper.py`) as
plain lists, without importing `keras_nonlocal.applications`, so the tests
compare the Keras models with the specification rather than with themselves.
"""

BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
WIDTHS = (64, 128, 256, 512)

# use_temp_convs per stage, as listed by the official obtain_arc().
I3D_TEMP = {
    50: ([1, 1, 1], [1, 0, 1, 0], [1, 0, 1, 0, 1, 0], [0, 1, 0]),
    101: ([1, 1, 1], [1, 0, 1, 0], [1 if i % 2 == 0 else 0 for i in range(23)], [0, 1, 0]),
}


def temp_convs(arch, depth):
    """Per-stage use_temp_conv flags and the stem's u."""
    if arch == "c2d":
        return 0, tuple([0] * n for n in BLOCKS[depth])
    return 2, I3D_TEMP[depth]


def nonlocal_positions(depth, enabled=True):
    """{stage: [block idx]} from the official mod rule (LAYER_MOD = 2)."""
    if not enabled:
        return {}
    mods = {3: 2, 4: 2} if depth == 50 else {3: 2, 4: 2 * 4 - 1}
    return {
        s: [i for i in range(BLOCKS[depth][s - 2]) if i % m == m - 1] for s, m in mods.items()
    }


def _bn(blobs, prefix, channels):
    for suffix in ("s", "b", "rm", "riv"):
        blobs[f"{prefix}_bn_{suffix}"] = (channels,)


def official_blobs(arch, depth, nonlocal_blocks=False, classes=400):
    """Name -> shape of every official blob (Caffe2 layout: conv (out, in, t, h, w)).

    Args:
        arch: "c2d" or "i3d".
        depth: 50 or 101.
        nonlocal_blocks: add the official non-local blocks.
        classes: classifier size.
    """
    u, temps = temp_convs(arch, depth)
    blobs = {"conv1_w": (64, 3, 1 + 2 * u, 7, 7)}
    _bn(blobs, "res_conv1", 64)
    positions = nonlocal_positions(depth, nonlocal_blocks)
    dim_in = 64
    for s, (n, width) in enumerate(zip(BLOCKS[depth], WIDTHS), start=2):
        dim_out = 4 * width
        for i in range(n):
            p = f"res{s}_{i}"
            t = temps[s - 2][i]
            blobs[f"{p}_branch2a_w"] = (width, dim_in, 1 + 2 * t, 1, 1)
            _bn(blobs, f"{p}_branch2a", width)
            blobs[f"{p}_branch2b_w"] = (width, width, 1, 3, 3)
            _bn(blobs, f"{p}_branch2b", width)
            blobs[f"{p}_branch2c_w"] = (dim_out, width, 1, 1, 1)
            _bn(blobs, f"{p}_branch2c", dim_out)
            stride = 2 if (i == 0 and s > 2) else 1
            if dim_in != dim_out or stride != 1:
                blobs[f"{p}_branch1_w"] = (dim_out, dim_in, 1, 1, 1)
                _bn(blobs, f"{p}_branch1", dim_out)
            dim_in = dim_out
            if i in positions.get(s, []):
                q = f"nonlocal_conv{s}_{i}"
                inner = dim_in // 2
                for proj in ("theta", "phi", "g"):
                    blobs[f"{q}_{proj}_w"] = (inner, dim_in, 1, 1, 1)
                    blobs[f"{q}_{proj}_b"] = (inner,)
                blobs[f"{q}_out_w"] = (dim_in, inner, 1, 1, 1)
                blobs[f"{q}_out_b"] = (dim_in,)
                _bn(blobs, q, dim_in)
    blobs["pred_w"] = (classes, dim_in)
    blobs["pred_b"] = (classes,)
    return blobs


def blob_group(name):
    """Layer group of a blob or Keras weight path: stem, res2..res5, nonlocal, head."""
    if name.startswith(("conv1", "res_conv1")):
        return "stem"
    if name.startswith("nonlocal_conv"):
        return "nonlocal"
    if name.startswith("pred"):
        return "head"
    return name.split("_")[0]  # res2 .. res5


def learnable(name):
    """Whether an official blob is a learned parameter (not a BN running statistic)."""
    return not name.endswith(("_bn_rm", "_bn_riv"))


def keras_path(blob):
    """The Keras weight path an official blob maps to, by name alone."""
    bn = {"_bn_s": "gamma", "_bn_b": "beta", "_bn_rm": "moving_mean", "_bn_riv": "moving_variance"}
    for suffix, weight in bn.items():
        if blob.endswith(suffix):
            prefix = blob[: -len(suffix)]
            if prefix.startswith("nonlocal_conv"):
                return f"{prefix}/bn/{weight}"
            return f"{prefix}_bn/{weight}"
    prefix, kind = blob.rsplit("_", 1)
    weight = {"w": "kernel", "b": "bias"}[kind]
    if prefix.startswith("nonlocal_conv"):
        block, proj = prefix.rsplit("_", 1)
        return f"{block}/{proj}/{weight}"
    return f"{prefix}/{weight}"


def keras_shape(blob, shape):
    """The Keras shape of an official blob: conv (t, h, w, in, out), FC (in, out)."""
    if len(shape) == 5:
        out, inp, t, h, w = shape
        if blob.startswith("nonlocal_conv"):
            return (inp, out)
        return (t, h, w, inp, out)
    if len(shape) == 2:
        return (shape[1], shape[0])
    return shape


# Output sizes (T, H, W) after each stage for the standard inputs (spec).
STAGE_SIZES = {
    "32x2": {"conv1": (16, 112, 112), "pool1": (8, 55, 55), "res2": (8, 55, 55),
             "pool2": (4, 55, 55), "res3": (4, 28, 28), "res4": (4, 14, 14), "res5": (4, 7, 7)},
    "8x8": {"conv1": (8, 112, 112), "pool1": (8, 55, 55), "res2": (8, 55, 55),
            "pool2": (4, 55, 55), "res3": (4, 28, 28), "res4": (4, 14, 14), "res5": (4, 7, 7)},
}
