"""SGD the way the official solver does it: L2 in the gradient, scaled momentum.

Official `lib/models/model_builder_video.py` (`add_parameter_update_ops`): for
every trainable blob, `grad += wd * param` with `wd = SOLVER.WEIGHT_DECAY_BN`
for blobs whose name contains `_bn` (BatchNorm and affine scale/shift) and
`SOLVER.WEIGHT_DECAY` for every other blob — convolution and FC weights *and*
biases (the non-local convolutions' and `pred`'s). Then Caffe2's
`MomentumSGDUpdate` with Nesterov. The Kinetics configs set
`WEIGHT_DECAY: 0.0001` and `WEIGHT_DECAY_BN: 0.0`: BN gamma/beta are **not**
decayed.

With `SOLVER.SCALE_MOMENTUM` the momentum buffer (which holds `lr * grad`
terms in Caffe2) is multiplied by `new_lr / old_lr` whenever the rate
changes. That is exactly the buffer `v = m * v + g` kept free of the rate and
multiplied by it at update time, which is what `scale_momentum=True` does here.
"""

import re

import keras
from keras import ops

# Official rule: a blob whose name contains "_bn" gets WEIGHT_DECAY_BN. Keras
# paths are "<layer>/<weight>": backbone BNs are "res2_0_branch2a_bn/gamma",
# the non-local block's BN is "nonlocal_conv3_0/bn/gamma".
BN_VARIABLE_PATTERN = r"(^|[/_])bn/(gamma|beta)$"


