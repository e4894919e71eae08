"""What users rely on: identity at init, training, gradients, sizes, saving, dtypes."""

import keras
import numpy as np
import pytest

from keras_nonlocal.layers import (
    MODES,
    ConcatenationNonLocal,
    DotProductNonLocal,
    EmbeddedGaussianNonLocal,
    GaussianNonLocal,
    NonLocalBlock,
)
from tests.layers.backend_utils import gradients
from tests.layers.test_non_local_numerics import randomise
from tests.layers.test_non_local_numerics import twin_blocks


def video(shape=(2, 4, 6, 6, 8), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("norm", ["batch_norm", "affine", None])
@pytest.mark.parametrize("mode", MODES)
def test_new_block_is_exactly_the_identity(mode, norm):
    x = video()
    block = NonLocalBlock(mode=mode, norm=norm)
    for training in (False, True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(block(x, training=training)), x)


@pytest.mark.parametrize("mode", MODES)
def test_one_training_step_leaves_the_identity(mode):
    x = video()
    target = x + video(seed=1)
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, NonLocalBlock(mode=mode)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x)), x)
    model.fit(x, target, epochs=1, batch_size=2, verbose=0)
    assert not np.allclose(keras.ops.convert_to_numpy(model(x)), x)


def _loss(out):
    return keras.ops.sum(keras.ops.square(out) * keras.ops.arange(out.shape[-1], dtype=out.dtype))


@pytest.mark.parametrize("chunk_size", [None, 7])
@pytest.mark.parametrize("mode", MODES)
def test_gradients_reach_every_weight(mode, chunk_size):
    x = video()
    block = NonLocalBlock(mode=mode, chunk_size=chunk_size)
    block.build(x.shape)
    # Inference-mode BN: in training mode the batch mean cancels the g and
    # out biases exactly, so their gradients would be rounding noise.
    # At initialisation gamma = 0 blocks the path to the projections, as in
    # the paper; BN's gamma and beta still learn.
    fresh = dict(zip([w.path for w in block.trainable_weights], gradients(block, x, _loss, training=False)))
    assert np.abs(fresh[block.bn.gamma.path]).max() > 0
    randomise(block)
    for weight, grad in zip(block.trainable_weights, gradients(block, x, _loss, training=False)):
        assert np.all(np.isfinite(grad)), weight.path
        assert np.abs(grad).max() > 0, f"no gradient reaches {weight.path}"


@pytest.mark.parametrize("mode", MODES)
def test_chunked_gradients_equal_unchunked(mode):
    x = video()
    plain, chunked = twin_blocks(x.shape, {"chunk_size": 10}, mode=mode)
    for a, b in zip(gradients(plain, x, _loss, training=False), gradients(chunked, x, _loss, training=False)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("chunk_size", [None, 7])
@pytest.mark.parametrize("mode", MODES)
def test_reassociated_gradients_equal_in_order(monkeypatch, mode, chunk_size):
    x = video()
    reference, block = twin_blocks(x.shape, {"chunk_size": chunk_size}, mode=mode)
    monkeypatch.setattr(NonLocalBlock, "_reassociates", lambda self, n, m: False)
    want = gradients(reference, x, _loss, training=False)
    # float32 summation orders differ: compare at the gradients' scale.
    scale = max(np.abs(g).max() for g in want)
    for reassociate in (False, True):
        monkeypatch.setattr(NonLocalBlock, "_reassociates", lambda self, n, m: reassociate)
        got = gradients(block, x, _loss, training=False)
        for a, b in zip(want, got):
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6 * scale)


@pytest.mark.parametrize(
    "input_shape, sizes",
    [
        ((None, None, None, 8), [(1, 3, 8, 8), (2, 5, 6, 10)]),
        ((None, None, 8), [(2, 8, 8), (1, 12, 6)]),
        ((None, 8), [(3, 10), (1, 7)]),
    ],
)
@pytest.mark.parametrize("mode", MODES)
def test_one_model_with_none_dims_runs_on_two_sizes(mode, input_shape, sizes):
    inputs = keras.Input(input_shape)
    block = NonLocalBlock(mode=mode, chunk_size=16)
    model = keras.Model(inputs, block(inputs))
    randomise(block)
    for size in sizes:
        x = video(size + (8,))
        got = keras.ops.convert_to_numpy(model.predict(x, verbose=0))
        assert got.shape == x.shape
        assert not np.allclose(got, x)


@pytest.mark.parametrize(
    "make_block",
    [
        lambda: NonLocalBlock(mode="concatenation", attention_axes="space", chunk_size=9),
        lambda: GaussianNonLocal(),
        lambda: EmbeddedGaussianNonLocal(group_size=2, norm="affine"),
        lambda: DotProductNonLocal(data_format="channels_first", inner_channels=3),
        lambda: ConcatenationNonLocal(pool_size=(2, 2, 2), residual=False),
    ],
)
def test_keras_file_round_trip_gives_identical_outputs(tmp_path, make_block):
    x = video()
    block = make_block()
    if block.data_format == "channels_first":
        x = np.moveaxis(x, -1, 1)
        inputs = keras.Input((x.shape[1], None) + x.shape[3:])
    else:
        inputs = keras.Input((None,) + x.shape[2:])
    model = keras.Model(inputs, block(inputs))
    randomise(block)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.layers[-1]) is type(block)
    assert loaded.layers[-1].get_config() == block.get_config()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x))
    )


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("mode", MODES)
def test_mixed_precision_is_finite_and_close_to_float32(mode, policy):
    x = video((1, 2, 8, 8, 16))
    reference_block, block = twin_blocks(x.shape, {"dtype": policy}, mode=mode)
    got = block(x, training=False)
    assert keras.backend.standardize_dtype(got.dtype) == policy.split("_")[1]
    got = keras.ops.convert_to_numpy(keras.ops.cast(got, "float32"))
    want = keras.ops.convert_to_numpy(reference_block(x, training=False))
    assert np.all(np.isfinite(got))
    tolerance = 0.05 if policy == "mixed_bfloat16" else 0.01
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * np.abs(want).max())


def test_official_initialisation():
    block = NonLocalBlock()
    block.build((None, 4, 14, 14, 64))
    assert block.theta.kernel.shape == (64, 32)
    assert block.out.kernel.shape == (32, 64)
    for name in ("theta", "phi", "g", "out"):
        sub = getattr(block, name)
        kernel = keras.ops.convert_to_numpy(sub.kernel)
        assert abs(kernel.std() - 0.01) < 0.002
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(sub.bias), 0.0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(block.bn.gamma), 0.0)
    assert block.bn.momentum == 0.9 and block.bn.epsilon == 1e-5
    assert block._pool == (1, 2, 2)
    no_norm = NonLocalBlock(norm=None)
    no_norm.build((None, 4, 14, 14, 64))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(no_norm.out.kernel), 0.0)
