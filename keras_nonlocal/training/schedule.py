"""The official learning-rate schedule: constant stages, optional linear warm-up.

Official `lib/utils/lr_policy.py`, policy `steps_with_relative_lrs`: the rate is
`base_lr * factors[i]` during stage `i`, stages ending at the cumulative
`STEP_SIZES`. With warm-up on, steps `[0, warmup_steps)` go linearly from
`warmup_start_lr` to the scheduled rate at `warmup_steps`.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_nonlocal")
class StepWarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Piecewise-constant learning rate with an optional linear warm-up.

    Args:
        base_lr: rate of the first stage.
        boundaries: increasing steps at which a new stage starts
            (cumulative step sizes, e.g. `(150000, 300000, 400000)`).
        factors: rate of each stage relative to `base_lr`; one more than
            `boundaries`, or as many (the last stage then keeps the last
            factor).
        warmup_steps: length of the linear warm-up; 0 turns it off.
        warmup_start_lr: rate at step 0 of the warm-up.

    Example:

    >>> schedule = StepWarmupSchedule(0.01, boundaries=(100, 200),
    ...                               factors=(1, 0.1, 0.01))
    >>> [round(float(schedule(s)), 6) for s in (0, 99, 100, 250)]
    [0.01, 0.01, 0.001, 0.0001]
    >>> warm = StepWarmupSchedule(0.01, (100,), (1, 0.1), warmup_steps=11,
    ...                           warmup_start_lr=0.001)
    >>> [round(float(warm(s)), 6) for s in (0, 5, 10, 11)]
    [0.001, 0.0055, 0.01, 0.01]
    """

    def __init__(self, base_lr, boundaries, factors, warmup_steps=0, warmup_start_lr=0.0):
        super().__init__()
        boundaries = [int(b) for b in boundaries]
        factors = [float(f) for f in factors]
        if any(b2 <= b1 for b1, b2 in zip(boundaries, boundaries[1:])) or any(b < 1 for b in boundaries):
            raise ValueError(
                f"`boundaries` must be positive and increasing. Received: boundaries={boundaries}"
            )
        if len(factors) == len(boundaries) and factors:
            factors = factors + factors[-1:]
        if len(factors) != len(boundaries) + 1:
            raise ValueError(
                "`factors` must have one entry more than `boundaries`. Received: "
                f"boundaries={boundaries}, factors={factors}"
            )
        if not base_lr > 0:
            raise ValueError(f"`base_lr` must be > 0. Received: base_lr={base_lr!r}")
        if warmup_steps < 0:
            raise ValueError(f"`warmup_steps` must be >= 0. Received: warmup_steps={warmup_steps!r}")
        self.base_lr = float(base_lr)
        self.boundaries = boundaries
        self.factors = factors
        self.warmup_steps = int(warmup_steps)
        self.warmup_start_lr = float(warmup_start_lr)

    def _stage_lr(self, step):
        lr = ops.full_like(step, self.base_lr * self.factors[0])
        for boundary, factor in zip(self.boundaries, self.factors[1:]):
            lr = ops.where(step >= boundary, self.base_lr * factor, lr)
        return lr

    def __call__(self, step):
        step = ops.cast(step, "float32")
        lr = self._stage_lr(step)
        if self.warmup_steps > 0:
            # Official: lr = it * (lr_end - lr_start) / (last_it - 1) + lr_start.
            end = self._stage_lr(ops.convert_to_tensor(float(self.warmup_steps)))
            span = max(self.warmup_steps - 1, 1)
            warm = step * (end - self.warmup_start_lr) / span + self.warmup_start_lr
            lr = ops.where(step < self.warmup_steps, warm, lr)
        return lr

    def get_config(self):
        return {
            "base_lr": self.base_lr,
            "boundaries": list(self.boundaries),
            "factors": list(self.factors),
            "warmup_steps": self.warmup_steps,
            "warmup_start_lr": self.warmup_start_lr,
        }

    @classmethod
    def from_recipe(cls, recipe):
        """The schedule of a `Recipe`.

        Args:
            recipe: a `keras_nonlocal.training.Recipe`.

        Returns:
            A `StepWarmupSchedule`.

        Example:

        >>> from keras_nonlocal.training import get_recipe
        >>> schedule = StepWarmupSchedule.from_recipe(get_recipe("kinetics400_32x2"))
        >>> schedule.boundaries
        [150000, 300000, 400000]
        """
        return cls(
            base_lr=recipe.base_lr,
            boundaries=recipe.lr_boundaries,
            factors=recipe.lr_factors,
            warmup_steps=recipe.warmup_steps if recipe.warmup else 0,
            warmup_start_lr=recipe.warmup_start_lr,
        )
