"""Real zoo models load official-format checkpoints through `weights=`.

Full ResNet-50 graphs at a tiny input (4 x 32 x 32), and zoo models with small
depths and widths (same layers, names and presets); the checkpoints are
written from the specification with seeded random values.
"""

import os
import pickle
import re

import numpy as np
import pytest

from keras_nonlocal import applications
from keras_nonlocal.weights import cache_root
from keras_nonlocal.weights import load_weights
from tests.weights import helpers

INPUT = (4, 32, 32, 3)
PAPER_INPUT = (8, 32, 32, 3)  # the 32x2 stem halves time twice


def _write(path, blobs):
    # Solver state on a few blobs only: the full set would double the file.
    data = dict(blobs, conv1_w_momentum=np.zeros_like(blobs["conv1_w"]), lr=np.float32(0.01))
    with open(path, "wb") as f:
        pickle.dump({"blobs": data}, f, protocol=2)


def _clip(seed=0, shape=INPUT):
    return np.random.default_rng(seed).uniform(-1, 1, (1,) + shape).astype(np.float32)


def _assert_close(actual, expected):
    scale = np.abs(expected).max()
    np.testing.assert_allclose(actual, expected, rtol=0, atol=2e-4 * max(scale, 1.0))


def test_nl_i3d_r50_kinetics400_through_the_builder(server, keras_home):
    blobs = helpers.official_resnet_blobs(seed=0, arch="i3d", nonlocal_blocks=True)
    _write(server.path("i3d_nonlocal_8x8_IN_pretrain_400k.pkl"), blobs)
    model = applications.get_model(
        "nl_i3d_r50", input_setting="8x8", input_shape=INPUT, weights="kinetics400",
        classifier_activation=None,
    )
    assert server.count() == 1
    assert helpers.assert_weights_equal_blobs(model, blobs) == len(blobs)
    x = _clip()
    _assert_close(model.predict(x, verbose=0), helpers.np_official_resnet(blobs, x, "8x8"))
    # Converted once into the cache: loading again downloads nothing.
    assert len(os.listdir(os.path.join(cache_root(), "converted"))) == 2  # file + record
    load_weights(model, "kinetics400", model_name="nl_i3d_r50", input_setting="8x8")
    assert server.count() == 1


def test_c2d_r50_paper_setting_backbone_only(server, keras_home):
    blobs = helpers.official_resnet_blobs(seed=1, arch="c2d")
    _write(server.path("c2d_baseline_32x2_IN_pretrain_400k.pkl"), blobs)
    model = applications.get_model(
        "c2d_r50", input_setting="32x2", input_shape=PAPER_INPUT, include_top=False,
        weights="kinetics400",
    )
    helpers.assert_weights_equal_blobs(model, blobs, skip=[r"pred_"])
    x = _clip(1, PAPER_INPUT)
    probe = applications_probe(model, "res2_0_relu")
    expected = helpers.np_stem_and_res2_0(blobs, x, *helpers.STEMS["32x2"])
    _assert_close(probe.predict(x, verbose=0), expected)


def test_i3d_r50_long_clip_affine_checkpoint_by_official_name(server, keras_home):
    blobs = helpers.official_resnet_blobs(seed=2, arch="i3d", affine=True)
    assert not any(name.endswith("_riv") for name in blobs)
    _write(server.path("i3d_baseline_32x4_I3D_pretrain_400k.pkl"), blobs)
    model = applications.get_model(
        "i3d_r50", input_setting="32x4", input_shape=INPUT,
        weights="i3d_baseline_32x4_I3D_pretrain_400k", classifier_activation=None,
    )
    bn = model.get_layer("res3_2_branch2b_bn")
    np.testing.assert_array_equal(np.asarray(bn.moving_mean), 0.0)
    x = _clip(2)
    _assert_close(model.predict(x, verbose=0), helpers.np_official_resnet(blobs, x, "32x4"))


