"""`keras.applications` arguments, validation errors, the registry and the weights hook."""

import inspect

import keras
import numpy as np
import pytest

import keras_nonlocal.applications as apps
from keras_nonlocal.applications import NonLocalResNet
from keras_nonlocal.applications import get_model
from keras_nonlocal.applications import list_models
from tests.applications.helpers import tiny_kwargs

KERAS_ARGS = ["include_top", "weights", "input_tensor", "input_shape", "pooling", "classes",
              "classifier_activation", "name", "dropout_rate"]
NAMED = {
    "C2D50": "c2d_r50", "C2D101": "c2d_r101", "NLC2D50": "nl_c2d_r50", "NLC2D101": "nl_c2d_r101",
    "I3D50": "i3d_r50", "I3D101": "i3d_r101", "NLI3D50": "nl_i3d_r50", "NLI3D101": "nl_i3d_r101",
    "NLResNet50": "nl_resnet50", "NLResNet101": "nl_resnet101",
}


@pytest.mark.parametrize("fn_name", sorted(NAMED))
def test_named_models_take_the_keras_applications_arguments(fn_name):
    fn = getattr(apps, fn_name)
    params = inspect.signature(fn).parameters
    assert list(params)[: len(KERAS_ARGS)] == KERAS_ARGS
    assert params["name"].default == NAMED[fn_name]
    assert "Args:" in fn.__doc__ and "Returns:" in fn.__doc__ and "Example:" in fn.__doc__


def test_named_models_are_their_registry_rows():
    model = apps.NLI3D50(input_setting="8x8", include_top=False, pooling="avg")
    assert model.name == "nl_i3d_r50"
    assert model.output_shape == (None, 2048)
    assert model.get_layer("conv1").kernel_size == (5, 7, 7)
    assert sum(l.name.startswith("nonlocal") for l in model.layers) == 5


def test_list_models_names_every_registry_model_and_get_model_rejects_others():
    names = list_models()
    for expected in ["c2d_r50", "nl_c2d_r50", "i3d_r50", "nl_i3d_r50", "i3d_r101",
                     "nl_i3d_r101", "nl_resnet50", "nl_resnet101"]:
        assert expected in names
    assert set(list_models(video=False)) == {"resnet50", "resnet101", "nl_resnet50", "nl_resnet101"}
    with pytest.raises(ValueError, match="Unknown model name 'i3d_r18'"):
        get_model("i3d_r18")


def test_get_model_kwargs_override_the_row_and_name_the_model():
    model = get_model("i3d_r50", name="mine", input_setting="8x8", include_top=False,
                      nonlocal_placement="res5", input_shape=(None, 64, 64, 3))
    assert model.name == "mine"
    assert [l.name for l in model.layers if l.name.startswith("nonlocal")] == ["nonlocal_conv5_1"]


@pytest.mark.parametrize("pooling,shape", [(None, (None, 2, 1, 1, 16 * 4)), ("avg", (None, 64)), ("max", (None, 64))])
def test_pooling_options(pooling, shape):
    model = NonLocalResNet(**tiny_kwargs(pooling=pooling))
    assert model.output_shape == shape
    if pooling:
        assert model.layers[-1].name == f"{pooling}_pool"


def test_none_frames_height_and_width_are_allowed_without_top():
    model = NonLocalResNet(**tiny_kwargs(input_shape=(None, None, None, 3), pooling="avg",
                                         nonlocal_placement={3: (0,)}))
    for shape in [(1, 4, 32, 32, 3), (1, 6, 48, 40, 3)]:
        assert model(np.zeros(shape, "float32")).shape == (1, 64)
    default = NonLocalResNet(**tiny_kwargs(input_shape=None))
    assert default.input_shape == (None, None, None, None, 3)


def test_include_top_gives_class_scores_with_softmax():
    model = NonLocalResNet(**tiny_kwargs(include_top=True, classes=7))
    probs = np.asarray(model(np.random.default_rng(0).normal(size=(2, 4, 32, 32, 3)).astype("float32")))
    assert probs.shape == (2, 7)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    assert model.get_layer("pred").units == 7
    assert model.get_layer("pool5_dropout").rate == 0.5


def test_input_tensor_is_used_as_the_model_input():
    tensor = keras.Input(shape=(4, 32, 32, 3), name="clip")
    model = NonLocalResNet(**tiny_kwargs(input_tensor=tensor, input_shape=None, pooling="avg"))
    assert model.inputs[0] is tensor
    assert model.input_shape == (None, 4, 32, 32, 3)


