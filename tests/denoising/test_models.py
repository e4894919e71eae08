"""The denoiser family: shapes on any size, the memory paths, configs, presets."""

import os

import keras
import numpy as np
import pytest

from keras_nonlocal.denoising import DENOISER_CONFIGS
from keras_nonlocal.denoising import DENOISER_PRESETS
from keras_nonlocal.denoising import DenoiserConfig
from keras_nonlocal.denoising import NLDenoiser
from keras_nonlocal.denoising import PixelShuffle
from keras_nonlocal.denoising import PixelUnshuffle
from keras_nonlocal.denoising import build_denoiser
from keras_nonlocal.denoising import load_denoiser
from keras_nonlocal.denoising import preset_for_sigma
from keras_nonlocal.layers import NonLocalBlock

# Half resolution and BatchNorm in the blocks: the layout of the fixture recorded by the former
# WindowedNonLocal code (the named configs are full resolution, without BatchNorm).
SMALL = {"base": "nl_dncnn", "depth": 5, "features": 8, "nonlocal_placement": (1, 2),
         "nonlocal_window": 8, "chunk_size": 16, "downscale": 2, "nonlocal_norm": "batch_norm"}


def _noisy(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0, 255, shape) + rng.normal(0, 25, shape)).astype("float32")


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _perturb_batch_norms(model, seed=0):
    """Non-zero BatchNorm scales, so that the non-local blocks are not the identity."""
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.gamma.assign(rng.uniform(0.5, 1.5, layer.gamma.shape).astype("float32"))
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.gamma.shape).astype("float32"))


def _blocks(model):
    return [layer for layer in model._flatten_layers() if isinstance(layer, NonLocalBlock)]


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("placement", [(1, 2), ()])
@pytest.mark.parametrize("size", [(37, 53), (1, 2), (16, 16)])
def test_any_size_and_both_channel_counts_keep_the_shape(channels, placement, size):
    model = build_denoiser({**SMALL, "channels": channels, "nonlocal_placement": placement})
    x = _noisy((2,) + size + (channels,))
    y = _np(model(x))
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.all(np.isfinite(y))


def test_a_new_model_starts_near_the_identity_on_the_255_scale():
    # Random initialisations move a new model's output by 0.2-3 on average (12 seeds measured);
    # the noise is 20.
    for seed in range(3):
        keras.utils.set_random_seed(seed)
        model = build_denoiser("nl_dncnn")
        x = _noisy((1, 37, 53, 1))
        assert np.abs(_np(model(x)) - x).mean() < 5.0


def test_the_named_configs_are_small_enough_for_a_cpu():
    params = build_denoiser("nl_dncnn").count_params()
    ablation = build_denoiser("dncnn").count_params()
    # 10 convolutions of 48 channels, 3x3 (167,185), and one block with 24 inner channels.
    assert (params, ablation) == (171_913, 167_185)
    assert len(_blocks(build_denoiser("nl_dncnn"))) == 1
    assert len(_blocks(build_denoiser("nl_dncnn_2blocks"))) == 2
    assert _blocks(build_denoiser("dncnn")) == []


def test_blocks_without_batch_norm_start_as_the_identity_and_then_matter():
    config = {"base": "nl_dncnn", "depth": 4, "features": 8, "nonlocal_placement": (1,),
              "nonlocal_window": 8, "chunk_size": 16}
    keras.utils.set_random_seed(0)
    model = build_denoiser(config)
    ablation = build_denoiser({**config, "nonlocal_placement": ()})
    block = _blocks(model)[0]
    assert block.norm is None and not hasattr(block, "bn")
    ablation.set_weights([keras.ops.convert_to_numpy(v) for v in model.weights
                          if not v.path.startswith("nonlocal")])
    x = _noisy((1, 21, 18, 1))
    np.testing.assert_allclose(_np(model(x)), _np(ablation(x)), rtol=1e-5, atol=1e-3)
    block.out.kernel.assign(np.random.default_rng(0).normal(0, 5.0, block.out.kernel.shape))
    assert np.abs(_np(model(x)) - _np(ablation(x))).max() > 0.1
    # The same block in chunks of 5 queries equals the whole matrix.
    chunked = build_denoiser({**config, "chunk_size": 5})
    chunked.set_weights(model.get_weights())
    np.testing.assert_allclose(_np(chunked(x)), _np(model(x)), rtol=1e-4, atol=2e-3)


def test_placement_mode_and_count_are_data():
    model = build_denoiser({**SMALL, "nonlocal_placement": (0, 3), "nonlocal_mode": "dot_product"})
    blocks = _blocks(model)
    assert [b.mode for b in blocks] == ["dot_product", "dot_product"]
    assert [layer.name for layer in model.layers if layer.name.startswith("nonlocal")] == [
        "nonlocal0", "nonlocal3"]
    # Consecutive windowed blocks are shifted by half a window.
    assert [(b.window_size, b.window_shift) for b in blocks] == [(8, 0), (8, 4)]


