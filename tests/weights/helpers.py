"""Official-format checkpoints, small models and NumPy forwards for the tests.

Everything here is written from the official layout (blob names, Caffe2
layouts `(out, in, t, h, w)`, BN `_s/_b/_rm/_riv`), independently of
`keras_nonlocal.weights.mapping`, so that the tests check the mapping against
the specification rather than against itself.
"""

import io
import os
import pickle
import re
import tarfile

import keras
import numpy as np

from keras_nonlocal.layers import Affine
from keras_nonlocal.layers import NonLocalBlock

EPS = 1.0000001e-5


# ------------------------------------------------------------------ blobs


class BlobMaker:
    """Seeded random blobs in the official layouts."""

    def __init__(self, seed=0, affine=False, scale=0.1):
        self.rng = np.random.default_rng(seed)
        self.affine = affine
        self.scale = scale
        self.blobs = {}

    def conv(self, name, shape, bias=False):
        self.blobs[f"{name}_w"] = (self.rng.standard_normal(shape) * self.scale).astype(np.float32)
        if bias:
            self.blobs[f"{name}_b"] = (self.rng.standard_normal(shape[0]) * self.scale).astype(np.float32)

    def bn(self, name, channels, affine=None):
        affine = self.affine if affine is None else affine
        self.blobs[f"{name}_s"] = self.rng.uniform(0.5, 1.5, channels).astype(np.float32)
        self.blobs[f"{name}_b"] = (self.rng.standard_normal(channels) * 0.1).astype(np.float32)
        if not affine:
            self.blobs[f"{name}_rm"] = (self.rng.standard_normal(channels) * 0.1).astype(np.float32)
            self.blobs[f"{name}_riv"] = self.rng.uniform(0.5, 1.5, channels).astype(np.float32)

    def nonlocal_block(self, name, channels, inner=None, norm="batch_norm"):
        """`norm`: `"batch_norm"` (`_bn_s/_b/_rm/_riv`), `"affine"`
        (`_bn_s/_b`) or `None` (the long-clip models: no `_bn_*` blobs)."""
        inner = inner or channels // 2
        for branch in ("theta", "phi", "g"):
            self.conv(f"{name}_{branch}", (inner, channels, 1, 1, 1), bias=True)
        self.conv(f"{name}_out", (channels, inner, 1, 1, 1), bias=True)
        if norm is not None:
            self.bn(f"{name}_bn", channels, affine=(norm == "affine"))

    def pred(self, classes, features):
        self.blobs["pred_w"] = (self.rng.standard_normal((classes, features)) * 0.1).astype(np.float32)
        self.blobs["pred_b"] = (self.rng.standard_normal(classes) * 0.1).astype(np.float32)


def with_solver_state(blobs):
    """The blobs as saved during training: momentum per blob, lr, model_iter."""
    out = dict(blobs)
    for name, value in blobs.items():
        out[f"{name}_momentum"] = np.zeros_like(value)
    out["lr"] = np.array(0.01, np.float32)
    out["model_iter"] = 400000
    return out


def write_checkpoint(path, blobs, solver_state=True, protocol=2):
    data = {"blobs": with_solver_state(blobs) if solver_state else dict(blobs)}
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=protocol)
    return path


def write_tarball(path, members):
    """A `.tar.gz` holding `pretrained_model/<name>` for each (name, bytes)."""
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"pretrained_model/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


# ------------------------------------------------------------ small model
#
# A stem, one I3D bottleneck with a projection shortcut, one non-local block
# and the classifier, named as the official blobs. Input (T, H, W, 3).

SMALL_INPUT = (4, 8, 8, 3)
SMALL = dict(stem=8, width=4, out=16, classes=5, t_stem=3, t_a=3)


def small_blobs(seed=0, affine=False, nonlocal_norm="batch_norm", image=False,
                classes=SMALL["classes"], nonlocal_name="nonlocal_conv2_0"):
    """Official-format blobs of `small_model` (2-D kernels with `image`).

    `affine`: the backbone's normalisation as `_s`, `_b` only;
    `nonlocal_norm`: the block's (`"batch_norm"`, `"affine"` or `None`).
    """
    m = BlobMaker(seed, affine=affine)
    s, w, o = SMALL["stem"], SMALL["width"], SMALL["out"]

    def k(t, h, ww):
        return (h, ww) if image else (t, h, ww)

    m.conv("conv1", (s, 3) + k(SMALL["t_stem"], 3, 3))
    m.bn("res_conv1_bn", s)
    m.conv("res2_0_branch2a", (w, s) + k(SMALL["t_a"], 1, 1))
    m.bn("res2_0_branch2a_bn", w)
    m.conv("res2_0_branch2b", (w, w) + k(1, 3, 3))
    m.bn("res2_0_branch2b_bn", w)
    m.conv("res2_0_branch2c", (o, w) + k(1, 1, 1))
    m.bn("res2_0_branch2c_bn", o)
    m.conv("res2_0_branch1", (o, s) + k(1, 1, 1))
    m.bn("res2_0_branch1_bn", o)
    if not image:
        m.nonlocal_block(nonlocal_name, o, norm=nonlocal_norm)
    m.pred(classes, o)
    return m.blobs


