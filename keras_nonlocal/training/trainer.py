"""`train`: a zoo model, a recipe, a strategy, and a folder of results.

The loop is `keras.Model.fit` with one "epoch" per checkpoint period
(`recipe.checkpoint_every` steps), so that every backup falls on an epoch
boundary: `keras.callbacks.BackupAndRestore` then restores the weights, the
optimizer (its step counter drives the learning-rate schedule) and the epoch,
and a killed run continues from the last backup's step, not from 0.

Output folder (written by the chief; other workers keep their own backups
under `workers/worker_<i>/`):

```
output_dir/
  recipe.json            the recipe used
  backup/                BackupAndRestore state (latest.weights.h5, metadata)
  checkpoints/           ckpt-<epoch>.weights.h5 every checkpoint period
  tensorboard/           TensorBoard logs (loss, accuracy, learning rate)
  training_log.csv       one row per checkpoint period (CSVLogger)
  events.jsonl           train_begin / epoch_end events with the global step
  final.weights.h5       the trained weights
```
"""

import dataclasses
import json
import os

import keras

from keras_nonlocal.training import callbacks as callbacks_lib
from keras_nonlocal.training.model_factory import build_model
from keras_nonlocal.training.model_factory import freeze_batch_norm
from keras_nonlocal.training.optimizer import build_optimizer
from keras_nonlocal.training.recipe import Recipe
from keras_nonlocal.training.recipe import get_recipe
from keras_nonlocal.training.strategy import get_strategy
from keras_nonlocal.training.strategy import worker_info

MIXED_PRECISION_POLICIES = ("mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass
class TrainingRun:
    """What `train` returns.

    Args:
        model: the trained `keras.Model`.
        history: the `keras.callbacks.History` of this `fit` call.
        output_dir: where this process wrote its outputs.
        initial_step: the global step training started from (non-zero when
            a backup was restored).
        final_step: the global step at the end.
    """

    model: object
    history: object
    output_dir: str
    initial_step: int
    final_step: int


def _policy(mixed_precision):
    if mixed_precision in (None, False, "", "float32"):
        return None
    if mixed_precision is True:
        return "mixed_float16"
    if mixed_precision not in MIXED_PRECISION_POLICIES:
        raise ValueError(
            f"`mixed_precision` must be a bool or one of {MIXED_PRECISION_POLICIES}. "
            f"Received: mixed_precision={mixed_precision!r}"
        )
    return mixed_precision


def compile_model(model, recipe, logits=False, optimizer=None):
    """Compiles a model with the recipe's optimizer, loss and top-1/top-5.

    Args:
        model: a `keras.Model` ending in class scores.
        recipe: a `Recipe`.
        logits: the model outputs logits.
        optimizer: overrides `build_optimizer(recipe)`.

    Returns:
        The model.
    """
    classes = model.output_shape[-1]
    model.compile(
        optimizer=optimizer or build_optimizer(recipe),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=logits),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="top1"),
            keras.metrics.SparseTopKCategoricalAccuracy(k=min(5, classes), name="top5"),
        ],
    )
    return model


class _MultiWorkerModel(keras.Model):
    """The same functional graph, trainable under `MultiWorkerMirroredStrategy`.

    Two spots of Keras' TensorFlow trainer fail across workers:

    - `fit` builds the loss and metrics from a first batch that it averages
      over replicas with `strategy.reduce` ("unsupported type PerReplica");
      here they are built from the dataset's `element_spec` instead.
    - each step's logs are averaged with `strategy.reduce("MEAN", v, axis=0)`,
      which rejects scalars; every log gets a leading axis of 1, so the same
      reduction becomes a plain mean over the workers.

    The first needs Keras' private `_maybe_symbolic_build` overridden
    (keras-team/keras#20585; Keras has no public hook there);
    `tests/training/test_trainer.py` fails, naming this class, when an
    upgrade changes the method or the `_symbolic_build` it calls.
    """

    def train_step(self, data):
        return {k: keras.ops.expand_dims(v, 0) for k, v in super().train_step(data).items()}

    def test_step(self, data):
        return {k: keras.ops.expand_dims(v, 0) for k, v in super().test_step(data).items()}

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=self._data_spec)
            if self.optimizer is not None and not self.optimizer.built:
                self.optimizer.build(self.trainable_variables)


