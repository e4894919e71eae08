"""The block against the independent NumPy reference, for every variant."""

import keras
import numpy as np
import pytest

from keras_nonlocal.layers import MODES, NonLocalBlock
from tests.layers import reference

SHAPES = {3: (2, 8, 6), 4: (2, 5, 4, 6), 5: (2, 3, 4, 5, 6)}
ATTENDED = {
    (3, "spacetime"): (0,), (3, "time"): (0,),
    (4, "spacetime"): (0, 1), (4, "space"): (0, 1),
    (5, "spacetime"): (0, 1, 2), (5, "space"): (1, 2), (5, "time"): (0,),
}
DEFAULT_POOL = {
    (3, "spacetime"): (2,), (3, "time"): (2,),
    (4, "spacetime"): (2, 2), (4, "space"): (2, 2),
    (5, "spacetime"): (1, 2, 2), (5, "space"): (1, 2, 2), (5, "time"): (1, 1, 1),
}


def randomise(block, seed=0):
    """Gives every weight of a built block random values; returns them."""
    rng = np.random.default_rng(seed)
    params = {}
    for name in ("theta", "phi", "g", "out"):
        sub = getattr(block, name, None)
        if sub is None:
            continue
        kernel = rng.normal(0, 0.3, sub.kernel.shape)
        bias = rng.normal(0, 0.1, sub.bias.shape)
        sub.kernel.assign(kernel)
        sub.bias.assign(bias)
        params[name] = (kernel, bias)
    if block.mode == "concatenation":
        wf = rng.normal(0, 0.5, block.concat_kernel.shape)
        block.concat_kernel.assign(wf)
        params["concat"] = wf
    if block.norm == "batch_norm":
        c = block.bn.gamma.shape[0]
        values = (rng.normal(1, 0.2, c), rng.normal(0, 0.1, c), rng.normal(0, 0.1, c),
                  rng.uniform(0.5, 1.5, c))
        for var, value in zip(
            (block.bn.gamma, block.bn.beta, block.bn.moving_mean, block.bn.moving_variance),
            values,
        ):
            var.assign(value)
        params["bn"] = values
    elif block.norm == "affine":
        c = block.bn.gamma.shape[0]
        values = (rng.normal(1, 0.2, c), rng.normal(0, 0.1, c))
        block.bn.gamma.assign(values[0])
        block.bn.beta.assign(values[1])
        params["bn"] = values
    return params


def twin_blocks(shape, other_kwargs, **shared_kwargs):
    """A randomised block and a second one with `other_kwargs` and its weights.

    Both are built for `shape` with `shared_kwargs`; returns `(reference,
    other)`.
    """
    reference = NonLocalBlock(**shared_kwargs)
    reference.build(shape)
    randomise(reference)
    other = NonLocalBlock(**shared_kwargs, **other_kwargs)
    other.build(shape)
    other.set_weights(reference.get_weights())
    return reference, other