def test_pixel_unshuffle_matches_a_numpy_rearrangement_and_pads_by_mirroring():
    x = np.arange(1 * 5 * 7 * 2, dtype="float32").reshape(1, 5, 7, 2)
    y = _np(PixelUnshuffle(2)(x))
    padded = np.pad(x, [(0, 0), (0, 1), (0, 1), (0, 0)], mode="symmetric")
    for i in range(2):
        for j in range(2):
            k = (i * 2 + j) * 2
            np.testing.assert_array_equal(y[..., k: k + 2], padded[:, i::2, j::2, :])
    np.testing.assert_array_equal(_np(PixelShuffle(2)(y)), padded)


def test_chunked_attention_equals_the_whole_matrix():
    x = _noisy((2, 30, 26, 1))
    whole = build_denoiser({**SMALL, "chunk_size": None, "nonlocal_window": None})
    chunked = build_denoiser({**SMALL, "chunk_size": 7, "nonlocal_window": None})
    _perturb_batch_norms(whole)
    chunked.set_weights(whole.get_weights())
    reference = _np(whole(x))
    identity_blocks = build_denoiser({**SMALL, "chunk_size": None, "nonlocal_window": None})
    identity_blocks.set_weights(whole.get_weights())
    for layer in identity_blocks._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.gamma.assign(np.zeros(layer.gamma.shape, "float32"))
    assert np.abs(reference - _np(identity_blocks(x))).max() > 0.1  # the blocks matter
    np.testing.assert_allclose(_np(chunked(x)), reference, rtol=1e-4, atol=2e-3)


def test_one_window_as_large_as_the_image_equals_global_attention():
    x = _noisy((1, 21, 30, 1))  # 11 x 15 at half resolution
    windowed = build_denoiser({**SMALL, "nonlocal_placement": (1,), "nonlocal_window": 16})
    plain = build_denoiser({**SMALL, "nonlocal_placement": (1,), "nonlocal_window": None})
    _perturb_batch_norms(windowed)
    plain.set_weights(windowed.get_weights())
    np.testing.assert_allclose(_np(windowed(x)), _np(plain(x)), rtol=1e-4, atol=2e-3)


@pytest.mark.parametrize("shape,window,shift", [((2, 10, 12, 6), 5, 0), ((1, 11, 7, 6), 4, 2),
                                                ((1, 3, 2, 6), 8, 3)])
