"""Every size the block claims: axes shorter than their pool, groups that do
not divide the clip, sizes known only at run time."""

import keras
import numpy as np
import pytest

from keras_nonlocal.layers import MODES, NonLocalBlock
from tests.layers import reference
from tests.layers.test_non_local_numerics import randomise

# (input shape, pool size, attended axes): axes of size 1, or shorter than
# their pool, next to axes that pool normally.
SHORT_AXES = [
    ((1, 4, 1, 8, 6), (1, 2, 2), (0, 1, 2)),  # the issue's (1, 4, 1, 8, C)
    ((2, 1, 1, 3, 6), (2, 2, 2), (0, 1, 2)),  # every pooled axis short
    ((1, 3, 5, 1, 6), (2, 2, 2), (0, 1, 2)),
    ((2, 1, 5, 6), (2, 2), (0, 1)),  # image, one row
    ((2, 1, 6), (2,), (0,)),  # sequence of one: one query, one key
    ((1, 2, 2, 7, 6), (1, 3, 3), (0, 1, 2)),  # 2 < 3 pooled, 7 // 3 = 2
]


def _want(x, params, mode, pool, attended):
    depth = x.shape[-1] if mode == "gaussian" else x.shape[-1] // 2
    return reference.non_local(
        x.astype("float64"), params, mode, pool, attended,
        scale=depth**-0.5 if mode == "embedded_gaussian" else 1.0,
    )


@pytest.mark.parametrize("shape, pool, attended", SHORT_AXES, ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_axes_shorter_than_their_pool_match_the_reference(mode, shape, pool, attended):
    # An axis shorter than its pool keeps one key position, its maximum.
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    block = NonLocalBlock(mode=mode, pool_size=pool)
    block.build(x.shape)
    params = randomise(block)
    got = keras.ops.convert_to_numpy(block(x, training=False))
    np.testing.assert_allclose(got, _want(x, params, mode, pool, attended), rtol=1e-4, atol=1e-4)


def test_issue_example_runs_with_the_default_pool():
    x = np.random.rand(1, 4, 1, 8, 16).astype("float32")
    assert tuple(NonLocalBlock()(x).shape) == x.shape


def _runner(model, rank):
    """Runs `model` with every size unknown until the call, where the backend
    has such a thing (a TensorFlow graph); elsewhere runs it as `predict`."""
    if keras.backend.backend() != "tensorflow":
        return lambda x: keras.ops.convert_to_numpy(model.predict(x, verbose=0))
    import tensorflow as tf

    spec = tf.TensorSpec((None,) * (rank - 1) + (model.input.shape[-1],), "float32")
    function = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    return lambda x: function(x).numpy()


@pytest.mark.parametrize("mode", MODES)
def test_sizes_known_only_at_run_time_pool_short_axes_like_static_ones(mode):
    inputs = keras.Input((None, None, None, 6))
    block = NonLocalBlock(mode=mode, pool_size=(2, 2, 2))
    model = keras.Model(inputs, block(inputs))
    params = randomise(block)
    run = _runner(model, 5)
    for shape in [(2, 1, 1, 3, 6), (1, 3, 5, 1, 6), (1, 4, 4, 4, 6)]:
        x = np.random.default_rng(1).normal(size=shape).astype("float32")
        np.testing.assert_allclose(
            run(x), _want(x, params, mode, (2, 2, 2), (0, 1, 2)), rtol=1e-4, atol=1e-4
        )


def test_run_time_sizes_give_the_static_sizes_result_exactly():
    # Where the sizes are known the pool is shortened; where they are not
    # the axis is padded with -inf: the same maximum.
    inputs = keras.Input((None, None, None, 6))
    block = NonLocalBlock(pool_size=(2, 2, 2))
    model = keras.Model(inputs, block(inputs))
    randomise(block)
    x = np.random.default_rng(2).normal(size=(2, 1, 3, 1, 6)).astype("float32")
    np.testing.assert_allclose(
        _runner(model, 5)(x), keras.ops.convert_to_numpy(block(x, training=False)),
        rtol=1e-6, atol=1e-6,
    )


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_group_size_that_does_not_divide_the_frames_fails_at_build(data_format):
    shape = (1, 4, 4, 4, 8) if data_format == "channels_last" else (1, 8, 4, 4, 4)
    block = NonLocalBlock(group_size=3, data_format=data_format)
    with pytest.raises(ValueError, match="group_size=3 must divide the number of frames, but the input has 4 frames"):
        block.build(shape)


def test_group_size_that_does_not_divide_the_frames_fails_at_call():
    # Built for any number of frames: the call sees 4.
    block = NonLocalBlock(group_size=3)
    block.build((None, None, 4, 4, 8))
    assert tuple(block(np.zeros((1, 6, 4, 4, 8), "float32")).shape) == (1, 6, 4, 4, 8)
    with pytest.raises(ValueError, match="group_size=3 must divide the number of frames, but the input has 4 frames"):
        block(np.zeros((1, 4, 4, 4, 8), "float32"))


def test_group_size_check_in_a_graph_with_unknown_frames_names_the_numbers():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("only a TensorFlow graph traces with the frame count unknown")
    import tensorflow as tf

    inputs = keras.Input((None, 4, 4, 8))
    model = keras.Model(inputs, NonLocalBlock(group_size=3, name="grouped")(inputs))
    function = tf.function(
        lambda x: model(x), input_signature=[tf.TensorSpec((None, None, 4, 4, 8), "float32")]
    )
    assert tuple(function(np.zeros((1, 6, 4, 4, 8), "float32")).shape) == (1, 6, 4, 4, 8)
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"NonLocalBlock grouped: group_size=3 must divide the number of frames; "
        r"frames received:\] \[4\]",
    ):
        function(np.zeros((1, 4, 4, 4, 8), "float32"))
