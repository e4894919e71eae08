"""Official blobs land in the right Keras weights, in every layout."""

import re

import numpy as np
import pytest

from keras_nonlocal.weights import CheckpointMismatchError
from keras_nonlocal.weights import NonLocalLayoutError
from keras_nonlocal.weights import apply_mapping
from keras_nonlocal.weights import plan_mapping
from keras_nonlocal.weights import verify_mapping
from keras_nonlocal.weights.checkpoint import Checkpoint
from tests.weights import helpers


def _load(model, blobs, **kwargs):
    report = plan_mapping(model, Checkpoint(dict(blobs), ["lr"], "test"), **kwargs)
    verify_mapping(report)
    apply_mapping(report)
    return report


def _clip(seed=1):
    return np.random.default_rng(seed).standard_normal((2,) + helpers.SMALL_INPUT).astype(np.float32)


def test_every_keras_weight_equals_its_blob():
    model, blobs = helpers.small_model(), helpers.small_blobs()
    _load(model, blobs)
    checked = helpers.assert_weights_equal_blobs(model, blobs)
    assert checked == len(blobs) == len(model.weights)


def test_output_equals_numpy_forward_from_the_blobs():
    model, blobs = helpers.small_model(), helpers.small_blobs()
    _load(model, blobs)
    x = _clip()
    np.testing.assert_allclose(
        model.predict(x, verbose=0), helpers.np_small_forward(blobs, x), rtol=1e-4, atol=1e-4
    )


def test_affine_blobs_load_into_batchnorm_as_the_affine_map():
    model, blobs = helpers.small_model(), helpers.small_blobs(affine=True, nonlocal_norm="affine")
    assert not any(name.endswith("_rm") for name in blobs)
    report = _load(model, blobs)
    bn = model.get_layer("res2_0_branch2b_bn")
    np.testing.assert_array_equal(np.asarray(bn.gamma), blobs["res2_0_branch2b_bn_s"])
    np.testing.assert_array_equal(np.asarray(bn.moving_mean), 0.0)
    np.testing.assert_allclose(np.asarray(bn.moving_variance) + bn.epsilon, 1.0, rtol=1e-6)
    assert any("affine blobs into BatchNormalization" in a.note for a in report.assignments)
    x = _clip()
    np.testing.assert_allclose(
        model.predict(x, verbose=0), helpers.np_small_forward(blobs, x), rtol=1e-4, atol=1e-4
    )


def test_affine_blobs_load_into_affine_layers():
    model = helpers.small_model(norm="affine")
    blobs = helpers.small_blobs(affine=True, nonlocal_norm="affine")
    _load(model, blobs)
    helpers.assert_weights_equal_blobs(model, blobs)
    x = _clip()
    np.testing.assert_allclose(
        model.predict(x, verbose=0), helpers.np_small_forward(blobs, x), rtol=1e-4, atol=1e-4
    )


def test_batchnorm_blobs_fold_into_affine_layers():
    model, blobs = helpers.small_model(norm="affine"), helpers.small_blobs()
    report = _load(model, blobs)
    assert any("folded" in a.note for a in report.assignments)
    x = _clip()
    np.testing.assert_allclose(
        model.predict(x, verbose=0), helpers.np_small_forward(blobs, x), rtol=1e-4, atol=1e-4
    )


def test_missing_extra_and_misshaped_blobs_are_all_named():
    model, blobs = helpers.small_model(), helpers.small_blobs()
    del blobs["res2_0_branch2b_w"]
    del blobs["nonlocal_conv2_0_bn_riv"]
    blobs["res9_0_branch2a_w"] = np.zeros((1, 1, 1, 1, 1), np.float32)
    blobs["conv1_w"] = np.zeros((8, 3, 5, 3, 3), np.float32)
    before = helpers.keras_weights_by_path(model)
    with pytest.raises(CheckpointMismatchError) as info:
        _load(model, blobs)
    message = str(info.value)
    for expected in (
        "res2_0_branch2b_w expected (4, 4, 1, 3, 3)",
        "nonlocal_conv2_0_bn_riv expected (16,)",
        "res9_0_branch2a_w (1, 1, 1, 1, 1)",
        "conv1_w is (8, 3, 5, 3, 3), expected (8, 3, 3, 3, 3)",
    ):
        assert expected in message
    assert [b for b, _ in info.value.missing] == ["res2_0_branch2b_w", "nonlocal_conv2_0_bn_riv"]
    # Nothing was assigned.
    for path, value in helpers.keras_weights_by_path(model).items():
        np.testing.assert_array_equal(value, before[path])


def test_solver_state_is_not_an_unused_blob():
    model, blobs = helpers.small_model(), helpers.small_blobs()
    report = plan_mapping(model, Checkpoint(blobs, ["conv1_w_momentum", "lr", "model_iter"]))
    assert report.ok and len(report.solver_state) == 3