def test_windowed_attention_equals_the_block_on_each_window(shape, window, shift):
    # What the denoiser's blocks compute (and the former WindowedNonLocal
    # wrapper computed): a plain block run on each window alone.
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape).astype("float32")
    layer = NonLocalBlock(window_size=window, window_shift=shift, norm=None, pool_size=(1, 1),
                          sub_sample=False)
    layer.build(shape)
    for dense in (layer.theta, layer.phi, layer.g, layer.out):
        dense.kernel.assign(rng.normal(0, 0.5, dense.kernel.shape).astype("float32"))
    got = _np(layer(x))
    plain = NonLocalBlock(norm=None, pool_size=(1, 1), sub_sample=False)
    plain.build(shape)
    plain.set_weights(layer.get_weights())

    # Independent: roll, pad by mirroring, cut balanced windows, run the
    # block on each window alone, reassemble, crop, roll back.
    rolled = np.roll(x, (-shift, -shift), axis=(1, 2))
    height, width = shape[1:3]
    rows = -(-height // window)
    cols = -(-width // window)
    rh, cw = -(-height // rows), -(-width // cols)
    padded = np.pad(rolled, [(0, 0), (0, rows * rh - height), (0, cols * cw - width), (0, 0)],
                    mode="symmetric")
    out = np.zeros_like(padded)
    for r in range(rows):
        for c in range(cols):
            tile = padded[:, r * rh: (r + 1) * rh, c * cw: (c + 1) * cw]
            out[:, r * rh: (r + 1) * rh, c * cw: (c + 1) * cw] = _np(plain(tile))
    expected = np.roll(out[:, :height, :width], (shift, shift), axis=(1, 2))
    assert np.abs(expected - x).max() > 0.1
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                       "windowed_denoiser.npz")


def test_weights_of_the_former_wrapper_layout_give_its_outputs():
    # `fixtures/windowed_denoiser.npz`: a denoiser built, randomised and run
    # by the WindowedNonLocal code (make_windowed_denoiser.py, commit 4213bd3):
    # 19x23 maps in mirror-padded 7x8 windows, the second block shifted by 4.
    recorded = np.load(FIXTURE)
    weights = [recorded[k] for k in sorted(recorded.files) if k.startswith("weight_")]
    model = build_denoiser({**SMALL})
    model.set_weights(weights)
    got = _np(model(recorded["x"], training=False))
    np.testing.assert_allclose(got, recorded["y"], rtol=1e-5, atol=2e-3)
    # The blocks matter: without them the output moves by far more.
    for layer in _blocks(model):
        layer.bn.gamma.assign(np.zeros(layer.bn.gamma.shape, "float32"))
    assert np.abs(_np(model(recorded["x"], training=False)) - recorded["y"]).max() > 0.1


def test_config_validation_names_the_bad_field():
    with pytest.raises(ValueError, match="nonlocal_placement"):
        DenoiserConfig(depth=4, nonlocal_placement=(3,))  # the last conv outputs the noise
    with pytest.raises(ValueError, match="channels"):
        DenoiserConfig(channels=2)
    with pytest.raises(ValueError, match="nonlocal_mode"):
        DenoiserConfig(nonlocal_mode="cosine")
    with pytest.raises(ValueError, match="repeats"):
        DenoiserConfig(nonlocal_placement=(2, 2))
    with pytest.raises(ValueError, match="Unknown denoiser config"):
        build_denoiser("resnet")
    with pytest.raises(ValueError, match="Unknown denoiser config field"):
        build_denoiser({"base": "dncnn", "width": 3})


def test_config_round_trips_through_a_dict():
    for config in DENOISER_CONFIGS.values():
        assert DenoiserConfig.from_dict(config.to_dict()) == config


def test_nl_denoiser_sets_the_common_fields():
    model = NLDenoiser(channels=3, nonlocal_placement=(), depth=3, features=4)
    assert model.input_shape == (None, None, None, 3)
    assert _blocks(model) == []


def test_model_config_and_keras_file_round_trip(tmp_path):
    model = build_denoiser(SMALL)
    _perturb_batch_norms(model)
    x = _noisy((1, 19, 23, 1))
    expected = _np(model(x))
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(_np(clone(x)), expected, rtol=1e-5, atol=1e-4)
    path = str(tmp_path / "small.keras")
    model.save(path)
    np.testing.assert_allclose(_np(load_denoiser(path)(x)), expected, rtol=1e-5, atol=1e-4)


def test_weights_file_loads_into_its_config(tmp_path):
    model = build_denoiser(SMALL)
    _perturb_batch_norms(model)
    path = str(tmp_path / "small.weights.h5")
    model.save_weights(path)
    x = _noisy((1, 12, 12, 1))
    np.testing.assert_allclose(_np(load_denoiser(path, config=SMALL)(x)), _np(model(x)),
                               rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="does not fit"):
        load_denoiser(path, config={**SMALL, "features": 4})


def test_sigma_picks_the_known_model_or_the_blind_one():
    assert preset_for_sigma(15) == "nl_dncnn_gray_sigma15"
    assert preset_for_sigma(25.0) == "nl_dncnn_gray_sigma25"
    assert preset_for_sigma(50) == "nl_dncnn_gray_sigma50"
    assert preset_for_sigma(30) == preset_for_sigma(None) == "nl_dncnn_gray_blind"
    with pytest.raises(ValueError, match="sigma"):
        preset_for_sigma(-1)
    assert DENOISER_PRESETS["nl_dncnn_gray_blind"]["sigma_range"] == (0, 55)
    assert DENOISER_PRESETS["dncnn_gray_sigma25"]["config"] == "dncnn"


def test_presets_without_shipped_weights_say_so(monkeypatch, tmp_path):
    from keras_nonlocal.denoising import presets

    # A row of the table whose file is not in the package (not trained for a release).
    name = preset_for_sigma(25)
    monkeypatch.setitem(presets.DENOISER_PRESETS, name,
                        {**DENOISER_PRESETS[name], "sha256": None})
    for call in (lambda: load_denoiser(name), lambda: load_denoiser(None, sigma=25)):
        with pytest.raises(FileNotFoundError, match="not shipped yet"):
            call()
    # A row with a hash but no file: a broken installation.
    monkeypatch.setattr(presets, "WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="missing from this installation .*reinstall"):
        load_denoiser(preset_for_sigma(50))


def test_bad_weights_arguments_are_clear(tmp_path):
    with pytest.raises(ValueError, match="preset name"):
        load_denoiser("imagenet")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_denoiser(str(tmp_path / "missing.keras"))
    with pytest.raises(FileNotFoundError, match="not found"):
        load_denoiser(str(tmp_path / "missing.weights.h5"))
    with pytest.raises(ValueError, match="weights"):
        load_denoiser(3)


def test_the_named_presets_are_rows_of_the_table():
    from keras_nonlocal.denoising import presets

    assert presets.ABLATION_PRESET in presets.DENOISER_PRESETS
    assert presets.DENOISER_PRESETS[presets.ABLATION_PRESET]["config"] == "dncnn"
    assert presets.BLIND_PRESET in presets.DENOISER_PRESETS
