"""The recipes hold the official numbers and refuse bad ones by name."""

import argparse

import pytest

from keras_nonlocal.training import RECIPES
from keras_nonlocal.training import Recipe
from keras_nonlocal.training import add_recipe_arguments
from keras_nonlocal.training import get_recipe


def test_default_recipe_is_the_official_32x2_solver():
    r = get_recipe("kinetics400_32x2")
    assert (r.base_lr, r.momentum, r.nesterov, r.scale_momentum) == (0.01, 0.9, True, True)
    assert (r.weight_decay, r.bn_weight_decay) == (1e-4, 0.0)
    assert r.lr_step_sizes == (150000, 150000, 100000)
    assert r.lr_factors == (1.0, 0.1, 0.01, 0.001)
    assert r.lr_boundaries == (150000, 300000, 400000)
    assert (r.max_steps, r.batch_size, r.dropout_rate) == (400000, 64, 0.5)
    assert (r.num_frames, r.stride, r.crop_size, r.scale_range) == (32, 2, 224, (256, 320))
    assert (r.warmup, r.warmup_start_lr, r.warmup_steps) == (False, 0.001, 2000)
    assert (r.checkpoint_every, r.eval_every, r.test_views) == (10000, 20000, "10x3")
    assert r.zero_init_residual and not r.freeze_bn
    assert "run_i3d_nlnet_400k_32f.sh" in r.source


def test_affine_recipes_freeze_bn_with_a_quarter_of_the_batch_and_rate():
    for name in ("kinetics400_affine_32x4", "kinetics400_affine_128x1"):
        r = RECIPES[name]
        assert r.freeze_bn and r.batch_size == 16 and r.base_lr == 0.0025
    assert (RECIPES["kinetics400_affine_128x1"].num_frames, RECIPES["kinetics400_affine_128x1"].stride) == (128, 1)


def test_4gpu_recipe_halves_batch_and_rate_over_300k_steps():
    r = RECIPES["kinetics400_8x8_4gpu"]
    assert (r.batch_size, r.base_lr, r.max_steps, r.lr_boundaries) == (32, 0.005, 300000, (150000, 250000, 300000))


def test_scaled_lr_is_linear_in_the_batch():
    assert get_recipe("kinetics400_32x2").replace(batch_size=8).scaled_lr == pytest.approx(0.00125)


def test_from_args_overrides_only_given_flags():
    parser = argparse.ArgumentParser()
    add_recipe_arguments(parser)
    args = parser.parse_args(["--recipe", "kinetics400_8x8", "--max-steps", "10", "--lr-step-sizes", "4", "4",
                              "--lr-factors", "1", "0.1", "--nesterov", "false", "--warmup"])
    r = Recipe.from_args(args)
    assert (r.num_frames, r.stride) == (8, 8)
    assert (r.max_steps, r.lr_step_sizes, r.lr_factors, r.nesterov, r.warmup) == (10, (4, 4), (1.0, 0.1), False, True)
    assert r.base_lr == 0.01


def test_from_args_scale_lr_follows_the_batch():
    parser = argparse.ArgumentParser()
    add_recipe_arguments(parser)
    r = Recipe.from_args(parser.parse_args(["--batch-size", "16", "--scale-lr"]))
    assert r.base_lr == pytest.approx(0.0025)


@pytest.mark.parametrize("field, value", [
    ("base_lr", 0), ("batch_size", 0), ("momentum", 1.0), ("weight_decay", -1.0),
    ("dropout_rate", 1.0), ("lr_factors", (1.0,)), ("scale_range", (320, 256)), ("max_steps", 2.5),
])
def test_bad_values_are_refused_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        get_recipe("kinetics400_32x2").replace(**{field: value})


def test_unknown_recipe_and_field_are_refused():
    with pytest.raises(ValueError, match="Unknown recipe 'imagenet'"):
        get_recipe("imagenet")
    with pytest.raises(ValueError, match="lr_steps"):
        get_recipe("kinetics400_32x2").replace(lr_steps=(1,))


def test_recipe_round_trips_through_a_dict():
    r = get_recipe("kinetics400_8x8")
    assert Recipe.from_dict(r.to_dict()) == r
