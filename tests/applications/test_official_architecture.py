"""The zoo models are the official architecture: blobs, parameter counts, sizes, padding."""

import collections

import keras
import pytest

from keras_nonlocal.applications import get_model
from tests.applications import official_spec as spec

# (zoo name, arch, depth, non-local) for the models checked blob by blob.
OFFICIAL_MODELS = [
    ("c2d_r50", "c2d", 50, False),
    ("nl_c2d_r50", "c2d", 50, True),
    ("i3d_r50", "i3d", 50, False),
    ("nl_i3d_r50", "i3d", 50, True),
    ("c2d_r101", "c2d", 101, False),
    ("i3d_r101", "i3d", 101, False),
    ("nl_i3d_r101", "i3d", 101, True),
]


@pytest.fixture(scope="module")
def zoo():
    """Each official model, built once at its standard input (32x224x224)."""
    models = {}

    def get(name):
        if name not in models:
            models[name] = get_model(name)
        return models[name]

    return get


def _keras_weights(model):
    return {w.path: tuple(w.shape) for w in model.weights}


@pytest.mark.parametrize("name,arch,depth,nl", OFFICIAL_MODELS, ids=[m[0] for m in OFFICIAL_MODELS])
def test_every_official_blob_maps_by_name_to_a_weight_of_the_same_shape(zoo, name, arch, depth, nl):
    blobs = spec.official_blobs(arch, depth, nl)
    weights = _keras_weights(zoo(name))
    expected = {spec.keras_path(b): spec.keras_shape(b, s) for b, s in blobs.items()}
    assert expected == weights  # same names, same shapes, nothing missing or extra


@pytest.mark.parametrize("name,arch,depth,nl", OFFICIAL_MODELS, ids=[m[0] for m in OFFICIAL_MODELS])
def test_parameter_counts_per_layer_group_equal_the_official_ones(zoo, name, arch, depth, nl):
    blobs = spec.official_blobs(arch, depth, nl)
    official = collections.Counter()
    official_stats = collections.Counter()
    for blob, shape in blobs.items():
        size = 1
        for d in shape:
            size *= d
        (official if spec.learnable(blob) else official_stats)[spec.blob_group(blob)] += size
    model = zoo(name)
    ours = collections.Counter()
    ours_stats = collections.Counter()
    for w in model.trainable_weights:
        ours[spec.blob_group(w.path)] += int(w.numpy().size)
    for w in model.non_trainable_weights:
        ours_stats[spec.blob_group(w.path)] += int(w.numpy().size)
    expected_groups = {"stem", "res2", "res3", "res4", "res5", "head"} | ({"nonlocal"} if nl else set())
    assert set(official) == expected_groups
    assert dict(ours) == dict(official)
    assert dict(ours_stats) == dict(official_stats)
    assert sum(ours.values()) == sum(official.values())


def test_nonlocal_blocks_sit_where_the_official_code_puts_them(zoo):
    r50 = [l.name for l in zoo("nl_i3d_r50").layers if l.name.startswith("nonlocal")]
    r101 = [l.name for l in zoo("nl_i3d_r101").layers if l.name.startswith("nonlocal")]
    assert r50 == ["nonlocal_conv3_1", "nonlocal_conv3_3", "nonlocal_conv4_1",
                   "nonlocal_conv4_3", "nonlocal_conv4_5"]
    assert r101 == ["nonlocal_conv3_1", "nonlocal_conv3_3", "nonlocal_conv4_6",
                    "nonlocal_conv4_13", "nonlocal_conv4_20"]
    names = [l.name for l in zoo("nl_i3d_r50").layers]
    # a non-local block follows its residual block directly
    assert names.index("nonlocal_conv4_3") == names.index("res4_3_relu") + 1


def _stage_outputs(model):
    last_block = {}
    for layer in model.layers:
        if layer.name.startswith("res") and layer.name.endswith("_relu") and layer.name.count("_") == 2:
            last_block[layer.name.split("_")[0]] = layer.name
    names = {"conv1": "conv1", "pool1": "pool1", "pool2": "pool2", **last_block}
    return {k: tuple(model.get_layer(v).output.shape[1:4]) for k, v in names.items()}