def test_without_top_the_head_blobs_are_ignored():
    model, blobs = helpers.small_model(include_top=False), helpers.small_blobs()
    report = _load(model, blobs, load_head=False)
    assert sorted(b for b, _ in report.ignored) == ["pred_b", "pred_w"]
    helpers.assert_weights_equal_blobs(model, blobs, skip=[r"pred_"])


def test_wrong_number_of_classes_is_a_misshaped_head():
    model, blobs = helpers.small_model(classes=7), helpers.small_blobs()
    with pytest.raises(CheckpointMismatchError, match=r"pred_w is \(5, 16\), expected \(7, 16\)"):
        _load(model, blobs)


def test_blobs_stored_with_fewer_dimensions_are_padded():
    model, blobs = helpers.small_model(), helpers.small_blobs()
    squeezed = dict(blobs)
    for name in ("res2_0_branch2c_w", "res2_0_branch1_w", "nonlocal_conv2_0_theta_w"):
        squeezed[name] = blobs[name].reshape(blobs[name].shape[:2])
    _load(model, squeezed)
    helpers.assert_weights_equal_blobs(model, blobs)


def test_imagenet_2d_blobs_are_inflated_and_nonlocal_starts_as_identity():
    model = helpers.small_model()
    blobs2d = helpers.small_blobs(image=True)
    report = _load(model, blobs2d, inflate=True, initialise=(r"nonlocal_",))
    kernel = np.asarray(model.get_layer("conv1").kernel)  # (t, h, w, in, out)
    t = helpers.SMALL["t_stem"]
    for i in range(t):
        np.testing.assert_allclose(
            kernel[i], np.transpose(blobs2d["conv1_w"], (2, 3, 1, 0)) / t, rtol=1e-6
        )
    branch2a = np.asarray(model.get_layer("res2_0_branch2a").kernel)
    np.testing.assert_allclose(branch2a.sum(axis=0)[0, 0], blobs2d["res2_0_branch2a_w"][:, :, 0, 0].T, rtol=1e-5)
    block = model.get_layer("nonlocal_conv2_0")
    assert not np.any(np.asarray(block.bn.gamma)) and not np.any(np.asarray(block.bn.beta))
    assert any(p == "nonlocal_conv2_0_bn" for p, _ in report.initialised)
    # Forward: the inflated video network with the block as identity.
    inflated = dict(blobs2d)
    for name, blob in blobs2d.items():
        if name.endswith("_w") and blob.ndim == 4:
            tk = np.asarray(helpers._find(model, name[:-2]).kernel).shape[0]
            inflated[name] = np.repeat(blob[:, :, None], tk, axis=2) / tk
    x = _clip()
    nonlocal_out = model.get_layer("nonlocal_conv2_0").output
    import keras

    probe = keras.Model(model.input, [model.get_layer("nonlocal_conv2_0").input, nonlocal_out])
    before, after = probe.predict(x, verbose=0)
    np.testing.assert_allclose(after, before, atol=1e-6)
    reference = helpers.np_small_forward(
        {**inflated, **_identity_nonlocal_blobs(model)}, x
    )
    np.testing.assert_allclose(model.predict(x, verbose=0), reference, rtol=1e-4, atol=1e-4)


def _identity_nonlocal_blobs(model):
    block = model.get_layer("nonlocal_conv2_0")
    blobs = {}
    for branch in ("theta", "phi", "g", "out"):
        layer = getattr(block, branch)
        blobs[f"nonlocal_conv2_0_{branch}_w"] = np.asarray(layer.kernel).T
        blobs[f"nonlocal_conv2_0_{branch}_b"] = np.asarray(layer.bias)
    for key, attr in (("s", "gamma"), ("b", "beta"), ("rm", "moving_mean"), ("riv", "moving_variance")):
        blobs[f"nonlocal_conv2_0_bn_{key}"] = np.asarray(getattr(block.bn, attr))
    return blobs


def test_report_summary_lists_what_was_mapped():
    model, blobs = helpers.small_model(), helpers.small_blobs(affine=True)
    report = _load(model, blobs)
    text = report.summary(verbose=True)
    assert re.search(r"Mapped \d+ blobs onto \d+ Keras weights", text)
    assert "conv1_w -> conv1/kernel (3, 3, 3, 3, 8)" in text
    assert "solver state skipped: 1 entries" in text


# ------------------------------------------------- non-local block layouts


def _forward_matches_blobs(model, blobs):
    x = _clip()
    np.testing.assert_allclose(
        model.predict(x, verbose=0), helpers.np_small_forward(blobs, x), rtol=1e-4, atol=1e-4
    )