def _is_multi_worker(strategy):
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def _for_multi_worker(model, train_ds):
    wrapped = _MultiWorkerModel(inputs=model.inputs, outputs=model.outputs, name=model.name)
    wrapped._data_spec = train_ds.element_spec
    return wrapped


def _callbacks(output_dir, recipe, chief, extra):
    os.makedirs(output_dir, exist_ok=True)
    result = [
        keras.callbacks.BackupAndRestore(
            backup_dir=os.path.join(output_dir, "backup"),
            save_freq="epoch",  # one epoch = recipe.checkpoint_every steps
            double_checkpoint=True,  # a kill during a save falls back to the previous one
            delete_checkpoint=False,  # re-running a finished run does not retrain
        ),
        callbacks_lib.StepRecorder(os.path.join(output_dir, "events.jsonl")),
        callbacks_lib.StopAtStep(recipe.max_steps),
        callbacks_lib.LearningRateLogger(),
    ]
    if chief:
        result += [
            keras.callbacks.ModelCheckpoint(
                os.path.join(output_dir, "checkpoints", "ckpt-{epoch:04d}.weights.h5"),
                save_weights_only=True,
            ),
            keras.callbacks.CSVLogger(os.path.join(output_dir, "training_log.csv"), append=True),
            keras.callbacks.TensorBoard(os.path.join(output_dir, "tensorboard"), update_freq="epoch"),
        ]
    return result + list(extra or [])


