"""`train` in process: tiny models, a few steps, every output in place."""

import csv
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nonlocal.training import build_model
from keras_nonlocal.training import read_events
from keras_nonlocal.training import train
from tests.training import helpers


def _dataset(n=16, batch=4):
    clips, labels = helpers.learnable_clips(n)
    return tf.data.Dataset.from_tensor_slices((clips, labels)).batch(batch)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    recipe = helpers.tiny_recipe(max_steps=12, checkpoint_every=4, eval_every=8)
    run = train("nl_i3d_r50", _dataset(), _dataset(8), recipe=recipe, classes=3, output_dir=str(out),
                verbose=0, model_kwargs=helpers.TINY_NL_MODEL_KWARGS)
    return run, out


def test_training_runs_max_steps_and_the_loss_falls(trained):
    run, _ = trained
    assert (run.initial_step, run.final_step) == (0, 12)
    losses = run.history.history["loss"]
    assert len(losses) == 3 and losses[-1] < losses[0]


def test_outputs_are_written(trained):
    _, out = trained
    for name in ("recipe.json", "events.jsonl", "training_log.csv", "final.weights.h5", "backup"):
        assert (out / name).exists(), name
    assert sorted(os.listdir(out / "checkpoints")) == [f"ckpt-000{i}.weights.h5" for i in (1, 2, 3)]
    assert any(files for _, _, files in os.walk(out / "tensorboard"))


def test_csv_log_records_learning_rate_and_validation_every_eval_period(trained):
    _, out = trained
    with open(out / "training_log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["learning_rate"]) for r in rows] == pytest.approx([0.05] * 3)
    validated = [r["epoch"] for r in rows if r.get("val_loss") not in (None, "", "NA")]
    assert validated == ["1"]  # eval_every=8 steps = every 2nd period of 4


def test_events_record_the_global_step_per_period(trained):
    _, out = trained
    steps = [e["step"] for e in read_events(out / "events.jsonl") if e["event"] == "epoch_end"]
    assert steps == [4, 8, 12]


def test_rerunning_a_finished_run_does_not_train_again(trained, tmp_path):
    _, out = trained
    recipe = helpers.tiny_recipe(max_steps=12, checkpoint_every=4, eval_every=8)
    run = train("nl_i3d_r50", _dataset(), recipe=recipe, classes=3, output_dir=str(out), verbose=0,
                model_kwargs=helpers.TINY_NL_MODEL_KWARGS)
    assert (run.initial_step, run.final_step) == (12, 12)


def test_fine_tuning_puts_a_new_head_on_trained_weights(trained, tmp_path):
    run, out = trained
    recipe = helpers.tiny_recipe()
    model = build_model("nl_i3d_r50", classes=7, recipe=recipe, weights=str(out / "final.weights.h5"),
                        **helpers.TINY_NL_MODEL_KWARGS)
    assert model.output_shape == (None, 7)
    np.testing.assert_array_equal(model.get_layer("conv1").get_weights()[0],
                                  run.model.get_layer("conv1").get_weights()[0])


def test_preset_weights_with_other_classes_get_a_new_head(monkeypatch):
    calls = []

    def fake_load_weights(model, weights, **kwargs):
        calls.append((weights, kwargs.get("include_top")))
        return model

    import keras_nonlocal.weights

    monkeypatch.setattr(keras_nonlocal.weights, "load_weights", fake_load_weights)
    model = build_model("i3d_r50", classes=10, recipe=helpers.tiny_recipe(), weights="kinetics400",
                        **helpers.TINY_MODEL_KWARGS)
    assert calls == [("kinetics400", False)]
    assert model.output_shape == (None, 10)
    assert model.get_layer("pred").units == 10
    assert model.get_layer("pool5_dropout").rate == 0.5


def _batch_norms(model):
    return [l for l in model._flatten_layers(include_self=False)
            if isinstance(l, keras.layers.BatchNormalization)]


def _values(variables):
    return [keras.ops.convert_to_numpy(v).copy() for v in variables]


def test_freeze_bn_trains_gamma_and_beta_and_keeps_the_statistics():
    # The official AffineNd: `_s` and `_b` are trained, only the statistics are fixed.
    from keras_nonlocal.training import compile_model

    recipe = helpers.tiny_recipe(freeze_bn=True, zero_init_residual=False, dropout_rate=0.0)
    model = build_model("nl_i3d_r50", classes=3, recipe=recipe, **helpers.TINY_NL_MODEL_KWARGS)
    bns = _batch_norms(model)
    assert len(bns) > 10 and any("nonlocal" in bn.path for bn in bns)
    assert all(bn.trainable for bn in bns)
    trainable = {id(v) for v in model.trainable_weights}
    assert all(id(bn.gamma) in trainable and id(bn.beta) in trainable for bn in bns)

    compile_model(model, recipe)
    clips, labels = helpers.learnable_clips(4)
    # Statistics that a batch-statistics BN would move: the model's BNs start at 0 / 1.
    stats = _values([v for bn in bns for v in (bn.moving_mean, bn.moving_variance)])
    affine = _values([v for bn in bns for v in (bn.gamma, bn.beta)])
    model.train_on_batch(clips, labels)

    np.testing.assert_array_equal(
        np.concatenate([a.ravel() for a in _values(
            [v for bn in bns for v in (bn.moving_mean, bn.moving_variance)])]),
        np.concatenate([a.ravel() for a in stats]),
    )
    moved = [not np.array_equal(before, after) for before, after in zip(
        affine, _values([v for bn in bns for v in (bn.gamma, bn.beta)]))]
    assert all(moved), [v.path for v, m in zip(
        [v for bn in bns for v in (bn.gamma, bn.beta)], moved) if not m]


def test_frozen_bn_model_computes_the_same_in_training_and_inference():
    recipe = helpers.tiny_recipe(freeze_bn=True, dropout_rate=0.0)
    model = build_model("nl_i3d_r50", classes=3, recipe=recipe, **helpers.TINY_NL_MODEL_KWARGS)
    for bn in _batch_norms(model):
        bn.moving_mean.assign(np.linspace(-1, 1, bn.moving_mean.shape[0]))
        bn.moving_variance.assign(np.linspace(0.5, 2, bn.moving_variance.shape[0]))
    clips, _ = helpers.learnable_clips(2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(clips, training=True)),
        keras.ops.convert_to_numpy(model(clips, training=False)),
        rtol=1e-5, atol=1e-6,
    )


