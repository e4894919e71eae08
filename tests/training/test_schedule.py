"""The schedule is the official steps_with_relative_lrs policy plus warm-up."""

import keras
import numpy as np
import pytest

from keras_nonlocal.training import StepWarmupSchedule
from keras_nonlocal.training import get_recipe


def _lr(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_official_schedule_drops_tenfold_at_150k_and_300k():
    s = StepWarmupSchedule.from_recipe(get_recipe("kinetics400_32x2"))
    values = [_lr(s, step) for step in (0, 149999, 150000, 299999, 300000, 399999)]
    np.testing.assert_allclose(values, [0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001], rtol=1e-6)


def test_warmup_is_linear_from_start_lr_to_the_scheduled_rate():
    recipe = get_recipe("kinetics400_32x2").replace(warmup=True, warmup_steps=2000, warmup_start_lr=0.001)
    s = StepWarmupSchedule.from_recipe(recipe)
    # Official: lr = it * (lr_end - lr_start) / (last_it - 1) + lr_start
    for step in (0, 1, 999, 1999):
        assert _lr(s, step) == pytest.approx(step * (0.01 - 0.001) / 1999 + 0.001, rel=1e-5)
    assert _lr(s, 2000) == pytest.approx(0.01)


def test_schedule_serialises():
    s = StepWarmupSchedule(0.1, (10, 20), (1, 0.1, 0.01), warmup_steps=5, warmup_start_lr=0.01)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(s))
    assert isinstance(restored, StepWarmupSchedule)
    for step in (0, 3, 9, 10, 25):
        assert _lr(restored, step) == pytest.approx(_lr(s, step))


def test_bad_boundaries_and_factors_are_refused():
    with pytest.raises(ValueError, match="boundaries"):
        StepWarmupSchedule(0.1, (20, 10), (1, 0.1, 0.01))
    with pytest.raises(ValueError, match="factors"):
        StepWarmupSchedule(0.1, (10, 20), (1,))
