"""`NonLocalBlock(window_size=..., window_shift=...)` against the NumPy reference
run on windows cut in NumPy: roll, mirror padding, balanced windows."""

import itertools
import warnings

import keras
import numpy as np
import pytest

from keras_nonlocal.layers import MODES, NonLocalBlock
from keras_nonlocal.layers import attention_rows
from keras_nonlocal.layers import geometry
from keras_nonlocal.layers import windows as window_geometry
from tests.layers import reference
from tests.layers.test_non_local_numerics import randomise
from tests.layers.test_non_local_sizes import _runner


def _ceil_div(a, b):
    return -(-a // b)


def windowed_reference(x, params, mode, pool, attended, windows, shifts, group_size=None, **kwargs):
    """The reference block run on each window of `x` alone (channels last, float64).

    `windows`/`shifts`: per spatio-temporal axis (`None`/0: the whole axis).
    """
    if group_size is not None:
        b, t = x.shape[:2]
        grouped = x.reshape((b * t // group_size, group_size) + x.shape[2:])
        z = windowed_reference(grouped, params, mode, pool, attended, windows, shifts, **kwargs)
        return z.reshape(x.shape)
    sizes = x.shape[1:-1]
    axes = [i + 1 for i in range(len(sizes))]
    rolled = np.roll(x, [-s for s in shifts], axis=axes)
    lengths, counts = [], []
    for n, w in zip(sizes, windows):
        count = 1 if w is None else _ceil_div(n, w)
        counts.append(count)
        lengths.append(_ceil_div(n, count))
    padding = [(0, 0)] + [(0, c * n - s) for c, n, s in zip(counts, lengths, sizes)] + [(0, 0)]
    padded = np.pad(rolled, padding, mode="symmetric")
    out = np.zeros_like(padded)
    for index in itertools.product(*[range(c) for c in counts]):
        cut = (slice(None),) + tuple(
            slice(i * n, (i + 1) * n) for i, n in zip(index, lengths)
        ) + (slice(None),)
        out[cut] = reference.non_local(padded[cut], params, mode, pool, attended, **kwargs)
    crop = (slice(None),) + tuple(slice(0, s) for s in sizes) + (slice(None),)
    return np.roll(out[crop], list(shifts), axis=axes)


# (shape, block kwargs, per-axis windows, per-axis shifts, pool, attended axes)
CASES = {
    "1d": ((2, 11, 6), {"window_size": 4}, (4,), (0,), (2,), (0,)),
    "1d-shift": ((2, 11, 6), {"window_size": 4, "window_shift": 3}, (4,), (3,), (2,), (0,)),
    "2d-odd-shift": ((2, 7, 9, 6), {"window_size": 3, "window_shift": 1}, (3, 3), (1, 1), (2, 2), (0, 1)),
    "2d-tuple": ((1, 10, 5, 6), {"window_size": (4, None), "window_shift": (2, 0)}, (4, None), (2, 0), (2, 2), (0, 1)),
    "2d-no-pool": ((1, 7, 6, 6), {"window_size": (3, 4), "window_shift": (2, 1), "sub_sample": False},
                   (3, 4), (2, 1), (1, 1), (0, 1)),
    # Windows of 1 and 2 positions, shorter than or as long as the pool of 3.
    "2d-window-below-pool": ((1, 5, 4, 6), {"window_size": (1, 2), "pool_size": (3, 3)},
                             (1, 2), (0, 0), (3, 3), (0, 1)),
    "3d": ((1, 5, 5, 6, 6), {"window_size": (2, 3, None), "window_shift": (1, 2, 0)},
           (2, 3, None), (1, 2, 0), (1, 2, 2), (0, 1, 2)),
    "3d-space": ((1, 3, 7, 6, 6), {"window_size": 4, "window_shift": 2, "attention_axes": "space"},
                 (None, 4, 4), (0, 2, 2), (1, 2, 2), (1, 2)),
    "3d-groups": ((1, 4, 5, 5, 6), {"window_size": (None, 3, 3), "window_shift": (0, 1, 2), "group_size": 2},
                  (None, 3, 3), (0, 1, 2), (1, 2, 2), (0, 1, 2)),
}


def run_case(mode, case, channels_first=False, seed=0, **extra):
    shape, kwargs, wins, shifts, pool, attended = CASES[case]
    kwargs = {**kwargs, **extra}
    x = np.random.default_rng(seed + 1).normal(0, 1, shape).astype("float32")
    layer_x = np.moveaxis(x, -1, 1) if channels_first else x
    block = NonLocalBlock(
        mode=mode, data_format="channels_first" if channels_first else "channels_last", **kwargs
    )
    block.build(layer_x.shape)
    params = randomise(block, seed)
    got = keras.ops.convert_to_numpy(block(layer_x, training=False))
    if channels_first:
        got = np.moveaxis(got, 1, -1)
    # The embedded Gaussian scales its logits by 1/sqrt(d), d = C / 2.
    scale = (x.shape[-1] // 2) ** -0.5 if mode == "embedded_gaussian" else 1.0
    want = windowed_reference(
        x.astype("float64"), params, mode, pool, attended, wins, shifts,
        group_size=kwargs.get("group_size"), scale=scale,
    )
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    return block, x, got


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("mode", MODES)
def test_windows_match_the_reference_on_each_window(mode, case):
    run_case(mode, case)


@pytest.mark.parametrize("case", ["2d-odd-shift", "3d"])
@pytest.mark.parametrize("mode", ["embedded_gaussian", "concatenation"])
def test_windows_match_the_reference_channels_first(mode, case):
    run_case(mode, case, channels_first=True)


@pytest.mark.parametrize("mode", ["embedded_gaussian", "dot_product"])
def test_windows_change_the_result_and_the_shift_matters(mode):
    # The cases above would pass for a global block only if windows did nothing.
    x = np.random.default_rng(0).normal(size=(1, 9, 8, 6)).astype("float32")
    outputs = []
    for kwargs in ({}, {"window_size": 4}, {"window_size": 4, "window_shift": 2}):
        block = NonLocalBlock(mode=mode, **kwargs)
        block.build(x.shape)
        randomise(block)
        outputs.append(keras.ops.convert_to_numpy(block(x, training=False)))
    assert np.abs(outputs[0] - outputs[1]).max() > 1e-2
    assert np.abs(outputs[1] - outputs[2]).max() > 1e-2


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape, window", [((2, 7, 9, 6), 9), ((2, 7, 9, 6), (7, 20)), ((1, 3, 4, 4, 6), 5)])
def test_a_window_as_large_as_the_map_is_the_plain_block(mode, shape, window):
    x = np.random.default_rng(2).normal(size=shape).astype("float32")
    plain = NonLocalBlock(mode=mode)
    plain.build(shape)
    randomise(plain)
    windowed = NonLocalBlock(mode=mode, window_size=window)
    windowed.build(shape)
    windowed.set_weights(plain.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(windowed(x, training=False)),
        keras.ops.convert_to_numpy(plain(x, training=False)),
        rtol=1e-6, atol=1e-6,
    )


@pytest.mark.parametrize("mode", ["embedded_gaussian", "dot_product"])
def test_chunked_windows_equal_unchunked(mode):
    x = np.random.default_rng(4).normal(size=(2, 9, 10, 8)).astype("float32")
    plain = NonLocalBlock(mode=mode, window_size=5, window_shift=2)
    plain.build(x.shape)
    randomise(plain)
    chunked = NonLocalBlock(mode=mode, window_size=5, window_shift=2, chunk_size=4)
    chunked.build(x.shape)
    chunked.set_weights(plain.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(chunked(x, training=False)),
        keras.ops.convert_to_numpy(plain(x, training=False)),
        rtol=1e-5, atol=1e-5,
    )


def test_sizes_known_only_at_run_time_match_the_reference():
    # A TensorFlow graph with every size unknown (elsewhere `predict`): the
    # window counts, lengths and padding are computed when it runs.
    inputs = keras.Input((None, None, 6))
    block = NonLocalBlock(window_size=4, window_shift=1)
    model = keras.Model(inputs, block(inputs))
    params = randomise(block)
    run = _runner(model, 4)
    for shape in [(2, 9, 6, 6), (1, 3, 11, 6), (1, 1, 1, 6)]:
        x = np.random.default_rng(1).normal(size=shape).astype("float32")
        want = windowed_reference(
            x.astype("float64"), params, "embedded_gaussian", (2, 2), (0, 1), (4, 4), (1, 1),
            scale=3**-0.5,
        )
        np.testing.assert_allclose(run(x), want, rtol=1e-4, atol=1e-4)


def test_returned_attention_is_per_window_and_matches_the_reference():
    shape = (2, 7, 5, 6)
    x = np.random.default_rng(3).normal(size=shape).astype("float32")
    block = NonLocalBlock(mode="gaussian", window_size=(4, 3), window_shift=(1, 2), return_attention=True)
    block.build(shape)
    params = randomise(block)
    _, attention = block(x, training=False)
    attention = keras.ops.convert_to_numpy(attention)
    rows, cols = window_geometry.window_axes(shape[1:3], (4, 3), (1, 2))
    assert (rows.length, cols.length) == (4, 3)
    count_r, count_c = len(rows.sources) // 4, len(cols.sources) // 3
    # One (4 * 3, 2 * 1) matrix per window: example-major, then windows row-major.
    assert attention.shape == (2 * count_r * count_c, 12, 2)
    for b, wr, wc in itertools.product(range(2), range(count_r), range(count_c)):
        span_r = rows.sources[wr * 4 : (wr + 1) * 4]
        span_c = cols.sources[wc * 3 : (wc + 1) * 3]
        window = x[b][np.ix_(span_r, span_c)][None].astype("float64")
        _, weights = reference.non_local(window, params, "gaussian", (2, 2), (0, 1), return_weights=True)
        matrix = attention[(b * count_r + wr) * count_c + wc]
        for n, q in enumerate(np.ndindex(4, 3)):
            np.testing.assert_allclose(matrix[n], weights[(0,) + q], rtol=1e-4, atol=1e-5)


def test_window_axes_trace_window_positions_back_to_the_input():
    # The layer cuts a map of position indices exactly as window_axes says.
    shape = (1, 7, 10, 1)
    grid = np.arange(70, dtype="float32").reshape(shape)
    cut, _ = window_geometry.partition(keras.ops.convert_to_tensor(grid), (3, 4), (2, 3))
    cut = keras.ops.convert_to_numpy(cut)[..., 0]
    rows, cols = window_geometry.window_axes((7, 10), (3, 4), (2, 3))
    assert cut.shape == (3 * 3, rows.length, cols.length)
    for wr, wc in itertools.product(range(3), range(3)):
        span_r = rows.sources[wr * rows.length : (wr + 1) * rows.length]
        span_c = cols.sources[wc * cols.length : (wc + 1) * cols.length]
        np.testing.assert_array_equal(cut[wr * 3 + wc], grid[0, ..., 0][np.ix_(span_r, span_c)])
    # Every input position's home holds it.
    for axis, n in zip((rows, cols), (7, 10)):
        np.testing.assert_array_equal(axis.sources[axis.home], np.arange(n))


def test_keras_file_round_trip_keeps_the_windows(tmp_path):
    x = np.random.default_rng(5).normal(size=(1, 3, 7, 9, 6)).astype("float32")
    x = np.moveaxis(x, -1, 1)
    block = NonLocalBlock(
        window_size=(None, 4, 5), window_shift=(0, 2, 1), data_format="channels_first", chunk_size=7
    )
    inputs = keras.Input((6, None, None, None))
    model = keras.Model(inputs, block(inputs))
    randomise(block)
    path = str(tmp_path / "windowed.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.layers[-1].get_config() == block.get_config()
    assert loaded.layers[-1].window_size == (None, 4, 5)
    assert loaded.layers[-1].window_shift == (0, 2, 1)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x))
    )
    clone = NonLocalBlock.from_config(block.get_config())
    assert (clone.window_size, clone.window_shift) == ((None, 4, 5), (0, 2, 1))


def test_mixed_float16_is_close_to_float32():
    x = np.random.default_rng(6).normal(size=(1, 9, 11, 16)).astype("float32")
    reference_block = NonLocalBlock(window_size=4, window_shift=2)
    reference_block.build(x.shape)
    randomise(reference_block)
    block = NonLocalBlock(window_size=4, window_shift=2, dtype="mixed_float16")
    block.build(x.shape)
    block.set_weights(reference_block.get_weights())
    got = block(x, training=False)
    assert keras.backend.standardize_dtype(got.dtype) == "float16"
    want = keras.ops.convert_to_numpy(reference_block(x, training=False))
    got = keras.ops.convert_to_numpy(keras.ops.cast(got, "float32"))
    np.testing.assert_allclose(got, want, rtol=0.01, atol=0.01 * np.abs(want).max())


def test_int8_quantized_windows_are_close_to_the_float_block():
    x = np.random.default_rng(7).normal(size=(2, 9, 7, 16)).astype("float32")
    block = NonLocalBlock(window_size=4, window_shift=1, name="nonlocal")
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, block(inputs))
    randomise(block)
    want = keras.ops.convert_to_numpy(model(x, training=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.quantize("int8")
    assert block.theta.quantization_mode == "int8"
    got = keras.ops.convert_to_numpy(model(x, training=False))
    error = np.linalg.norm((got - x) - (want - x)) / np.linalg.norm(want - x)
    assert 1e-4 < error < 0.03


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"window_size": 0}, "window_size must be None, an integer >= 1.*window_size=0"),
        ({"window_size": 2.5}, "window_size must be None"),
        ({"window_size": (4, "a")}, "window_size must be None"),
        ({"window_size": True}, "window_size must be None"),
        ({"window_size": 4, "window_shift": -1}, "window_shift must be an integer >= 0"),
        ({"window_size": 4, "window_shift": 4}, "window_shift=4 must be smaller than the window"),
        ({"window_size": (4, None), "window_shift": (1, 1)}, "0 where the window is None"),
        ({"window_size": (4, 4), "window_shift": (1, 1, 1)}, "window_shift=\\(1, 1, 1\\) has 3 entries"),
        ({"window_shift": 2}, "window_shift=2 rolls the windows, but window_size=None"),
    ],
)
def test_bad_window_arguments_raise_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NonLocalBlock(**kwargs)


