"""attention_rows: the rows of chosen queries equal the block's full matrix."""

import itertools

import keras
import numpy as np
import pytest

from keras_nonlocal.layers import MODES
from keras_nonlocal.layers import NonLocalBlock
from keras_nonlocal.layers import attention_rows
from keras_nonlocal.layers import geometry


def _randomised_block(shape, seed=0, **kwargs):
    block = NonLocalBlock(return_attention=True, **kwargs)
    block.build(shape)
    rng = np.random.default_rng(seed)
    for variable in block.trainable_weights:
        variable.assign(rng.normal(0, 0.4, variable.shape).astype("float32"))
    return block


def _fold_positions(block, grid_shape):
    """Where each position of a grid lands after the block's grouping and fold:
    an array `(batch', N)` of flat grid indices."""
    index = np.arange(int(np.prod(grid_shape)), dtype="float32").reshape((1,) + grid_shape + (1,))
    index = keras.ops.convert_to_tensor(index)
    if block.group_size is not None:
        index = keras.ops.reshape(index, (-1, block.group_size) + grid_shape[1:] + (1,))
    folded, _ = geometry.fold(index, block._axes)
    return keras.ops.convert_to_numpy(folded)[..., 0].astype(int)


CASES = [
    dict(shape=(1, 4, 6, 6, 8), kwargs={}),
    dict(shape=(1, 4, 6, 6, 8), kwargs={"attention_axes": "space"}),
    dict(shape=(1, 4, 6, 6, 8), kwargs={"attention_axes": "time"}),
    dict(shape=(1, 4, 6, 6, 8), kwargs={"group_size": 2}),
    dict(shape=(1, 4, 6, 6, 8), kwargs={"pool_size": (2, 2, 2)}),
    dict(shape=(1, 4, 5, 7, 8), kwargs={"chunk_size": 3}),
    dict(shape=(1, 4, 6, 6, 8), kwargs={"sub_sample": False}),
    dict(shape=(1, 7, 6, 6), kwargs={}),
    dict(shape=(1, 9, 6), kwargs={}),
    dict(shape=(1, 4, 1, 3, 8), kwargs={}),  # axes shorter than their pool keep one key
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{len(c['shape']) - 2}d-{c['kwargs']}")
def test_rows_equal_the_full_matrix(mode, case):
    shape = case["shape"]
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    block = _randomised_block(shape, mode=mode, **case["kwargs"])
    _, full = block(x, training=False)
    full = keras.ops.convert_to_numpy(full)
    grid = shape[1:-1]
    queries = [tuple(int(v) for v in q) for q in itertools.islice(np.ndindex(grid), 0, None, 5)]
    rows = attention_rows(block, x, queries)
    folded = _fold_positions(block, grid)
    for query, row in zip(queries, rows):
        flat = np.ravel_multi_index(query, grid)
        b, n = np.argwhere(folded == flat)[0]
        np.testing.assert_allclose(row.weights, full[b, n], rtol=2e-5, atol=2e-6)
        assert row.query == query
        assert row.is_distribution == (mode in ("gaussian", "embedded_gaussian"))


@pytest.mark.parametrize("kwargs", [c["kwargs"] for c in CASES[:5]], ids=str)
def test_key_positions_follow_the_fold_of_the_pooled_grid(kwargs):
    shape = (1, 4, 6, 6, 8)
    block = _randomised_block(shape, **kwargs)
    x = np.random.default_rng(2).normal(size=shape).astype("float32")
    rows = attention_rows(block, x, [(3, 5, 0), (1, 2, 3)])
    for row in rows:
        pooled_grid = tuple(n // p for n, p in zip(shape[1:-1], row.key_size))
        folded = _fold_positions(block, pooled_grid)
        # The batch' row of the keys: the one that holds the pooled cell of the query.
        cell = tuple(q // p for q, p in zip(row.query, row.key_size))
        b = np.argwhere(folded == np.ravel_multi_index(cell, pooled_grid))[0][0]
        expected = np.stack(np.unravel_index(folded[b], pooled_grid), -1) * np.asarray(row.key_size)
        np.testing.assert_array_equal(row.key_positions, expected)


def test_softmax_rows_are_distributions_and_top_keys_are_sorted():
    shape = (2, 4, 8, 8, 16)
    block = _randomised_block(shape, mode="embedded_gaussian")
    x = np.random.default_rng(3).normal(size=shape).astype("float32")
    (row,) = attention_rows(block, x, [(2, 4, 4)], batch_index=1)
    assert row.batch_index == 1
    np.testing.assert_allclose(row.weights.sum(), 1.0, rtol=1e-5)
    top = row.top_keys(5)
    assert [w for _, w in top] == sorted((w for _, w in top), reverse=True)
    assert top[0][1] == pytest.approx(row.weights.max())


def test_gaussian_finds_the_positions_that_share_the_query_feature():
    # Features of equal norm; only two 2x2 windows (one per frame) carry the
    # query's vector, so the sub-sampled keys keep them and the Gaussian's
    # largest weights fall there.
    rng = np.random.default_rng(4)
    shape = (1, 2, 8, 8, 16)
    x = rng.normal(size=shape)
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    target = np.zeros(16)
    target[0] = 1.0
    x[0, 0, 2:4, 4:6] = target
    x[0, 1, 6:8, 0:2] = target
    x = (8.0 * x).astype("float32")
    block = NonLocalBlock(mode="gaussian")
    (row,) = attention_rows(block, x, [(0, 2, 4)])
    keys = {position for position, _ in row.top_keys(2)}
    assert keys == {(0, 2, 4), (1, 6, 0)}


@pytest.mark.parametrize(
    "queries, batch_index, match",
    [
        ([(4, 0, 0)], 0, "query=\\(4, 0, 0\\)"),
        ([(0, 0)], 0, "one index per axis"),
        ([], 0, "queries is empty"),
        ([(0, 0, 0)], 3, "batch_index=3"),
    ],
)
def test_bad_queries_are_refused_by_name(queries, batch_index, match):
    block = NonLocalBlock()
    x = np.zeros((1, 4, 4, 4, 8), "float32")
    with pytest.raises(ValueError, match=match):
        attention_rows(block, x, queries, batch_index=batch_index)
