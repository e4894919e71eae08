"""Real zoo models load official-format checkpoints through `weights=`.

Full ResNet-50 graphs at a tiny input (4 x 32 x 32); the checkpoints are
written from the specification with seeded random values.
"""

import os
import pickle

import numpy as np

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
    load_weights(model, "kinetics400", model_name="nl_i3d_r50")
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
    import warnings

    blobs = helpers.official_resnet_blobs(seed=4, arch="i3d", nonlocal_blocks=True, affine=True)
    _write(server.path("i3d_nonlocal_32x4_I3D_pretrain_400k.pkl"), blobs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "attends across groups" warning
        model = applications.get_model(
            "nl_i3d_r50", input_setting="32x4", input_shape=(8, 32, 32, 3),
            weights="kinetics400", classifier_activation=None,
        )
    assert model.get_layer("nonlocal_conv3_1").group_size == 4
    assert model.get_layer("nonlocal_conv3_3").group_size == 4
    assert model.get_layer("nonlocal_conv4_1").group_size is None
    helpers.assert_weights_equal_blobs(model, blobs)