@pytest.mark.parametrize(
    "kwargs, shape, message",
    [
        ({"window_size": (4, 4)}, (1, 4, 8, 8, 6), "window_size=\\(4, 4\\) has 2 entries.*3 axis"),
        ({"window_size": (4, 4), "attention_axes": "time"}, (1, 4, 8, 8, 6), "attention_axes='time'"),
        ({"window_size": 4, "window_shift": (1, 1)}, (1, 8, 6), "window_shift=\\(1, 1\\) has 2 entries"),
    ],
)
def test_window_tuples_that_do_not_fit_the_input_raise_at_build(kwargs, shape, message):
    block = NonLocalBlock(**kwargs)
    with pytest.raises(ValueError, match=message):
        block.build(shape)


def _windowed_fold_positions(block, grid_shape):
    """Where each input position lands in a windowed block's `(batch', N)` matrix
    rows: the block's grouping, window cut and fold applied to an index grid."""
    index = np.arange(int(np.prod(grid_shape)), dtype="float32").reshape((1,) + grid_shape + (1,))
    index = keras.ops.convert_to_tensor(index)
    if block.group_size is not None:
        index = keras.ops.reshape(index, (-1, block.group_size) + grid_shape[1:] + (1,))
    index, _ = window_geometry.partition(index, block._windows, block._shifts)
    folded, _ = geometry.fold(index, block._axes)
    return keras.ops.convert_to_numpy(folded)[..., 0].astype(int)