def test_custom_small_configuration_for_tuning():
    model = NonLocalResNet(
        depths=(1, 2, 1, 1), widths=(8, 16, 16, 32), stem_filters=8, stem_kernel_size=3,
        stem_strides=1, stem_pool=False, stage_strides=(1, 2, 2, 1), temporal_pattern="i3d",
        input_setting="8x8", nonlocal_placement={3: "all"}, nonlocal_mode="gaussian",
        nonlocal_attention_axes="time", nonlocal_kwargs={"chunk_size": 8},
        include_top=True, classes=3, input_shape=(8, 32, 32, 3),
    )
    assert [l.name for l in model.layers if l.name.startswith("nonlocal")] == ["nonlocal_conv3_0", "nonlocal_conv3_1"]
    block = model.get_layer("nonlocal_conv3_1")
    assert (block.mode, block.attention_axes, block.chunk_size) == ("gaussian", "time", 8)
    assert model.get_layer("conv1").kernel_size == (5, 3, 3)
    assert model.get_layer("res5_0_relu").output.shape[1:4] == (4, 8, 8)
    assert model.output_shape == (None, 3)


def test_nonlocal_options_pass_through_to_every_block():
    model = get_model("nl_c2d_r50", include_top=False, nonlocal_mode="dot_product",
                      nonlocal_sub_sample=False, nonlocal_attention_axes="space",
                      nonlocal_stage_kwargs={3: {"inner_channels": 64}})
    r3, r4 = model.get_layer("nonlocal_conv3_1"), model.get_layer("nonlocal_conv4_1")
    assert r3.mode == r4.mode == "dot_product"
    assert not r3.sub_sample and r3.attention_axes == "space"
    assert r3.inner_channels == 64 and r4.inner_channels is None


# --------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(weights="kinetics"), "The `weights` argument should be either"),
        (dict(weights=3), "The `weights` argument should be either"),
        (dict(weights="kinetics400", classes=10), "`classes` should be 400"),
        (dict(weights="i3d_nonlocal_32x2_IN_pretrain_400k", classes=10), "`classes` should be 400"),
        (dict(weights="imagenet", classes=10, model="nl_resnet50"), "`classes` should be 1000"),
        (dict(weights="kinetics400", classifier_activation="relu"), "Only `None` and `softmax`"),
        (dict(weights="kinetics400", input_setting="128x1", model="nl_c2d_r50"), "not for input_setting='128x1'"),
        (dict(weights="kinetics400", model="i3d_r101"), "No 'kinetics400' weights for model"),
        (dict(weights="kinetics400", model="nl_resnet50", classes=1000), "No 'kinetics400' weights for model"),
        (dict(input_shape=(None, 224, 224, 3)), "you should specify a static `input_shape`"),
        (dict(input_shape=(32, 224, 224, 1)), "The input must have 3 channels"),
        (dict(input_shape=(32, 16, 224, 3)), "Input size must be at least 32x32"),
        (dict(input_shape=(224, 224, 3)), "must be a tuple of 4 integers"),
        (dict(input_shape=(6, 224, 224, 3)), "at least 7 frames"),
        (dict(include_top=False, pooling="mean"), "`pooling` argument should be one of"),
        (dict(include_top="yes"), "`include_top` must be a boolean"),
        (dict(input_setting="16x4"), "`input_setting` must be one of"),
        (dict(inflation="3x3x1"), "`inflation` must be one of"),
        (dict(temporal_pattern="r3d"), "`temporal_pattern` must be one of"),
        (dict(nonlocal_kwargs={"mode": "gaussian"}), "cannot set"),
        (dict(nonlocal_mode="cosine"), "Unknown mode='cosine'"),
        (dict(dropout_rate=1.5), "`dropout_rate` must be in"),
        (dict(nonlocal_attention_axes="channels"), "`nonlocal_attention_axes` must be"),
    ],
)
def test_bad_arguments_raise_clear_errors_before_building(kwargs, message, monkeypatch):
    built = []
    monkeypatch.setattr(keras, "Model", lambda *a, **k: built.append(1))
    model = kwargs.pop("model", "nl_i3d_r50")
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        get_model(model, **kwargs)
    assert not built


def _record_loads(monkeypatch):
    import keras_nonlocal.weights as weights_pkg

    calls = []
    monkeypatch.setattr(
        weights_pkg, "load_weights",
        lambda model, weights, **kwargs: calls.append((model.name, weights, kwargs)),
    )
    return calls


