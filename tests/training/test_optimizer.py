"""SGD as the official solver: L2 in the gradient, BN undecayed, scaled momentum."""

import keras
import numpy as np
import pytest

from keras_nonlocal.training import MomentumSGD
from keras_nonlocal.training import build_optimizer
from keras_nonlocal.training import get_recipe


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_weight_decay_applies_to_weights_and_biases_but_not_bn():
    layer_in = keras.Input((4,))
    x = keras.layers.Dense(3, name="pred")(layer_in)
    x = keras.layers.BatchNormalization(name="res2_0_branch2a_bn", gamma_initializer="ones",
                                        beta_initializer="ones")(x)
    model = keras.Model(layer_in, x)
    model.get_layer("pred").bias.assign(np.ones(3, "float32"))
    opt = MomentumSGD(learning_rate=1.0, momentum=0.0, weight_decay=0.1, bn_weight_decay=0.0)
    before = [_np(v).copy() for v in model.trainable_variables]
    opt.apply([keras.ops.zeros_like(v) for v in model.trainable_variables], model.trainable_variables)
    after = {v.path: _np(v) for v in model.trainable_variables}
    np.testing.assert_allclose(
        after["pred/kernel"], before[0] * 0.9, rtol=1e-6,
        err_msg="not w * (1 - lr * wd): if 0.81, Keras applied its decoupled weight decay too "
                "(MomentumSGD._apply_weight_decay no longer overrides Keras' private method)",
    )
    np.testing.assert_allclose(after["pred/bias"], before[1] * 0.9, rtol=1e-6)
    np.testing.assert_array_equal(after["res2_0_branch2a_bn/gamma"], before[2])
    np.testing.assert_array_equal(after["res2_0_branch2a_bn/beta"], before[3])


@pytest.mark.parametrize("path, is_bn", [
    ("res_conv1_bn/gamma", True), ("res3_1_branch2c_bn/beta", True), ("nonlocal_conv3_1/bn/gamma", True),
    ("conv1/kernel", False), ("nonlocal_conv3_1/out/bias", False), ("pred/kernel", False),
])
def test_bn_variables_are_recognised_by_path(path, is_bn):
    class FakeVariable:
        pass

    v = FakeVariable()
    v.path = path
    assert MomentumSGD().is_bn_variable(v) is is_bn


def _caffe2_momentum_sgd(w, grads, lrs, mu, nesterov, scale_momentum):
    """Caffe2's MomentumSGDUpdate (V holds lr * grad) with SCALE_MOMENTUM."""
    v = np.zeros_like(w)
    previous_lr = lrs[0]
    for g, lr in zip(grads, lrs):
        if scale_momentum and lr != previous_lr:
            v = v * (lr / previous_lr)
        previous_lr = lr
        v_new = mu * v + lr * g
        w = w - ((1 + mu) * v_new - mu * v if nesterov else v_new)
        v = v_new
    return w


@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("scale_momentum", [True, False])
def test_updates_match_caffe2_momentum_sgd_across_a_rate_drop(nesterov, scale_momentum):
    rng = np.random.default_rng(0)
    grads = rng.standard_normal((6, 5)).astype("float32")
    lrs = [0.1, 0.1, 0.1, 0.01, 0.01, 0.01]
    w0 = rng.standard_normal(5).astype("float32")
    # Keras: steps <= 2 get the first value, so steps 0-2 at 0.1 and 3-5 at 0.01.
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([2], [0.1, 0.01])
    opt = MomentumSGD(schedule, momentum=0.9, nesterov=nesterov, weight_decay=0.0,
                      scale_momentum=scale_momentum)
    w = keras.Variable(w0, name="kernel")
    for g in grads:
        opt.apply([keras.ops.convert_to_tensor(g)], [w])
    expected = _caffe2_momentum_sgd(w0.astype("float64"), grads, lrs, 0.9, nesterov, scale_momentum)
    np.testing.assert_allclose(_np(w), expected, rtol=1e-5, atol=1e-6)


def test_recipe_optimizer_round_trips_through_config():
    opt = build_optimizer(get_recipe("kinetics400_32x2"))
    restored = MomentumSGD.from_config(opt.get_config())
    assert (restored.momentum, restored.nesterov, restored.l2, restored.bn_l2, restored.scale_momentum) == (
        0.9, True, 1e-4, 0.0, True)


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="momentum"):
        MomentumSGD(momentum=1.5)
    with pytest.raises(ValueError, match="bn_weight_decay"):
        MomentumSGD(bn_weight_decay=-1)


def test_weight_decay_attribute_is_the_l2_coefficient_applied_once():
    opt = MomentumSGD(learning_rate=1.0, momentum=0.0, weight_decay=1e-4)
    assert opt.weight_decay == 1e-4 == opt.l2
    assert build_optimizer(get_recipe("kinetics400_32x2")).weight_decay == 1e-4
    assert MomentumSGD.from_config(opt.get_config()).weight_decay == 1e-4
    # Keras' decoupled decay reads the same attribute: it must not act as well.
    w = keras.Variable(np.full(3, 2.0, "float32"), name="kernel")
    opt.apply([keras.ops.zeros((3,))], [w])
    np.testing.assert_allclose(_np(w), np.full(3, 2.0 - 2e-4), rtol=1e-7)
    with pytest.raises(ValueError, match="bn_weight_decay"):
        opt.exclude_from_weight_decay(var_names=["bias"])
    with pytest.raises(AttributeError, match="l2"):
        opt.weight_decay = 0.5


def test_keras_private_variable_index_still_works():
    # MomentumSGD.update_step finds a variable's slot with Keras' private
    # `_get_variable_index` (no public lookup; keras-team/keras#21793): if an
    # upgrade removes or changes it, this says so by name.
    opt = MomentumSGD()
    variables = [keras.Variable(np.zeros(2, "float32"), name=f"v{i}") for i in range(3)]
    assert hasattr(opt, "_get_variable_index"), (
        "keras.optimizers.Optimizer._get_variable_index is gone: update "
        "keras_nonlocal/training/optimizer.py (MomentumSGD.update_step)"
    )
    opt.build(variables)
    assert [opt._get_variable_index(v) for v in variables] == [0, 1, 2], (
        "keras.optimizers.Optimizer._get_variable_index no longer gives the position in build(): "
        "update keras_nonlocal/training/optimizer.py (MomentumSGD.update_step)"
    )