def test_nl_i3d_r50_imagenet_is_inflated_with_identity_blocks(server, keras_home):
    blobs2d = helpers.official_resnet_blobs(seed=3, arch="i3d", two_d=True, pred=False)
    data = pickle.dumps({"blobs": blobs2d}, protocol=2)
    helpers.write_tarball(
        server.path("pretrained_model.tar.gz"),
        {"r50_pretrain_c2_model_iter450450_clean.pkl": data},
    )
    model = applications.get_model(
        "nl_i3d_r50", input_setting="8x8", input_shape=INPUT, include_top=False,
        weights="imagenet",
    )
    inflated = {}
    for name, blob in blobs2d.items():
        if name.endswith("_w"):
            t = np.asarray(model.get_layer(name[:-2]).kernel).shape[0]
            blob = np.repeat(blob[:, :, None], t, axis=2) / np.float32(t)
        inflated[name] = blob
    for name, blob in inflated.items():
        value = helpers.keras_value(model, name)
        np.testing.assert_allclose(value, helpers.expected_keras_value(blob, value.shape),
                                   rtol=1e-6, err_msg=name)
    assert np.asarray(model.get_layer("conv1").kernel).shape[0] == 5
    for layer in model.layers:
        if layer.name.startswith("nonlocal_"):
            assert not np.any(np.asarray(layer.bn.gamma)), layer.name
    x = _clip(3)
    probe = applications_probe(model, "res2_0_relu")
    expected = helpers.np_stem_and_res2_0(inflated, x, *helpers.STEMS["8x8"])
    _assert_close(probe.predict(x, verbose=0), expected)


def applications_probe(model, layer_name):
    import keras

    return keras.Model(model.input, model.get_layer(layer_name).output)


def test_nl_long_clip_preset_builds_grouped_res3_blocks(server, keras_home):
    # Full NL-I3D-R50 in the official long-clip layout: 201 blobs, no
    # `nonlocal_*_bn_*`.
    blobs = helpers.official_resnet_blobs(seed=4, arch="i3d", nonlocal_blocks=True, affine=True)
    assert len(blobs) == 201 and not any("nonlocal" in n and "_bn_" in n for n in blobs)
    _write(server.path("i3d_nonlocal_32x4_I3D_pretrain_400k.pkl"), blobs)
    model = applications.get_model(
        "nl_i3d_r50", input_setting="32x4", input_shape=(8, 32, 32, 3),
        weights="kinetics400", classifier_activation=None,
    )
    assert model.get_layer("nonlocal_conv3_1").group_size == 4
    assert model.get_layer("nonlocal_conv3_3").group_size == 4
    assert model.get_layer("nonlocal_conv4_1").group_size is None
    helpers.assert_weights_equal_blobs(model, blobs)


# ------------------------------------------- long clips on small zoo models
#
# `get_model("nl_i3d_r50", depths=..., widths=...)`: the zoo model with its
# presets, non-local placement rule and input settings, a few thousand weights.

SMALL = dict(depths=(1, 2, 2, 1), widths=(2, 4, 4, 8), stem_filters=4,
             classifier_activation=None)
SMALL_BLOBS = dict(depths=(1, 2, 2, 1), widths=(2, 4, 4, 8), stem=4)
# Frames so that res3 holds a whole number of groups of 4 frames.
LONG_CLIP_INPUT = {"32x4": (8, 32, 32, 3), "128x1": (32, 32, 32, 3)}
LONG_CLIP_FILES = {"32x4": "i3d_nonlocal_32x4_I3D_pretrain_400k",
                   "128x1": "i3d_nonlocal_128x1_I3D_pretrain_400k"}


def _long_clip_blobs(seed, nonlocal_blocks=True, **kwargs):
    return helpers.official_resnet_blobs(
        seed=seed, arch="i3d", nonlocal_blocks=nonlocal_blocks, affine=True, **SMALL_BLOBS, **kwargs
    )


def _assert_long_clip_model(model, blobs, setting):
    for name in ("nonlocal_conv3_1", "nonlocal_conv4_1"):
        block = model.get_layer(name)
        assert block.norm is None, name  # the official config: NONLOCAL.USE_BN False
    assert model.get_layer("nonlocal_conv3_1").group_size == 4
    assert model.get_layer("nonlocal_conv4_1").group_size is None
    assert helpers.assert_weights_equal_blobs(model, blobs) == len(blobs)
    assert tuple(model.get_layer("pool1").strides)[0] == (2 if setting == "128x1" else 1)
    x = _clip(5, LONG_CLIP_INPUT[setting])
    _assert_close(model.predict(x, verbose=0), helpers.np_official_resnet(blobs, x, setting))