def test_official_checkpoint_names_are_accepted_as_weights(monkeypatch):
    calls = _record_loads(monkeypatch)
    NonLocalResNet(**tiny_kwargs(weights="i3d_baseline_8x8_IN_pretrain_400k"))
    assert [c[1] for c in calls] == ["i3d_baseline_8x8_IN_pretrain_400k"]


def test_preset_weights_need_a_zoo_name():
    with pytest.raises(ValueError, match="a custom model"):
        NonLocalResNet(**tiny_kwargs(weights="kinetics400"))


SMALL = dict(depths=(1, 1, 1, 1), widths=(4, 8, 8, 16), stem_filters=8)
# Two blocks in res3 and res4: the official rule puts a non-local block after the second.
SMALL_NL = dict(depths=(1, 2, 2, 1), widths=(2, 4, 4, 8), stem_filters=4)


def test_weights_are_loaded_through_the_single_hook(monkeypatch, tmp_path):
    calls = _record_loads(monkeypatch)
    small = dict(SMALL, input_shape=(8, 32, 32, 3))
    get_model("nl_i3d_r50", weights="kinetics400", input_setting="8x8", **small)
    path = tmp_path / "mine.weights.h5"
    path.write_bytes(b"")
    get_model("i3d_r50", weights=str(path), include_top=False, **small)
    get_model("nl_i3d_r50", weights="imagenet", **small)  # video: a new 400-way head
    assert calls[-1][2] == dict(
        model_name="nl_i3d_r50", include_top=True, classes=400, input_setting="32x2"
    )
    calls.pop()
    assert calls == [
        ("nl_i3d_r50", "kinetics400", dict(
            model_name="nl_i3d_r50", include_top=True, classes=400, input_setting="8x8")),
        ("i3d_r50", str(path), dict(
            model_name="i3d_r50", include_top=False, classes=400, input_setting="32x2")),
    ]


# ------------------------------------------------------- input settings


def _setting_of(model):
    """The stem says paper (time halved in pool1) or fast; the blocks say long clip."""
    paper = tuple(model.get_layer("pool1").strides)[0] == 2
    return paper, model.input_shape[1]


@pytest.mark.parametrize("name,setting,paper,frames", [
    ("i3d_nonlocal_8x8_IN_pretrain_400k", "8x8", False, 8),
    ("i3d_nonlocal_32x4_I3D_pretrain_400k", "32x4", False, 32),
    ("c2d_baseline_32x2_IN_pretrain_400k", "32x2", True, 32),
])
def test_without_input_setting_the_model_follows_the_checkpoint(
        name, setting, paper, frames, monkeypatch, tmp_path):
    calls = _record_loads(monkeypatch)
    model_name = "nl_i3d_r50" if "nonlocal" in name else name.split("_")[0] + "_r50"
    for weights in (name, str(tmp_path / f"{name}.pkl")):  # by name, or a local copy
        (tmp_path / f"{name}.pkl").write_bytes(b"")
        model = get_model(model_name, weights=weights, **SMALL_NL)
        assert _setting_of(model) == (paper, frames)
        assert calls[-1][2]["input_setting"] == setting
    if "nonlocal" in name:
        block = model.get_layer("nonlocal_conv3_1")
        assert (block.norm is None) == (setting == "32x4")
        assert block.group_size == (4 if setting == "32x4" else None)


def test_a_checkpoint_of_another_setting_is_refused_before_building(monkeypatch):
    built = []
    monkeypatch.setattr(keras, "Model", lambda *a, **k: built.append(1))
    with pytest.raises(ValueError) as info:
        get_model("nl_i3d_r50", weights="i3d_nonlocal_8x8_IN_pretrain_400k", input_setting="32x2")
    message = str(info.value)
    assert "'8x8' input setting" in message and "input_setting='32x2'" in message
    assert not built


def test_without_checkpoint_the_default_setting_applies_whatever_the_frames(monkeypatch):
    calls = _record_loads(monkeypatch)
    model = get_model("nl_i3d_r50", weights=None, include_top=False,
                      input_shape=(8, 32, 32, 3), **SMALL_NL)
    assert _setting_of(model) == (True, 8)  # 32x2's stem, the 8 frames asked for
    assert model.get_layer("nonlocal_conv3_1").norm == "batch_norm"
    get_model("nl_i3d_r50", weights="kinetics400", include_top=False,
              input_shape=(8, 32, 32, 3), **SMALL_NL)
    assert calls[-1][2]["input_setting"] == "32x2"