@pytest.mark.parametrize("setting", ["32x2", "8x8"])
@pytest.mark.parametrize("arch", ["c2d", "i3d"])
def test_stage_output_sizes_match_the_spec(arch, setting):
    frames = 32 if setting == "32x2" else 8
    model = get_model(f"nl_{arch}_r50", input_setting=setting)
    assert model.input_shape == (None, frames, 224, 224, 3)
    assert _stage_outputs(model) == spec.STAGE_SIZES[setting]
    assert model.get_layer("res5_2_relu").output.shape[-1] == 2048


def test_stem_layers_follow_the_input_setting(zoo):
    paper = zoo("i3d_r50")
    assert paper.get_layer("conv1").kernel_size == (5, 7, 7)
    assert paper.get_layer("conv1").strides == (2, 2, 2)
    assert paper.get_layer("conv1_pad").padding == ((2, 2), (3, 3), (3, 3))
    assert paper.get_layer("pool1").pool_size == (2, 3, 3)
    assert paper.get_layer("pool1").strides == (2, 2, 2)
    fast = get_model("i3d_r50", input_setting="8x8")
    assert fast.get_layer("conv1").strides == (1, 2, 2)
    assert fast.get_layer("pool1").pool_size == (1, 3, 3)
    assert fast.get_layer("pool1").strides == (1, 2, 2)
    for model in (paper, fast):
        assert model.get_layer("pool2").pool_size == (2, 1, 1)
        assert model.get_layer("pool2").strides == (2, 1, 1)
    assert zoo("c2d_r50").get_layer("conv1").kernel_size == (1, 7, 7)


def test_padding_is_explicit_symmetric_and_never_same(zoo):
    for name in ("i3d_r50", "nl_c2d_r50"):
        for layer in zoo(name).layers:
            if hasattr(layer, "padding") and isinstance(layer.padding, str):
                assert layer.padding == "valid", layer.name
            if isinstance(layer, keras.layers.ZeroPadding3D):
                for before, after in layer.padding:
                    assert before == after, layer.name


def test_temporal_kernels_sit_on_branch2a_in_the_official_pattern(zoo):
    model = zoo("i3d_r101")
    _, temps = spec.temp_convs("i3d", 101)
    for s, stage in enumerate(temps, start=2):
        for i, t in enumerate(stage):
            assert model.get_layer(f"res{s}_{i}_branch2a").kernel_size == (1 + 2 * t, 1, 1)
            assert model.get_layer(f"res{s}_{i}_branch2b").kernel_size == (1, 3, 3)
            assert model.get_layer(f"res{s}_{i}_branch2b").strides == ((1, 2, 2) if i == 0 and s > 2 else (1, 1, 1))


def test_3x3x3_inflation_moves_the_temporal_kernel_to_branch2b():
    model = get_model("i3d_3x3x3_r50", include_top=False)
    assert model.get_layer("res2_0_branch2a").kernel_size == (1, 1, 1)
    assert model.get_layer("res2_0_branch2b").kernel_size == (3, 3, 3)
    assert model.get_layer("res2_0_branch2b_pad").padding == ((1, 1), (1, 1), (1, 1))
    assert model.get_layer("res3_1_branch2b").kernel_size == (1, 3, 3)


def test_batch_norms_use_the_official_momentum_and_epsilon(zoo):
    model = zoo("nl_i3d_r50")
    bns = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert bns and all(l.momentum == 0.9 and abs(l.epsilon - 1.0000001e-5) < 1e-12 for l in bns)
    block = model.get_layer("nonlocal_conv3_1")
    assert block.bn.momentum == 0.9 and abs(block.bn.epsilon - 1.0000001e-5) < 1e-12


def test_image_models_use_conv2d_with_the_same_names():
    model = get_model("nl_resnet50")
    assert model.input_shape == (None, 224, 224, 3)
    assert isinstance(model.get_layer("conv1"), keras.layers.Conv2D)
    assert model.get_layer("pool1").output.shape[1:3] == (55, 55)
    assert model.get_layer("res5_2_relu").output.shape[1:3] == (7, 7)
    assert [l.name for l in model.layers if l.name.startswith("nonlocal")] == ["nonlocal_conv4_4"]
    blobs = spec.official_blobs("c2d", 50, classes=1000)
    weights = _keras_weights(model)
    for blob, shape in blobs.items():
        keras_shape = spec.keras_shape(blob, shape)
        if len(keras_shape) == 5:  # 2D kernels drop the time axis
            keras_shape = keras_shape[1:]
        assert weights[spec.keras_path(blob)] == keras_shape, blob
