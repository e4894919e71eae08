"""Keras quantization of models with non-local blocks: int8, int4 and float8
give the float model's outputs up to the quantization error; the other modes
are refused."""

import warnings

import keras
import numpy as np
import pytest

from keras_nonlocal.layers import MODES, NonLocalBlock
from tests.layers.test_non_local_numerics import randomise

# Relative (Frobenius) error of the block's branch `z - x` against the float
# block, on random trained-like weights (every weight random, BN statistics
# included). Measured on the three backends, three seeds, every mode:
# int8 0.7-1.6%, float8 4.8-10%, int4 5.9-19% (4-bit kernels, per channel).
# Reading the quantized kernels as if they were float weights gives errors of
# order 1e4.
TOLERANCE = {"int8": 0.03, "float8": 0.15, "int4": 0.3}


def video(shape=(2, 2, 6, 6, 16), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def require_keras_mode(mode):
    """Skips where the installed Keras cannot quantize a plain `Dense` in `mode`
    (the minimum-versions job: Keras 3.10 has no int4 and no `config`)."""
    probe = keras.layers.Dense(2)
    probe.build((None, 4))
    try:
        probe.quantize(mode)
    except (ValueError, TypeError, NotImplementedError) as error:
        pytest.skip(f"Keras {keras.__version__} cannot quantize a Dense in {mode!r}: {error}")


def require_keras_config(name):
    if not hasattr(keras.quantizers, name):
        pytest.skip(f"Keras {keras.__version__} has no keras.quantizers.{name}")


def _quantize(model, mode, **kwargs):
    if mode is not None:
        require_keras_mode(mode)
    with warnings.catch_warnings():
        # Keras warns for every leaf layer it cannot quantize (BatchNorm,
        # the input layer).
        warnings.simplefilter("ignore", UserWarning)
        model.quantize(mode, **kwargs)


def _model(block, x):
    inputs = keras.Input(x.shape[1:])
    outputs = block(inputs)
    model = keras.Model(inputs, outputs)
    randomise(block)
    return model


def _branch_error(got, want, x):
    got_branch, want_branch = got - x, want - x
    return np.linalg.norm(got_branch - want_branch) / np.linalg.norm(want_branch)


@pytest.mark.parametrize("quantization", ["int8", "int4", "float8"])
@pytest.mark.parametrize("mode", MODES)
def test_quantized_block_is_close_to_the_float_block(mode, quantization):
    x = video()
    block = NonLocalBlock(mode=mode, name="nonlocal")
    model = _model(block, x)
    want = keras.ops.convert_to_numpy(model(x, training=False))
    assert np.abs(want - x).max() > 0.1  # not the identity
    _quantize(model, quantization)
    for layer in block._projections():
        assert layer.quantization_mode == quantization, layer.path
    got = keras.ops.convert_to_numpy(model(x, training=False))
    error = _branch_error(got, want, x)
    assert error < TOLERANCE[quantization], error
    # The quantized matrix products ran: the outputs are not the float ones.
    assert error > 1e-4


@pytest.mark.parametrize(
    "options",
    [
        {"chunk_size": 5},
        {"norm": "affine", "group_size": 2},
        {"norm": None, "attention_axes": "space"},
        {"data_format": "channels_first", "residual": False},
        {"mode": "concatenation", "inner_channels": 5},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
def test_quantized_block_with_options_is_close_to_the_float_block(options):
    x = video()
    if options.get("data_format") == "channels_first":
        x = np.moveaxis(x, -1, 1)
    block = NonLocalBlock(**options)
    model = _model(block, x)
    want = keras.ops.convert_to_numpy(model(x, training=False))
    _quantize(model, "int8")
    got = keras.ops.convert_to_numpy(model(x, training=False))
    residual = x if options.get("residual", True) else 0.0
    assert _branch_error(got, want, residual) < TOLERANCE["int8"]


@pytest.mark.parametrize("mode", ["embedded_gaussian", "concatenation"])
def test_quantized_attention_weights_are_close_to_the_float_ones(mode):
    x = video()
    block = NonLocalBlock(mode=mode, return_attention=True)
    model = _model(block, x)
    _, want = model(x, training=False)
    _quantize(model, "int8")
    _, got = model(x, training=False)
    want, got = keras.ops.convert_to_numpy(want), keras.ops.convert_to_numpy(got)
    assert np.linalg.norm(got - want) / np.linalg.norm(want) < TOLERANCE["int8"]


@pytest.mark.parametrize("quantization", ["int8", "int4", "float8"])
def test_quantized_model_saves_and_loads_quantized(tmp_path, quantization):
    import keras_nonlocal.layers  # noqa: F401  (registers the classes)

    x = video()
    block = NonLocalBlock(mode="embedded_gaussian", name="nonlocal")
    model = _model(block, x)
    _quantize(model, quantization)
    want = keras.ops.convert_to_numpy(model(x, training=False))
    loaded = model
    for round_trip in range(2):  # a loaded quantized model saves again
        path = str(tmp_path / f"quantized{round_trip}.keras")
        loaded.save(path)
        loaded = keras.saving.load_model(path)
        loaded_block = loaded.get_layer("nonlocal")
        for layer in loaded_block._projections():
            assert layer.quantization_mode == quantization, layer.path
        assert loaded_block.bn.quantization_mode is None
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(loaded(x, training=False)), want
        )


def test_a_float_block_keeps_a_plain_dtype_in_its_config():
    block = NonLocalBlock()
    block.build((None, 2, 6, 6, 16))
    assert block.get_config()["dtype"]["class_name"] == "DTypePolicy"


def test_a_block_quantizes_on_its_own():
    x = video()
    block = NonLocalBlock(mode="dot_product")
    block.build(x.shape)
    randomise(block)
    want = keras.ops.convert_to_numpy(block(x, training=False))
    block.quantize("int8")
    assert [layer.quantization_mode for layer in block._projections()] == ["int8"] * 4
    got = keras.ops.convert_to_numpy(block(x, training=False))
    assert _branch_error(got, want, x) < TOLERANCE["int8"]


def test_an_unbuilt_block_is_not_quantized():
    with pytest.raises(ValueError, match="Layer 'nonlocal_conv3_1' .* is not built"):
        NonLocalBlock(name="nonlocal_conv3_1").quantize("int8")


def test_a_block_refuses_calibrated_modes_on_its_own():
    block = NonLocalBlock(name="nonlocal_conv3_1")
    block.build((None, 2, 6, 6, 16))
    require_keras_config("GPTQConfig")
    config = keras.quantizers.GPTQConfig(
        dataset=["a clip"], tokenizer=lambda text: np.zeros((1, 4), "int32")
    )
    with pytest.raises(ValueError, match="NonLocalBlock 'nonlocal_conv3_1' supports"):
        block.quantize(config=config)


@pytest.mark.parametrize("config_class", ["GPTQConfig", "AWQConfig"])
def test_calibrated_quantization_modes_are_refused_naming_the_block(config_class):
    require_keras_config(config_class)
    x = video()
    block = NonLocalBlock(name="nonlocal_conv3_1")
    model = _model(block, x)
    config = getattr(keras.quantizers, config_class)(
        dataset=["a clip"], tokenizer=lambda text: np.zeros((1, 4), "int32")
    )
    mode = config_class[:-len("Config")].lower()
    with pytest.raises(
        ValueError,
        match=f"NonLocalBlock 'nonlocal_conv3_1' supports quantization modes 'int8', "
        f"'int4' and 'float8'; received mode='{mode}'",
    ):
        _quantize(model, None, config=config)
    assert all(layer.quantization_mode is None for layer in block._projections())
