"""Numerical properties: identity non-local blocks, I3D inflation, saving, mixed precision."""

import keras
import numpy as np
import pytest

from keras_nonlocal.applications import NonLocalResNet
from keras_nonlocal.applications import get_model
from tests.applications.helpers import randomize_bn
from tests.applications.helpers import tiny_kwargs


def _copy_shared_weights(source, target):
    """Copies every layer of `source` into the same-named layer of `target`."""
    copied = 0
    for layer in source.layers:
        if layer.weights:
            target.get_layer(layer.name).set_weights(layer.get_weights())
            copied += 1
    return copied


@pytest.mark.parametrize("name", ["nl_i3d_r50", "nl_c2d_r50"])
def test_fresh_nonlocal_blocks_leave_the_network_unchanged(name):
    kwargs = dict(input_setting="8x8", include_top=True, input_shape=(4, 64, 64, 3),
                  classes=7, classifier_activation=None)
    nl_model = get_model(name, **kwargs)
    baseline = get_model(name, nonlocal_placement=None, **kwargs)
    randomize_bn(baseline)
    _copy_shared_weights(baseline, nl_model)
    assert len(nl_model.weights) > len(baseline.weights)
    video = np.random.default_rng(0).normal(size=(2, 4, 64, 64, 3)).astype("float32")
    np.testing.assert_array_equal(
        np.asarray(nl_model(video, training=False)), np.asarray(baseline(video, training=False))
    )


def test_fresh_nonlocal_blocks_are_the_identity_in_an_image_model():
    kwargs = dict(include_top=False, input_shape=(32, 32, 3))
    nl_model = get_model("nl_resnet50", **kwargs)
    baseline = get_model("nl_resnet50", nonlocal_placement=None, **kwargs)
    randomize_bn(baseline)
    _copy_shared_weights(baseline, nl_model)
    image = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(nl_model(image)), np.asarray(baseline(image)))


def _inflate(model_2d, model_3d):
    """Official inflation: repeat each 2D kernel over time and divide by its length."""
    for layer in model_3d.layers:
        if not layer.weights:
            continue
        source = model_2d.get_layer(layer.name).get_weights()
        if isinstance(layer, keras.layers.Conv3D):
            kernel_2d = source[0]
            t = layer.kernel_size[0]
            kernel = np.repeat(kernel_2d[None], t, axis=0) / t
            layer.set_weights([kernel])
        else:
            layer.set_weights(source)


@pytest.mark.parametrize("inflation", ["3x1x1", "3x3x3"])
def test_inflated_i3d_sees_a_boring_video_as_its_2d_parent_sees_the_frame(inflation):
    # 48 frames through the 8x8 stem: res5 has 24 positions, each 2 frames
    # wide; the temporal receptive radius is 18 frames, so positions 9..14
    # never see the zero padding at the clip's ends.
    frames, size = 48, 32
    model_2d = get_model("resnet50", include_top=False, input_shape=(size, size, 3))
    randomize_bn(model_2d)
    model_3d = get_model("i3d_r50", inflation=inflation, input_setting="8x8",
                         include_top=False, input_shape=(frames, size, size, 3))
    _inflate(model_2d, model_3d)
    frame = np.random.default_rng(2).uniform(-1, 1, size=(1, size, size, 3)).astype("float32")
    video = np.repeat(frame[:, None], frames, axis=1)
    features_2d = np.asarray(model_2d(frame))
    features_3d = np.asarray(model_3d(video))
    assert features_3d.shape[1] == 24
    scale = np.abs(features_2d).max()
    for t in range(10, 14):
        np.testing.assert_allclose(features_3d[:, t], features_2d, atol=1e-4 * scale, rtol=1e-4)
    # at the borders the zero padding is visible: the property is not vacuous
    assert not np.allclose(features_3d[:, 0], features_2d, atol=1e-3 * scale)


def test_a_tiny_model_saves_to_keras_and_loads_back_with_identical_outputs(tmp_path):
    model = NonLocalResNet(**tiny_kwargs(
        nonlocal_placement={3: (0,), 4: (0,)}, nonlocal_mode="dot_product",
        include_top=True, classes=5, dropout_rate=0.5,
    ))
    for layer in model.layers:  # non-identity blocks, so they matter
        if layer.name.startswith("nonlocal"):
            layer.bn.gamma.assign(np.ones(layer.bn.gamma.shape, "float32"))
    path = tmp_path / "tiny.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    video = np.random.default_rng(3).normal(size=(2, 4, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(model(video)), np.asarray(loaded(video)))
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]


@pytest.mark.slow
def test_nl_i3d_r50_saves_to_keras_and_loads_back_with_identical_outputs(tmp_path):
    model = get_model("nl_i3d_r50", input_setting="8x8", include_top=True,
                      input_shape=(4, 64, 64, 3))
    path = tmp_path / "nl_i3d_r50.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    video = np.random.default_rng(4).normal(size=(1, 4, 64, 64, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(model(video)), np.asarray(loaded(video)))


@pytest.mark.parametrize("video", [True, False])
def test_models_run_with_mixed_bfloat16(video):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    if video:
        model = NonLocalResNet(**tiny_kwargs(nonlocal_placement={3: (0,)},
                                             include_top=True, classes=5))
        x = np.random.default_rng(5).normal(size=(2, 4, 32, 32, 3)).astype("float32")
    else:
        model = NonLocalResNet(**tiny_kwargs(video=False, input_shape=(32, 32, 3),
                                             nonlocal_placement={4: (0,)}, include_top=True, classes=5))
        x = np.random.default_rng(5).normal(size=(2, 32, 32, 3)).astype("float32")
    assert model.get_layer("conv1").compute_dtype == "bfloat16"
    probs = model(x, training=True)
    assert probs.dtype == "float32"
    probs = np.asarray(probs)
    assert np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-3)


def test_a_zoo_model_runs_with_mixed_bfloat16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = get_model("nl_i3d_r50", input_setting="8x8", include_top=False, pooling="avg")
    out = np.asarray(model(np.zeros((1, 2, 32, 32, 3), "float32")).numpy().astype("float32"))
    assert out.shape == (1, 2048) and np.all(np.isfinite(out))