def small_model(norm="batch_norm", include_top=True, classes=SMALL["classes"], nonlocal_norm=None,
                nonlocal_name="nonlocal_conv2_0", **nonlocal_kwargs):
    """A tiny video model whose layer names are the official prefixes.

    Args:
        norm: `"batch_norm"` or `"affine"` for the backbone normalisation.
        nonlocal_norm: the non-local block's `norm` (defaults to `norm`;
            `"none"` for no normalisation).
    """
    s, w, o = SMALL["stem"], SMALL["width"], SMALL["out"]
    nonlocal_norm = nonlocal_norm or norm
    nonlocal_norm = None if nonlocal_norm == "none" else nonlocal_norm

    def normalise(x, name):
        if norm == "affine":
            return Affine(name=name)(x)
        return keras.layers.BatchNormalization(epsilon=EPS, name=name)(x)

    def conv(x, filters, kernel, strides, name):
        pad = tuple((k // 2, k // 2) for k in kernel)
        if any(p for p, _ in pad):
            x = keras.layers.ZeroPadding3D(pad, name=f"{name}_pad")(x)
        return keras.layers.Conv3D(filters, kernel, strides=strides, use_bias=False, name=name)(x)

    inputs = keras.Input(SMALL_INPUT)
    x = conv(inputs, s, (SMALL["t_stem"], 3, 3), (1, 2, 2), "conv1")
    x = keras.layers.ReLU()(normalise(x, "res_conv1_bn"))
    a = keras.layers.ReLU()(normalise(conv(x, w, (SMALL["t_a"], 1, 1), 1, "res2_0_branch2a"), "res2_0_branch2a_bn"))
    b = keras.layers.ReLU()(normalise(conv(a, w, (1, 3, 3), 1, "res2_0_branch2b"), "res2_0_branch2b_bn"))
    c = normalise(conv(b, o, (1, 1, 1), 1, "res2_0_branch2c"), "res2_0_branch2c_bn")
    short = normalise(conv(x, o, (1, 1, 1), 1, "res2_0_branch1"), "res2_0_branch1_bn")
    x = keras.layers.ReLU()(keras.layers.Add()([c, short]))
    x = NonLocalBlock(norm=nonlocal_norm, bn_epsilon=EPS, name=nonlocal_name, **nonlocal_kwargs)(x)
    x = keras.layers.GlobalAveragePooling3D(name="pool5")(x)
    if include_top:
        x = keras.layers.Dense(classes, name="pred")(x)
    return keras.Model(inputs, x)


# ----------------------------------------------------------- NumPy forward


def np_conv(x, w, strides=(1, 1, 1)):
    """Channels-last 3-D convolution with an official (out, in, t, h, w) kernel,
    symmetric padding `k // 2`, no bias."""
    kt, kh, kw = w.shape[2:]
    x = np.pad(x, ((0, 0), (kt // 2,) * 2, (kh // 2,) * 2, (kw // 2,) * 2, (0, 0)))
    n, t, h, ww, _ = x.shape
    st, sh, sw = strides
    to, ho, wo = (t - kt) // st + 1, (h - kh) // sh + 1, (ww - kw) // sw + 1
    out = np.zeros((n, to, ho, wo, w.shape[0]), np.float64)
    for a in range(kt):
        for b in range(kh):
            for c in range(kw):
                patch = x[:, a:a + st * to:st, b:b + sh * ho:sh, c:c + sw * wo:sw]
                out += np.einsum("nthwc,oc->nthwo", patch, w[:, :, a, b, c])
    return out


def np_norm(x, blobs, name, eps=EPS):
    s, b = blobs[f"{name}_s"], blobs[f"{name}_b"]
    if f"{name}_rm" in blobs:
        return (x - blobs[f"{name}_rm"]) / np.sqrt(blobs[f"{name}_riv"] + eps) * s + b
    return x * s + b


def np_maxpool(x, size, strides):
    kt, kh, kw = size
    st, sh, sw = strides
    n, t, h, w, c = x.shape
    to, ho, wo = (t - kt) // st + 1, (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.full((n, to, ho, wo, c), -np.inf)
    for a in range(kt):
        for b in range(kh):
            for d in range(kw):
                out = np.maximum(out, x[:, a:a + st * to:st, b:b + sh * ho:sh, d:d + sw * wo:sw])
    return out


def np_dense(x, blobs, name):
    w = blobs[f"{name}_w"]
    return x @ w.reshape(w.shape[0], -1).T + blobs[f"{name}_b"]


def np_nonlocal(x, blobs, name, group_size=None):
    """The official embedded-Gaussian block: space-only max-pool of phi/g,
    softmax of theta.phi scaled by inner^-0.5, out conv, BN (when the blobs
    have one), residual. With `group_size`, on groups of that many
    consecutive frames (`add_nonlocal_group`: the batch becomes batch x
    groups)."""
    if group_size is not None:
        n, t = x.shape[:2]
        grouped = x.reshape((n * t // group_size, group_size) + x.shape[2:])
        return np_nonlocal(grouped, blobs, name).reshape(x.shape)
    n, t, h, w, c = x.shape
    pooled = np_maxpool(x, (1, 2, 2), (1, 2, 2))
    theta = np_dense(x.reshape(n, -1, c), blobs, f"{name}_theta")
    phi = np_dense(pooled.reshape(n, -1, c), blobs, f"{name}_phi")
    g = np_dense(pooled.reshape(n, -1, c), blobs, f"{name}_g")
    logits = np.einsum("nic,njc->nij", theta, phi) * theta.shape[-1] ** -0.5
    logits -= logits.max(-1, keepdims=True)
    attention = np.exp(logits)
    attention /= attention.sum(-1, keepdims=True)
    y = np.einsum("nij,njc->nic", attention, g)
    out = np_dense(y, blobs, f"{name}_out")
    if f"{name}_bn_s" in blobs:
        out = np_norm(out, blobs, f"{name}_bn")
    return x + out.reshape(x.shape)


def np_small_forward(blobs, x, include_top=True):
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    x = relu(np_norm(np_conv(x, blobs["conv1_w"], (1, 2, 2)), blobs, "res_conv1_bn"))
    a = relu(np_norm(np_conv(x, blobs["res2_0_branch2a_w"]), blobs, "res2_0_branch2a_bn"))
    b = relu(np_norm(np_conv(a, blobs["res2_0_branch2b_w"]), blobs, "res2_0_branch2b_bn"))
    c = np_norm(np_conv(b, blobs["res2_0_branch2c_w"]), blobs, "res2_0_branch2c_bn")
    short = np_norm(np_conv(x, blobs["res2_0_branch1_w"]), blobs, "res2_0_branch1_bn")
    x = relu(c + short)
    x = np_nonlocal(x, blobs, "nonlocal_conv2_0")
    x = x.mean(axis=(1, 2, 3))
    if include_top:
        x = x @ blobs["pred_w"].T + blobs["pred_b"]
    return x


# ---------------------------------------------------- weight-by-weight check

_BN_ATTR = {"s": "gamma", "b": "beta", "rm": "moving_mean", "riv": "moving_variance"}


def _find(model, prefix):
    match = re.match(r"(nonlocal_conv\d+_\d+)_(theta|phi|g|out|bn)$", prefix)
    if match:
        return getattr(model.get_layer(match.group(1)), match.group(2))
    return model.get_layer(prefix)


def keras_value(model, blob_name):
    """The Keras weight an official blob must land in, by the specification."""
    match = re.match(r"(.*_bn)_(s|b|rm|riv)$", blob_name)
    if match:
        layer = _find(model, match.group(1))
        weights = {w.name: w for w in layer.weights}
        return np.asarray(weights[_BN_ATTR[match.group(2)]])
    prefix, kind = blob_name.rsplit("_", 1)
    layer = _find(model, prefix)
    if kind == "b":
        return np.asarray(layer.bias)
    return np.asarray(layer.kernel)


def expected_keras_value(blob, keras_shape):
    """The blob in the Keras layout: conv (out, in, *k) -> (*k, in, out);
    dense (out, in[, 1...]) -> (in, out)."""
    if blob.ndim == 1:
        return blob
    if len(keras_shape) == 2:
        return blob.reshape(blob.shape[0], -1).T
    return np.transpose(blob, tuple(range(2, blob.ndim)) + (1, 0))


def assert_weights_equal_blobs(model, blobs, skip=()):
    checked = 0
    for name, blob in blobs.items():
        if any(re.match(p, name) for p in skip):
            continue
        value = keras_value(model, name)
        np.testing.assert_array_equal(value, expected_keras_value(blob, value.shape), err_msg=name)
        checked += 1
    return checked


def keras_weights_by_path(model):
    return {w.path: np.asarray(w) for w in model.weights}


# ------------------------------------------------ official ResNet generator

R50 = (3, 4, 6, 3)
R101 = (3, 4, 23, 3)
# Official temporal kernels (`use_temp_conv`) per block, spec §backbones.
I3D_TEMPORAL = {
    50: ([1, 1, 1], [1, 0, 1, 0], [1, 0, 1, 0, 1, 0], [0, 1, 0]),
    101: ([1, 1, 1], [1, 0, 1, 0], [i % 2 == 0 for i in range(23)], [0, 1, 0]),
}
# Non-local placement of the official 5-block R50 models: res3 1,3; res4 1,3,5.
NONLOCAL_R50 = {3: (1, 3), 4: (1, 3, 5)}


# I3D temporal kernels per stage as the official lists' cycles (spec: res2
# [1,1,1], res3 [1,0,1,0], res4 [1,0,...], res5 [0,1,0]), for any depth.
_I3D_CYCLES = ((1,), (1, 0), (1, 0), (0, 1))


def official_resnet_blobs(seed=0, arch="i3d", nonlocal_blocks=False, affine=False,
                          classes=400, depth=50, two_d=False, pred=True, nonlocal_norm="auto",
                          depths=None, widths=(64, 128, 256, 512), stem=64):
    """Blobs of an official video ResNet (or of a 2-D ImageNet ResNet with
    `two_d`), written from the specification.

    `affine`: the long-clip layout: backbone BNs as `_s`, `_b` only and, by
    default (`nonlocal_norm="auto"`), non-local blocks without any `_bn_*`
    blob; otherwise `nonlocal_norm` gives the blocks' layout. `depths`,
    `widths` and `stem` make a smaller network of the same layout (non-local
    blocks after the odd blocks of res3 and res4, the official mod-2 rule)."""
    if nonlocal_norm == "auto":
        nonlocal_norm = None if affine else "batch_norm"
    m = BlobMaker(seed, affine=affine, scale=0.05 if depths is None else 0.3)
    if depths is None:
        depths = R50 if depth == 50 else R101
        placement = NONLOCAL_R50
    else:
        placement = {s: tuple(i for i in range(depths[s - 2]) if i % 2 == 1) for s in (3, 4)}
    u = 2 if arch == "i3d" else 0
    m.conv("conv1", (stem, 3, 7, 7) if two_d else (stem, 3, 1 + 2 * u, 7, 7))
    m.bn("res_conv1_bn", stem)
    in_ch = stem
    for index, n in enumerate(depths):
        stage, width = index + 2, widths[index]
        out = 4 * width
        for i in range(n):
            p = f"res{stage}_{i}"
            cycle = _I3D_CYCLES[index]
            t = 3 if (arch == "i3d" and cycle[i % len(cycle)]) else 1
            m.conv(f"{p}_branch2a", (width, in_ch, 1, 1) if two_d else (width, in_ch, t, 1, 1))
            m.bn(f"{p}_branch2a_bn", width)
            m.conv(f"{p}_branch2b", (width, width, 3, 3) if two_d else (width, width, 1, 3, 3))
            m.bn(f"{p}_branch2b_bn", width)
            m.conv(f"{p}_branch2c", (out, width, 1, 1) if two_d else (out, width, 1, 1, 1))
            m.bn(f"{p}_branch2c_bn", out)
            if i == 0:
                m.conv(f"{p}_branch1", (out, in_ch, 1, 1) if two_d else (out, in_ch, 1, 1, 1))
                m.bn(f"{p}_branch1_bn", out)
            if nonlocal_blocks and i in placement.get(stage, ()):
                m.nonlocal_block(f"nonlocal_conv{stage}_{i}", out, norm=nonlocal_norm)
            in_ch = out
    if pred:
        m.pred(classes, in_ch)
    return m.blobs


def np_stem_and_res2_0(blobs, x, conv1_strides, pool1_size, pool1_strides):
    """Official stem (conv1 pad [u,3,3], BN, ReLU, max-pool pad 0) and the first
    bottleneck of res2, from the blobs."""
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    x = relu(np_norm(np_conv(x, blobs["conv1_w"], conv1_strides), blobs, "res_conv1_bn"))
    x = np_maxpool(x, pool1_size, pool1_strides)
    a = relu(np_norm(np_conv(x, blobs["res2_0_branch2a_w"]), blobs, "res2_0_branch2a_bn"))
    b = relu(np_norm(np_conv(a, blobs["res2_0_branch2b_w"]), blobs, "res2_0_branch2b_bn"))
    c = np_norm(np_conv(b, blobs["res2_0_branch2c_w"]), blobs, "res2_0_branch2c_bn")
    short = np_norm(np_conv(x, blobs["res2_0_branch1_w"]), blobs, "res2_0_branch1_bn")
    return relu(c + short)


def py2_pickle_bytes(blobs):
    """A pickle as Python 2 + NumPy 1 wrote it: protocol 2, `numpy.core`
    module names, array data as Python-2 `str` (BINSTRING)."""

    class _Py2Pickler(pickle._Pickler):
        dispatch = dict(pickle._Pickler.dispatch)

        def save_bytes(self, obj):
            self.write(pickle.BINSTRING + len(obj).to_bytes(4, "little") + obj)
            self.memoize(obj)

        def save_str(self, obj):
            data = obj.encode("latin1")
            self.write(pickle.BINSTRING + len(data).to_bytes(4, "little") + data)
            self.memoize(obj)

        dispatch[bytes] = save_bytes
        dispatch[str] = save_str

    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump({"blobs": blobs})
    data = buffer.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"_codecs" not in data
    return data


def file_paths(directory):
    found = []
    for root, _, files in os.walk(directory):
        found += [os.path.join(root, f) for f in files]
    return sorted(found)


# Stem of each input setting: conv1 strides, pool1 window and strides (spec).
STEMS = {
    "8x8": ((1, 2, 2), (1, 3, 3), (1, 2, 2)),
    "32x4": ((1, 2, 2), (1, 3, 3), (1, 2, 2)),
    "32x2": ((2, 2, 2), (2, 3, 3), (2, 2, 2)),
    "128x1": ((2, 2, 2), (2, 3, 3), (2, 2, 2)),
}


# Non-local groups of frames per stage in each setting (the long-clip config's
# `add_nonlocal_group` in res3, spec).
NONLOCAL_GROUPS = {"32x4": {3: 4}, "128x1": {3: 4}}


def np_official_resnet(blobs, x, setting="8x8", depths=None, groups=None):
    """Logits of an official video ResNet computed from its blobs alone:
    stem, res2, pool2 (time /2), res3..res5 with the stride on the 3x3 of the
    first block, the non-local blocks present in the blobs (grouped per
    `groups`, default: the setting's), average pool, `pred`."""
    groups = NONLOCAL_GROUPS.get(setting, {}) if groups is None else groups
    if depths is None:  # blocks per stage, from the blob names
        depths = tuple(
            len([n for n in blobs if re.match(rf"res{stage}_\d+_branch2a_w$", n)]) for stage in (2, 3, 4, 5)
        )
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    conv1_strides, pool_size, pool_strides = STEMS[setting]
    x = relu(np_norm(np_conv(x, blobs["conv1_w"], conv1_strides), blobs, "res_conv1_bn"))
    x = np_maxpool(x, pool_size, pool_strides)
    for index, n in enumerate(depths):
        stage = index + 2
        for i in range(n):
            p = f"res{stage}_{i}"
            stride = (1, 2, 2) if (i == 0 and stage > 2) else (1, 1, 1)
            a = relu(np_norm(np_conv(x, blobs[f"{p}_branch2a_w"]), blobs, f"{p}_branch2a_bn"))
            b = relu(np_norm(np_conv(a, blobs[f"{p}_branch2b_w"], stride), blobs, f"{p}_branch2b_bn"))
            c = np_norm(np_conv(b, blobs[f"{p}_branch2c_w"]), blobs, f"{p}_branch2c_bn")
            if f"{p}_branch1_w" in blobs:
                short = np_norm(np_conv(x, blobs[f"{p}_branch1_w"], stride), blobs, f"{p}_branch1_bn")
            else:
                short = x
            x = relu(c + short)
            if f"nonlocal_conv{stage}_{i}_theta_w" in blobs:
                x = np_nonlocal(x, blobs, f"nonlocal_conv{stage}_{i}", groups.get(stage))
        if stage == 2:
            x = np_maxpool(x, (2, 1, 1), (2, 1, 1))
    x = x.mean(axis=(1, 2, 3))
    return x @ blobs["pred_w"].T + blobs["pred_b"]