ROW_CASES = [
    ((1, 7, 9, 6), {"window_size": 4, "window_shift": 1}),
    ((1, 5, 6, 6), {"window_size": (2, None), "window_shift": (1, 0), "pool_size": (3, 2)}),
    ((1, 4, 5, 7, 6), {"window_size": 3, "window_shift": 2, "attention_axes": "space"}),
    ((1, 4, 5, 5, 6), {"window_size": (None, 3, 3), "window_shift": (0, 0, 2), "group_size": 2}),
    ((1, 11, 6), {"window_size": 4, "window_shift": 3}),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape, kwargs", ROW_CASES, ids=lambda c: str(c))
def test_attention_rows_of_a_windowed_block_equal_its_per_window_matrices(mode, shape, kwargs):
    x = np.random.default_rng(8).normal(size=shape).astype("float32")
    block = NonLocalBlock(mode=mode, return_attention=True, **kwargs)
    block.build(shape)
    randomise(block)
    _, full = block(x, training=False)
    full = keras.ops.convert_to_numpy(full)
    grid = shape[1:-1]
    folded = _windowed_fold_positions(block, grid)
    queries = [tuple(int(v) for v in q) for q in itertools.islice(np.ndindex(grid), 0, None, 3)]
    for query, row in zip(queries, attention_rows(block, x, queries)):
        flat = np.ravel_multi_index(query, grid)
        # The query's own window position: its first occurrence (mirror copies come later).
        b, n = np.argwhere(folded == flat)[0]
        np.testing.assert_allclose(row.weights, full[b, n], rtol=2e-5, atol=2e-6)
        assert row.query == query
        # The keys pool exactly the positions of the query's window (copies included).
        window = {np.unravel_index(i, grid) for i in folded[b]}
        pooled = {tuple(int(v) for v in p) for cells in row.key_sources for p in cells}
        assert pooled <= window
        for first, cells in zip(row.key_positions, row.key_sources):
            assert tuple(first) in {tuple(c) for c in cells}