def run_case(mode, rank, attention_axes="spacetime", channels_first=False, seed=0, **kwargs):
    x = np.random.default_rng(seed + 1).normal(0, 1, SHAPES[rank]).astype("float32")
    layer_x = np.moveaxis(x, -1, 1) if channels_first else x
    block = NonLocalBlock(
        mode=mode,
        attention_axes=attention_axes,
        data_format="channels_first" if channels_first else "channels_last",
        **kwargs,
    )
    block.build(layer_x.shape)
    params = randomise(block, seed)
    got = keras.ops.convert_to_numpy(block(layer_x, training=False))
    if channels_first:
        got = np.moveaxis(got, 1, -1)
    sub_sample = kwargs.get("sub_sample", True)
    pool = kwargs.get("pool_size") or DEFAULT_POOL[(rank, attention_axes)]
    if not sub_sample:
        pool = (1,) * (rank - 2)
    inner_dim = kwargs.get("inner_channels") or x.shape[-1] // 2
    use_scale = kwargs.get("use_scale", mode == "embedded_gaussian")
    depth = x.shape[-1] if mode == "gaussian" else inner_dim
    want = reference.non_local(
        x.astype("float64"),
        params,
        mode,
        pool,
        ATTENDED[(rank, attention_axes)],
        scale=depth**-0.5 if use_scale else 1.0,
        residual=kwargs.get("residual", True),
        norm=kwargs.get("norm", "batch_norm"),
        group_size=kwargs.get("group_size"),
    )
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("rank", [3, 4, 5])
@pytest.mark.parametrize("mode", MODES)
def test_matches_reference_for_every_mode_and_rank(mode, rank):
    run_case(mode, rank)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "options",
    [
        {"sub_sample": False},
        {"channels_first": True},
        {"attention_axes": "space"},
        {"attention_axes": "time"},
        {"attention_axes": "time", "pool_size": (3, 1, 1)},
        {"pool_size": (2, 2, 2)},
        {"residual": False},
        {"norm": "affine"},
        {"norm": None},
        {"inner_channels": 3},
        {"group_size": 1},
        {"use_scale": True},
        {"use_scale": False},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
def test_matches_reference_with_options_on_video(mode, options):
    run_case(mode, 5, **options)


@pytest.mark.parametrize("mode", MODES)
def test_matches_reference_on_image_space_attention_channels_first(mode):
    run_case(mode, 4, attention_axes="space", channels_first=True)


def test_group_size_attends_within_groups_only():
    x = np.random.default_rng(0).normal(size=(1, 4, 4, 4, 6)).astype("float32")
    block = NonLocalBlock(group_size=2)
    block.build(x.shape)
    params = randomise(block)
    got = keras.ops.convert_to_numpy(block(x, training=False))
    want = reference.non_local(
        x.astype("float64"), params, "embedded_gaussian", (1, 2, 2), (0, 1, 2),
        scale=3**-0.5, group_size=2,
    )
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # Changing frames 2-3 must leave the output of frames 0-1 untouched.
    x2 = x.copy()
    x2[:, 2:] += 1.0
    got2 = keras.ops.convert_to_numpy(block(x2, training=False))
    np.testing.assert_array_equal(got2[:, :2], got[:, :2])


@pytest.mark.parametrize("mode", MODES)
def test_returned_attention_matches_reference_weights(mode):
    x = np.random.default_rng(3).normal(size=(1, 2, 4, 4, 6)).astype("float32")
    block = NonLocalBlock(mode=mode, return_attention=True)
    block.build(x.shape)
    params = randomise(block)
    z, attention = block(x, training=False)
    attention = keras.ops.convert_to_numpy(attention)
    use_scale = mode == "embedded_gaussian"
    depth = 6 if mode == "gaussian" else 3
    _, weights = reference.non_local(
        x.astype("float64"), params, mode, (1, 2, 2), (0, 1, 2),
        scale=depth**-0.5 if use_scale else 1.0, return_weights=True,
    )
    assert attention.shape == (1, 2 * 4 * 4, 2 * 2 * 2)
    # Query position i of the flattened (T, H, W) grid, in C order.
    for i, qi in enumerate(np.ndindex(2, 4, 4)):
        np.testing.assert_allclose(attention[0, i], weights[(0,) + qi], rtol=1e-4, atol=1e-5)
    if mode in ("gaussian", "embedded_gaussian"):
        np.testing.assert_allclose(attention.sum(-1), 1.0, rtol=1e-5)
    assert keras.ops.convert_to_numpy(z).shape == x.shape


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("attention_axes", ["spacetime", "space"])
def test_chunked_equals_unchunked(mode, attention_axes):
    x = np.random.default_rng(4).normal(size=(2, 3, 6, 6, 8)).astype("float32")
    plain, chunked = twin_blocks(x.shape, {"chunk_size": 5}, mode=mode, attention_axes=attention_axes)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(chunked(x, training=False)),
        keras.ops.convert_to_numpy(plain(x, training=False)),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize("mode", ["gaussian", "embedded_gaussian"])
def test_fused_attention_equals_explicit_softmax(monkeypatch, mode):
    if keras.backend.backend() == "tensorflow":
        pytest.skip(
            "TensorFlow has no fused attention kernel: with use_fused=True the block "
            "runs the explicit softmax too (compared with the reference above)"
        )
    calls = []
    fused_attention = keras.ops.dot_product_attention

    def counted(*args, **kwargs):
        calls.append(1)
        return fused_attention(*args, **kwargs)

    monkeypatch.setattr(keras.ops, "dot_product_attention", counted)
    x = np.random.default_rng(5).normal(size=(2, 2, 6, 6, 8)).astype("float32")
    # Equal depths for q, k and v (the fused kernel's condition), and the
    # order that keeps theta on the queries.
    kwargs = {"inner_channels": 8} if mode == "gaussian" else {}
    monkeypatch.setattr(NonLocalBlock, "_reassociates", lambda self, n, m: False)
    fused, explicit = twin_blocks(x.shape, {"use_fused": False}, mode=mode, **kwargs)
    want = keras.ops.convert_to_numpy(explicit(x, training=False))
    assert not calls
    got = keras.ops.convert_to_numpy(fused(x, training=False))
    assert calls, "the fused kernel was not called"
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_auto_chunking_chunks_large_maps_only_and_changes_nothing(monkeypatch):
    from keras_nonlocal.layers import non_local

    # Shrink the thresholds so that a small input takes the chunked path.
    monkeypatch.setattr(non_local, "AUTO_CHUNK_THRESHOLD", 2**20)
    monkeypatch.setattr(non_local, "AUTO_CHUNK_ELEMENTS", 2**18)
    x = np.random.default_rng(6).normal(size=(1, 8, 32, 32, 8)).astype("float32")
    plain, auto = twin_blocks(x.shape, {"chunk_size": "auto"})
    q = np.zeros((1, 8 * 32 * 32, 4))
    k = np.zeros((1, 8 * 16 * 16, 4))
    assert auto._chunk_size(q, k) == 2**18 // k.shape[1]
    assert auto._chunk_size(q[:, :512], k) is None
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(auto(x, training=False)),
        keras.ops.convert_to_numpy(plain(x, training=False)),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize("reassociate", [False, True], ids=["in_order", "reassociated"])
@pytest.mark.parametrize(
    "options",
    [{"rank": 3}, {"rank": 4}, {"rank": 5}, {"rank": 5, "chunk_size": 7},
     {"rank": 5, "attention_axes": "space", "use_scale": True}],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
@pytest.mark.parametrize("mode", MODES)
def test_both_evaluation_orders_match_reference(monkeypatch, mode, options, reassociate):
    # Whichever order the block picks for a shape, the result is the same.
    monkeypatch.setattr(NonLocalBlock, "_reassociates", lambda self, n, m: reassociate)
    options = dict(options)
    run_case(mode, options.pop("rank"), **options)


def test_reassociation_is_chosen_where_it_saves_multiply_adds():
    block = NonLocalBlock()
    block.build((None, None, None, None, 1024))  # res4 of NL-I3D: d = 512
    # 4x14x14 queries, 4x7x7 keys: M = 196 < d.
    assert block._reassociates(4 * 14 * 14, 4 * 7 * 7)
    block = NonLocalBlock()
    block.build((None, None, None, None, 512))  # res3: d = 256
    assert not block._reassociates(4 * 28 * 28, 4 * 14 * 14)
    assert not block._reassociates(None, 196)  # unknown sizes: in order
    # The dot product otherwise never builds the (N, M) matrix: it pays to
    # build it in res4 (small M), not in res3.
    block = NonLocalBlock(mode="dot_product")
    block.build((None, None, None, None, 1024))
    assert block._reassociates(4 * 14 * 14, 4 * 7 * 7)
    block = NonLocalBlock(mode="dot_product")
    block.build((None, None, None, None, 512))
    assert not block._reassociates(4 * 28 * 28, 4 * 14 * 14)


def test_balanced_chunks_pad_less_than_one_position_per_chunk():
    from keras_nonlocal.layers.softmax_attention import balanced_chunks

    assert balanced_chunks(3136, 1024) == (4, 784)
    assert balanced_chunks(1000, 1000) == (1, 1000)
    for n in range(1, 60):
        for limit in range(1, 20):
            count, size = balanced_chunks(n, limit)
            assert size <= limit and count * size >= n and count * size - n < count


@pytest.mark.parametrize("reassociate", [False, True], ids=["in_order", "reassociated"])
@pytest.mark.parametrize("mode", MODES)
def test_training_mode_normalises_with_batch_statistics(monkeypatch, mode, reassociate):
    # BatchNorm in training mode against NumPy: the pre-norm output is the
    # reference block without norm or residual, normalised by its own
    # moments; the moving statistics move towards them by 1 - momentum.
    monkeypatch.setattr(NonLocalBlock, "_reassociates", lambda self, n, m: reassociate)
    x = np.random.default_rng(3).normal(0, 1, SHAPES[5]).astype("float32")
    block = NonLocalBlock(mode=mode)
    block.build(x.shape)
    params = randomise(block)
    gamma, beta, moving_mean, moving_var = params["bn"]
    got = keras.ops.convert_to_numpy(block(x, training=True))
    depth = x.shape[-1] if mode == "gaussian" else x.shape[-1] // 2
    pre = reference.non_local(
        x.astype("float64"), params, mode, (1, 2, 2), (0, 1, 2),
        scale=depth**-0.5 if mode == "embedded_gaussian" else 1.0,
        residual=False, norm=None,
    ).reshape(-1, x.shape[-1])
    mean, var = pre.mean(0), pre.var(0)
    want = x + ((pre - mean) / np.sqrt(var + 1e-5) * gamma + beta).reshape(x.shape)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(block.bn.moving_mean), 0.9 * moving_mean + 0.1 * mean,
        rtol=1e-4, atol=1e-5,
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(block.bn.moving_variance), 0.9 * moving_var + 0.1 * var,
        rtol=1e-4, atol=1e-5,
    )


def test_frozen_batch_norm_uses_its_moving_statistics_in_training():
    # A frozen BatchNorm is folded into W even when training=True.
    reference_block, frozen = twin_blocks(SHAPES[5], {})
    frozen.bn.trainable = False
    x = np.random.default_rng(4).normal(0, 1, SHAPES[5]).astype("float32")
    moving_mean = keras.ops.convert_to_numpy(frozen.bn.moving_mean)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(frozen(x, training=True)),
        keras.ops.convert_to_numpy(reference_block(x, training=False)),
        rtol=1e-5, atol=1e-5,
    )
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(frozen.bn.moving_mean), moving_mean)