def test_freeze_batch_norm_counts_and_is_idempotent():
    from keras_nonlocal.training import freeze_batch_norm

    inputs = keras.Input((4,))
    bn = keras.layers.BatchNormalization()
    model = keras.Model(inputs, bn(inputs))
    assert freeze_batch_norm(model) == 1
    assert freeze_batch_norm(model) == 1
    x = np.random.default_rng(0).normal(3.0, 2.0, (8, 4)).astype("float32")
    # `training=True`: inference mode all the same, moving statistics unchanged.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn(x, training=True)), x / np.sqrt(1 + 1e-3), rtol=1e-6)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(bn.moving_mean), np.zeros(4))


def test_mixed_precision_trains_in_low_precision_and_restores_the_policy(tmp_path):
    # bfloat16 here: the CPU has no float16 MaxPool3D kernel (mixed_float16 is for GPUs).
    recipe = helpers.tiny_recipe(max_steps=2, checkpoint_every=2)
    run = train("i3d_r50", _dataset(8), recipe=recipe, classes=3, output_dir=str(tmp_path), verbose=0,
                mixed_precision="mixed_bfloat16", model_kwargs=helpers.TINY_MODEL_KWARGS)
    assert run.model.get_layer("conv1").compute_dtype == "bfloat16"
    assert run.model.get_layer("conv1").kernel.dtype == "float32"
    assert run.model.output.dtype == "float32"
    assert np.isfinite(run.history.history["loss"]).all()
    assert keras.config.dtype_policy().name == "float32"


def test_mixed_float16_compiles_with_loss_scaling():
    from keras_nonlocal.training import compile_model

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build_model("i3d_r50", classes=3, recipe=helpers.tiny_recipe(), **helpers.TINY_MODEL_KWARGS)
        compile_model(model, helpers.tiny_recipe())
    finally:
        keras.config.set_dtype_policy(previous)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.get_layer("conv1").compute_dtype == "float16"


def test_bad_mixed_precision_value_is_refused(tmp_path):
    with pytest.raises(ValueError, match="mixed_precision"):
        train("i3d_r50", _dataset(), recipe=helpers.tiny_recipe(), classes=3, output_dir=str(tmp_path),
              mixed_precision="float8")


def test_zoo_name_without_classes_is_refused(tmp_path):
    with pytest.raises(ValueError, match="classes"):
        train("i3d_r50", _dataset(), recipe=helpers.tiny_recipe(), output_dir=str(tmp_path))


def test_unknown_model_name_is_refused():
    with pytest.raises(ValueError, match="Unknown model name 'i4d'"):
        build_model("i4d", classes=3, recipe=helpers.tiny_recipe())


def test_keras_private_symbolic_build_that_the_multi_worker_model_overrides_is_still_there():
    # _MultiWorkerModel overrides Keras' private `_maybe_symbolic_build`
    # (keras-team/keras#20585) and calls `_symbolic_build`: an upgrade that
    # renames or reshapes either must fail here, by name, not in a cluster.
    import inspect

    from keras_nonlocal.training.trainer import _MultiWorkerModel

    where = "keras_nonlocal.training.trainer._MultiWorkerModel (workaround for keras-team/keras#20585)"
    for name in ("_maybe_symbolic_build", "_symbolic_build"):
        assert callable(getattr(keras.Model, name, None)), (
            f"keras {keras.__version__} has no keras.Model.{name}: update {where}"
        )
    ours = inspect.signature(_MultiWorkerModel._maybe_symbolic_build).parameters
    theirs = inspect.signature(keras.Model._maybe_symbolic_build).parameters
    assert list(theirs) == list(ours), (
        f"keras {keras.__version__}: Model._maybe_symbolic_build{inspect.signature(keras.Model._maybe_symbolic_build)} "
        f"changed: update {where}"
    )
    assert "data_batch" in inspect.signature(keras.Model._symbolic_build).parameters, (
        f"keras {keras.__version__}: Model._symbolic_build takes no `data_batch`: update {where}"
    )


def test_freeze_batch_norm_refuses_a_layer_whose_call_takes_no_training_argument():
    from keras_nonlocal.training import freeze_batch_norm

    class NoTraining(keras.layers.BatchNormalization):
        def call(self, inputs):
            return inputs

    inputs = keras.Input((3,))
    model = keras.Model(inputs, NoTraining(name="my_bn")(inputs))
    with pytest.raises(TypeError, match="'my_bn'.*no `training` argument"):
        freeze_batch_norm(model)
