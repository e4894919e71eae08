"""Placement presets and temporal kernel patterns are data, validated early."""

import pytest

from keras_nonlocal.applications import NonLocalResNet
from keras_nonlocal.applications import resolve_placement
from keras_nonlocal.applications.input_settings import INPUT_SETTINGS
from keras_nonlocal.applications.temporal import TEMPORAL_PATTERNS
from keras_nonlocal.applications.temporal import TemporalPattern
from tests.applications import official_spec as spec
from tests.applications.helpers import tiny_kwargs

R50, R101 = (3, 4, 6, 3), (3, 4, 23, 3)


@pytest.mark.parametrize(
    "placement,depths,expected",
    [
        (None, R50, {}),
        ("none", R50, {}),
        ({}, R50, {}),
        ("official", R50, {3: (1, 3), 4: (1, 3, 5)}),
        ("5_blocks", R50, {3: (1, 3), 4: (1, 3, 5)}),
        ("official", R101, {3: (1, 3), 4: (6, 13, 20)}),
        ("official_r101", R101, {3: (1, 3), 4: (6, 13, 20)}),
        ("5_blocks", R101, {3: (1, 3), 4: (6, 13, 20)}),
        ("official", (1, 2, 2, 1), {3: (1,), 4: (1,)}),
        ("10_blocks", R50, {3: (0, 1, 2, 3), 4: (0, 1, 2, 3, 4, 5)}),
        ("1_block", R50, {4: (4,)}),
        ("res2", R50, {2: (1,)}),
        ("res3", R50, {3: (2,)}),
        ("res4", R50, {4: (4,)}),
        ("res5", R50, {5: (1,)}),
        ({"res3": [0, 2], 5: 2}, R50, {3: (0, 2), 5: (2,)}),
        ({4: ("every", 3)}, R50, {4: (2, 5)}),
    ],
)
def test_placement_resolves_to_block_indices(placement, depths, expected):
    assert resolve_placement(placement, depths) == expected


def test_official_presets_agree_with_the_official_mod_rule():
    for depth, depths in ((50, R50), (101, R101)):
        expected = {s: tuple(v) for s, v in spec.nonlocal_positions(depth).items()}
        assert resolve_placement("official", depths) == expected


@pytest.mark.parametrize(
    "placement,message",
    [
        ({6: (0,)}, "names stage 6, but the network's stages are res2..res5"),
        ({1: (0,)}, "names stage 1"),
        ({"res4": (6,)}, r"residual block\(s\) \[6\] of res4, which has 6 blocks"),
        ({3: (-1,)}, r"\[-1\] of res3"),
        ({3: (1, 1)}, "repeats a block index"),
        ({3: "some"}, "must be a tuple of block indices"),
        ({"stage3": (0,)}, "keys must be stage numbers"),
        ("20_blocks", "`nonlocal_placement` must be None"),
        ([3, 4], "`nonlocal_placement` must be None"),
    ],
)
def test_invalid_placements_name_the_problem(placement, message):
    with pytest.raises(ValueError, match=message):
        resolve_placement(placement, R50)


def test_builder_rejects_an_invalid_placement():
    with pytest.raises(ValueError, match="res4, which has 1 blocks"):
        NonLocalResNet(**tiny_kwargs(nonlocal_placement={4: (1,)}))


def test_zero_blocks_is_the_baseline():
    model = NonLocalResNet(**tiny_kwargs(nonlocal_placement={}))
    assert not any(l.name.startswith("nonlocal") for l in model.layers)


@pytest.mark.parametrize("depth", [50, 101])
def test_i3d_pattern_reproduces_the_official_lists(depth):
    u, temps = spec.temp_convs("i3d", depth)
    pattern = TEMPORAL_PATTERNS["i3d"]
    assert pattern.stem_radius == u
    assert pattern.flags(spec.BLOCKS[depth]) == tuple(tuple(t) for t in temps)
    assert TEMPORAL_PATTERNS["c2d"].flags(spec.BLOCKS[depth]) == tuple(
        tuple(t) for t in spec.temp_convs("c2d", depth)[1])


def test_custom_temporal_pattern_as_a_dict():
    model = NonLocalResNet(**tiny_kwargs(
        temporal_pattern={"stem_radius": 1, "stages": [[0], [1], [0], [1]]}))
    assert model.get_layer("conv1").kernel_size == (3, 7, 7)
    assert model.get_layer("res3_0_branch2a").kernel_size == (3, 1, 1)
    assert model.get_layer("res4_0_branch2a").kernel_size == (1, 1, 1)
    with pytest.raises(ValueError, match="one cycle per stage"):
        TemporalPattern(stages=((1,),)).flags(R50)


def test_input_settings_minimum_frames():
    assert INPUT_SETTINGS["32x2"].min_frames(stem_radius=2) == 7
    assert INPUT_SETTINGS["32x2"].min_frames(stem_radius=0) == 7
    assert INPUT_SETTINGS["8x8"].min_frames() == 2
    assert INPUT_SETTINGS["32x2"].frames_after_stem(32, 2) == 8
    assert INPUT_SETTINGS["8x8"].frames_after_stem(8, 2) == 8