@keras.saving.register_keras_serializable(package="keras_nonlocal")
class MomentumSGD(keras.optimizers.Optimizer):
    """SGD with momentum, L2 weight decay in the gradient, official BN rule.

    Update, for a variable `w` with gradient `g` and learning rate `lr`:

    ```
    g = g + decay * w          # decay = weight_decay, or bn_weight_decay for BN
    v = momentum * v + g       # scale_momentum=True (official)
    w = w - lr * (g + momentum * v)   if nesterov else   w - lr * v
    ```

    With `scale_momentum=False` the buffer holds `lr * g` instead (Keras'
    `SGD`), so a drop of the rate takes effect on the momentum gradually.

    Args:
        learning_rate: float or `LearningRateSchedule`.
        momentum: momentum in [0, 1).
        nesterov: Nesterov momentum.
        weight_decay: L2 coefficient of every non-BN variable (added to the
            gradient, so momentum applies to it, as in the official solver).
        bn_weight_decay: L2 coefficient of BatchNorm gamma/beta.
        scale_momentum: keep the momentum buffer independent of the rate.
        bn_pattern: regular expression on `variable.path` that marks BN
            scale/shift variables.
        name: optimizer name.
        **kwargs: other `keras.optimizers.Optimizer` arguments
            (`clipnorm`, `global_clipnorm`, `loss_scale_factor`, ...). Keras'
            own decoupled weight decay is not used: `weight_decay` here is
            the L2 term of the gradient, and the attribute of that name
            gives it back (also as `l2`; `bn_l2` for `bn_weight_decay`).

    Example:

    >>> optimizer = MomentumSGD(learning_rate=0.1, momentum=0.9,
    ...                         weight_decay=1e-4)
    >>> w = keras.Variable([1.0, 2.0], name="kernel")
    >>> optimizer.apply([keras.ops.zeros((2,))], [w])
    >>> [round(float(x), 6) for x in keras.ops.convert_to_numpy(w)]  # only the decay moved it
    [0.999981, 1.999962]
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.9,
        nesterov=True,
        weight_decay=1e-4,
        bn_weight_decay=0.0,
        scale_momentum=True,
        bn_pattern=BN_VARIABLE_PATTERN,
        name="momentum_sgd",
        **kwargs,
    ):
        if kwargs.get("weight_decay_decoupled") is not None:
            raise ValueError("`weight_decay_decoupled` is not supported.")
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum < 1:
            raise ValueError(f"`momentum` must be a float in [0, 1). Received: momentum={momentum!r}")
        for arg, value in (("weight_decay", weight_decay), ("bn_weight_decay", bn_weight_decay)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"`{arg}` must be a number >= 0. Received: {arg}={value!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.l2 = float(weight_decay)
        self.bn_l2 = float(bn_weight_decay)
        self.scale_momentum = bool(scale_momentum)
        self.bn_pattern = bn_pattern
        self._bn_regex = re.compile(bn_pattern)

    @property
    def weight_decay(self):
        """L2 coefficient of every non-BN variable (`weight_decay=`), added to the gradient."""
        return self.l2

    @weight_decay.setter
    def weight_decay(self, value):
        # Keras' base constructor stores its own (decoupled) decay here, which
        # this optimizer does not take: only its `None` is accepted.
        if value is not None:
            raise AttributeError(
                "Set `l2` to change MomentumSGD's L2 coefficient; Keras' decoupled "
                f"`weight_decay` is not supported. Received: weight_decay={value!r}"
            )

    def _apply_weight_decay(self, variables):
        # Keras' optimizers read `weight_decay` as a decoupled decay and apply
        # it in `apply` before the update; here it is the L2 term that
        # `update_step` adds to the gradient, so Keras' pass must not run.
        # Keras has no public switch for this (excluding every variable with
        # `exclude_from_weight_decay` breaks the torch backend, which cannot
        # decay an empty list). If an upgrade renames the method, the decay
        # is applied twice and tests/training/test_optimizer.py fails saying so.
        return

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Not supported: BatchNorm variables get `bn_weight_decay` instead.

        Raises:
            ValueError: always. Choose which variables are BatchNorm
                scale/shift with `bn_pattern`, and their coefficient with
                `bn_weight_decay`.
        """
        raise ValueError(
            "MomentumSGD adds its L2 decay to the gradient: set `bn_weight_decay` for the "
            "variables that `bn_pattern` matches (BatchNorm gamma/beta) instead of "
            "`exclude_from_weight_decay`."
        )

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        # Decided here, on the Keras variables: on TensorFlow, `update_step`
        # receives the backend variables, which do not carry the layer path
        # (keras-team/keras#21793). `update_step` finds a variable's position
        # with `_get_variable_index`, the lookup that Keras' own optimizers
        # and its custom-optimizer example use (Keras has no public one);
        # tests/training/test_optimizer.py fails by name if it changes.
        self._bn_indices = {i for i, v in enumerate(variables) if self.is_bn_variable(v)}
        self.momentums = []
        if self.momentum:
            self.momentums = self.add_optimizer_variables(variables, "momentum")

    def is_bn_variable(self, variable):
        """Whether `variable` gets `bn_weight_decay` (matched on its path).

        Args:
            variable: a `keras.Variable`.

        Returns:
            A bool.
        """
        path = getattr(variable, "path", None) or variable.name
        return bool(self._bn_regex.search(path))

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        index = self._get_variable_index(variable)
        decay = self.bn_l2 if index in self._bn_indices else self.l2
        if decay:
            gradient = ops.add(gradient, ops.multiply(variable, ops.cast(decay, variable.dtype)))
        if not self.momentum:
            self.assign_sub(variable, ops.multiply(gradient, lr))
            return
        m = self.momentums[index]
        mu = ops.cast(self.momentum, variable.dtype)
        if self.scale_momentum:
            self.assign(m, ops.add(ops.multiply(m, mu), gradient))
            step = ops.add(gradient, ops.multiply(m, mu)) if self.nesterov else m
            self.assign_sub(variable, ops.multiply(step, lr))
        else:
            self.assign(m, ops.subtract(ops.multiply(m, mu), ops.multiply(gradient, lr)))
            if self.nesterov:
                self.assign_add(
                    variable, ops.subtract(ops.multiply(m, mu), ops.multiply(gradient, lr))
                )
            else:
                self.assign_add(variable, m)

    def get_config(self):
        config = super().get_config()
        config.pop("weight_decay", None)
        config.update(
            {
                "momentum": self.momentum,
                "nesterov": self.nesterov,
                "weight_decay": self.l2,
                "bn_weight_decay": self.bn_l2,
                "scale_momentum": self.scale_momentum,
                "bn_pattern": self.bn_pattern,
            }
        )
        return config


def build_optimizer(recipe, learning_rate=None, **kwargs):
    """The optimizer of a recipe.

    Args:
        recipe: a `keras_nonlocal.training.Recipe`.
        learning_rate: overrides the recipe's schedule (a float or a
            `LearningRateSchedule`); by default
            `StepWarmupSchedule.from_recipe(recipe)`.
        **kwargs: passed to `MomentumSGD`.

    Returns:
        A `MomentumSGD`.

    Example:

    >>> from keras_nonlocal.training import get_recipe
    >>> opt = build_optimizer(get_recipe("kinetics400_32x2"))
    >>> opt.momentum, opt.nesterov, opt.l2, opt.bn_l2
    (0.9, True, 0.0001, 0.0)
    """
    from keras_nonlocal.training.schedule import StepWarmupSchedule

    if learning_rate is None:
        learning_rate = StepWarmupSchedule.from_recipe(recipe)
    return MomentumSGD(
        learning_rate=learning_rate,
        momentum=recipe.momentum,
        nesterov=recipe.nesterov,
        weight_decay=recipe.weight_decay,
        bn_weight_decay=recipe.bn_weight_decay,
        scale_momentum=recipe.scale_momentum,
        **kwargs,
    )