def test_long_clip_layout_loads_strictly_into_a_block_without_normalisation():
    # The official 32x4 / 128x1 layout: backbone `_s`/`_b` only, the block
    # `theta/phi/g/out` only.
    model = helpers.small_model(nonlocal_norm="none")
    blobs = helpers.small_blobs(affine=True, nonlocal_norm=None)
    assert not any(name.startswith("nonlocal_conv2_0_bn") for name in blobs)
    report = _load(model, blobs)
    assert report.ok and not report.initialised
    assert sorted(report.mapped_blobs) == sorted(blobs)
    helpers.assert_weights_equal_blobs(model, blobs, skip=[r"res.*_bn_|res_conv1_bn_"])
    _forward_matches_blobs(model, blobs)


@pytest.mark.parametrize("layout", ["batch_norm", "affine"])
def test_a_blocks_normalisation_folds_exactly_into_out(layout):
    model = helpers.small_model(nonlocal_norm="none")
    blobs = helpers.small_blobs(seed=4, nonlocal_norm=layout)
    report = _load(model, blobs)
    notes = {a.note for a in report.assignments}
    assert f"non-local {layout} normalisation folded into out" in notes
    # Independent check of the fold: W' = W * scale, b' = (b - mean) * scale + beta.
    p = "nonlocal_conv2_0"
    scale, shift = blobs[f"{p}_bn_s"].astype(np.float64), blobs[f"{p}_bn_b"].astype(np.float64)
    mean = 0.0
    if layout == "batch_norm":
        scale = scale / np.sqrt(blobs[f"{p}_bn_riv"] + helpers.EPS)
        mean = blobs[f"{p}_bn_rm"]
    out = model.get_layer(p).out
    w = blobs[f"{p}_out_w"].reshape(16, 8).T
    np.testing.assert_allclose(np.asarray(out.kernel), w * scale, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out.bias), (blobs[f"{p}_out_b"] - mean) * scale + shift,
                               rtol=1e-6, atol=1e-7)
    _forward_matches_blobs(model, blobs)


def test_a_block_with_normalisation_refuses_the_long_clip_layout():
    model = helpers.small_model()
    blobs = helpers.small_blobs(affine=True, nonlocal_norm=None)
    with pytest.raises(CheckpointMismatchError) as info:
        _load(model, blobs)
    message = str(info.value)
    assert "nonlocal_conv2_0_bn_s expected (16,)" in message
    assert "have no normalisation" in message and "input_setting='32x4'" in message


def test_a_block_with_part_of_a_normalisation_is_refused_naming_the_missing_blob():
    blobs = helpers.small_blobs(nonlocal_norm="batch_norm")
    del blobs["nonlocal_conv2_0_bn_rm"]
    with pytest.raises(CheckpointMismatchError, match="nonlocal_conv2_0_bn_rm expected"):
        _load(helpers.small_model(nonlocal_norm="none"), blobs)


def test_blocks_that_mix_layouts_are_refused_naming_the_blobs():
    from keras_nonlocal.weights.mapping import nonlocal_layouts

    blobs = helpers.small_blobs(nonlocal_norm="affine", nonlocal_name="nonlocal_conv3_1")
    maker = helpers.BlobMaker(seed=9)
    maker.nonlocal_block("nonlocal_conv3_3", 16, norm=None)
    blobs.update(maker.blobs)
    with pytest.raises(NonLocalLayoutError) as info:
        nonlocal_layouts(blobs)
    message = str(info.value)
    assert "nonlocal_conv3_1: nonlocal_conv3_1_bn_s, nonlocal_conv3_1_bn_b (affine)" in message
    assert "nonlocal_conv3_3: no normalisation blobs (none)" in message
    model = helpers.small_model(nonlocal_norm="none", nonlocal_name="nonlocal_conv3_1")
    with pytest.raises(NonLocalLayoutError):
        plan_mapping(model, Checkpoint(blobs, [], "test"))


def test_imagenet_initialisation_zeroes_out_of_a_block_without_normalisation():
    model = helpers.small_model(nonlocal_norm="none")
    block = model.get_layer("nonlocal_conv2_0")
    block.out.kernel.assign(np.ones(block.out.kernel.shape, np.float32))  # not the identity
    report = _load(model, helpers.small_blobs(image=True), inflate=True, initialise=(r"nonlocal_",))
    assert not np.any(np.asarray(block.out.kernel)) and not np.any(np.asarray(block.out.bias))
    assert ("nonlocal_conv2_0_out", "zeroed, so the block starts as the identity") in report.initialised
    import keras

    probe = keras.Model(model.input, [block.input, block.output])
    before, after = probe.predict(_clip(), verbose=0)
    np.testing.assert_array_equal(after, before)