def train(
    model,
    train_ds,
    val_ds=None,
    recipe=None,
    strategy="default",
    output_dir="results/train",
    classes=None,
    weights=None,
    mixed_precision=False,
    logits=False,
    validation_steps=None,
    callbacks=None,
    verbose="auto",
    model_kwargs=None,
):
    """Trains a zoo model with an official recipe; resumes a killed run.

    Args:
        model: a zoo name (e.g. `"nl_i3d_r50"`, built inside the strategy's
            scope with `build_model`), a `keras.Model`, or a function
            returning one (called inside the scope).
        train_ds: a `tf.data.Dataset` of `(clips, labels)` batched by the
            global batch size (`recipe.batch_size`), e.g.
            `keras_nonlocal.data.train_dataset(...)`. It is repeated.
        val_ds: optional validation dataset of `(clips, labels)`, run every
            `recipe.eval_every` steps.
        recipe: a `Recipe` or a recipe name; default `"kinetics400_32x2"`.
        strategy: a `tf.distribute.Strategy`, or `"default"`, `"mirrored"`,
            `"multi_worker"` (see `get_strategy`).
        output_dir: results folder (see the module docstring).
        classes: number of classes (required with a zoo name).
        weights: pretrained weights for a zoo name: `None`, `"kinetics400"`,
            `"imagenet"` or a file; a new head is put on when the classes
            differ.
        mixed_precision: `True` (`"mixed_float16"`) or `"mixed_bfloat16"`;
            the global dtype policy is restored afterwards.
        logits: build the model with logits outputs (zoo names only).
        validation_steps: batches per validation (default: the whole
            `val_ds`).
        callbacks: extra Keras callbacks.
        verbose: `fit` verbosity (`"auto"`: progress bars on the chief,
            one line per epoch elsewhere).
        model_kwargs: extra `NonLocalResNet` arguments for a zoo name.

    Returns:
        A `TrainingRun`.

    Example:

    >>> import numpy as np, tensorflow as tf
    >>> recipe = get_recipe("kinetics400_8x8").replace(
    ...     num_frames=4, crop_size=32, batch_size=2, max_steps=4,
    ...     checkpoint_every=2, eval_every=2)
    >>> clips = np.random.rand(4, 4, 32, 32, 3).astype("float32")
    >>> ds = tf.data.Dataset.from_tensor_slices((clips, np.arange(4) % 3)).batch(2)
    >>> import tempfile
    >>> run = train("i3d_r50", ds, recipe=recipe, classes=3, verbose=0,
    ...             output_dir=tempfile.mkdtemp(),
    ...             model_kwargs=dict(depths=(1, 1, 1, 1), widths=(4, 4, 4, 4),
    ...                               stem_filters=4))
    >>> run.initial_step, run.final_step
    (0, 4)
    """
    recipe = get_recipe(recipe or "kinetics400_32x2")
    if not isinstance(recipe, Recipe):
        raise ValueError(f"`recipe` must be a Recipe or a recipe name. Received: {recipe!r}")
    if isinstance(strategy, str):
        strategy = get_strategy(strategy)
    if isinstance(model, str) and classes is None:
        raise ValueError("`classes` is required when `model` is a zoo name. Received: classes=None")
    if train_ds is None:
        raise ValueError("`train_ds` is required. Received: train_ds=None")
    policy = _policy(mixed_precision)
    index, _ = worker_info(strategy)
    chief = index == 0
    own_dir = os.fspath(output_dir)
    if not chief:
        own_dir = os.path.join(own_dir, "workers", f"worker_{index}")
    os.makedirs(own_dir, exist_ok=True)
    if chief:
        with open(os.path.join(own_dir, "recipe.json"), "w", encoding="utf-8") as f:
            json.dump(recipe.to_dict(), f, indent=2)

    previous_policy = keras.config.dtype_policy()
    if policy:
        keras.config.set_dtype_policy(policy)
    try:
        with strategy.scope():
            if isinstance(model, str):
                model = build_model(
                    model, classes, recipe, weights=weights, logits=logits, **(model_kwargs or {})
                )
            elif callable(model) and not isinstance(model, keras.Model):
                model = model()
            if not isinstance(model, keras.Model):
                raise ValueError(f"`model` did not give a keras.Model. Received: {model!r}")
            if recipe.freeze_bn:
                freeze_batch_norm(model)
            if _is_multi_worker(strategy):
                model = _for_multi_worker(model, train_ds)
            compile_model(model, recipe, logits=logits)
    finally:
        if policy:
            keras.config.set_dtype_policy(previous_policy)

    if verbose == "auto":
        verbose = 1 if chief else 2
    # Outside the scope: a callback that creates a variable on the chief only
    # (saving does) must not start a cross-worker broadcast.
    # A pipeline's TooManyBadFilesError reaches the caller as itself. The
    # video pipelines need TensorFlow; importing them here, not at the top,
    # keeps `keras_nonlocal.training` (strategies, callbacks) importable
    # without it, as the denoiser's training on JAX / PyTorch needs.
    from keras_nonlocal.data.pipeline import reraise_pipeline_errors

    with reraise_pipeline_errors(train_ds, val_ds):
        history = model.fit(
            train_ds.repeat(),
            epochs=recipe.epochs,
            steps_per_epoch=recipe.checkpoint_every,
            validation_data=val_ds,
            validation_steps=validation_steps,
            validation_freq=max(1, recipe.eval_every // recipe.checkpoint_every),
            callbacks=_callbacks(own_dir, recipe, chief, callbacks),
            verbose=verbose,
        )
    events = callbacks_lib.read_events(os.path.join(own_dir, "events.jsonl"))
    begins = [e for e in events if e["event"] == "train_begin"]
    initial_step = begins[-1]["step"] if begins else 0
    final_step = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    if chief:
        model.save_weights(os.path.join(own_dir, "final.weights.h5"))
    return TrainingRun(model, history, own_dir, initial_step, final_step)