@pytest.mark.parametrize("setting", ["32x4", "128x1"])
@pytest.mark.parametrize("kind", ["preset", "official name", "local official file", "local file"])
def test_long_clip_checkpoints_load_strictly_from_every_kind_of_weights(
        setting, kind, server, keras_home, tmp_path):
    blobs = _long_clip_blobs(seed=6)
    name = LONG_CLIP_FILES[setting]
    _write(server.path(name + ".pkl"), blobs)
    kwargs = {}
    if kind == "preset":
        weights, kwargs["input_setting"] = "kinetics400", setting
    elif kind == "official name":
        weights = name  # the setting follows the checkpoint
    elif kind == "local official file":
        weights = str(tmp_path / (name + ".pkl"))  # downloaded by hand: keeps its name
        _write(weights, blobs)
    else:
        weights, kwargs["input_setting"] = str(tmp_path / "mine.pkl"), setting
        _write(weights, blobs)
    model = applications.get_model(
        "nl_i3d_r50", weights=weights, input_shape=LONG_CLIP_INPUT[setting], **SMALL, **kwargs
    )
    assert server.count() == (1 if kind in ("preset", "official name") else 0)
    _assert_long_clip_model(model, blobs, setting)


@pytest.mark.parametrize("setting", ["32x4", "128x1"])
def test_long_clip_architecture_follows_the_setting_without_weights(setting):
    model = applications.get_model(
        "nl_i3d_r50", weights=None, input_setting=setting, input_shape=LONG_CLIP_INPUT[setting],
        **SMALL,
    )
    block = model.get_layer("nonlocal_conv3_1")
    assert block.norm is None and block.group_size == 4
    assert not np.any(np.asarray(block.out.kernel))  # zero-initialised: the identity
    short = applications.get_model("nl_i3d_r50", weights=None, input_setting="8x8",
                                   input_shape=(8, 32, 32, 3), **SMALL)
    assert short.get_layer("nonlocal_conv3_1").norm == "batch_norm"
    assert short.get_layer("nonlocal_conv3_1").group_size is None


def test_another_grouping_passed_by_hand_still_wins(tmp_path):
    blobs = _long_clip_blobs(seed=7)
    path = str(tmp_path / "i3d_nonlocal_32x4_I3D_pretrain_400k.pkl")
    _write(path, blobs)
    model = applications.get_model(
        "nl_i3d_r50", weights=path, input_shape=(8, 32, 32, 3),
        nonlocal_stage_kwargs={3: {"group_size": 2}}, **SMALL,
    )
    assert model.get_layer("nonlocal_conv3_1").group_size == 2
    x = _clip(8, (8, 32, 32, 3))
    _assert_close(model.predict(x, verbose=0),
                  helpers.np_official_resnet(blobs, x, "32x4", groups={3: 2}))


def test_a_checkpoint_with_nonlocal_normalisation_folds_into_a_long_clip_model(tmp_path):
    blobs = _long_clip_blobs(seed=9, nonlocal_norm="affine")
    path = str(tmp_path / "affine_blocks.pkl")
    _write(path, blobs)
    model = applications.get_model("nl_i3d_r50", weights=path, input_setting="32x4",
                                   input_shape=(8, 32, 32, 3), **SMALL)
    assert model.get_layer("nonlocal_conv3_1").norm is None
    x = _clip(9, (8, 32, 32, 3))
    _assert_close(model.predict(x, verbose=0), helpers.np_official_resnet(blobs, x, "32x4"))


def test_with_out_zeroed_nl_i3d_equals_i3d_from_the_same_backbone(tmp_path):
    blobs = _long_clip_blobs(seed=10)
    for name in blobs:
        if re.match(r"nonlocal_.*_out_[wb]$", name):
            blobs[name] = np.zeros_like(blobs[name])
    backbone = {k: v for k, v in blobs.items() if not k.startswith("nonlocal_")}
    assert len(backbone) < len(blobs)
    nl_path, path = str(tmp_path / "nl.pkl"), str(tmp_path / "baseline.pkl")
    _write(nl_path, blobs)
    _write(path, backbone)
    kwargs = dict(input_setting="32x4", input_shape=(8, 32, 32, 3), **SMALL)
    nl = applications.get_model("nl_i3d_r50", weights=nl_path, **kwargs)
    baseline = applications.get_model("i3d_r50", weights=path, **kwargs)
    x = _clip(11, (8, 32, 32, 3))
    expected = baseline.predict(x, verbose=0)
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(nl.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)
    # A non-zero `out` changes the output: the comparison can fail.
    blobs["nonlocal_conv3_1_out_w"] = np.full_like(blobs["nonlocal_conv3_1_out_w"], 0.5)
    _write(nl_path, blobs)
    changed = applications.get_model("nl_i3d_r50", weights=nl_path, **kwargs)
    assert np.abs(changed.predict(x, verbose=0) - expected).max() > 1e-3
