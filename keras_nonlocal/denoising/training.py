"""`train_denoiser`: a denoiser, a set of images, a noise level, and a folder of results.

The loop is `keras.Model.fit` on random patches (`patches.py`), Adam with a
cosine-decaying rate driven by the optimizer's step counter, and the mean
squared error on the 0–255 scale. A run is resumable: each epoch ends with a
`keras.callbacks.BackupAndRestore` backup (weights, optimizer, epoch), so a
killed run started again with the same `output_dir` continues from its last
epoch, and the rate schedule with it.

Output folder:

```
output_dir/
  train_config.json   the architecture and the training settings
  backup/             BackupAndRestore state
  tensorboard/        TensorBoard logs (when TensorFlow is installed)
  training_log.csv    one row per epoch (loss, patch PSNR, validation PSNR, rate)
  events.jsonl        train_begin / epoch_end events with the global step
  last.keras          the model after the last finished epoch
  best.keras          the model after the epoch of highest `val_psnr` (with validation images)
  model.keras         the trained model (also model.weights.h5)
```

Distribution uses the video trainer's strategy names: on TensorFlow,
`keras_nonlocal.training.get_strategy`; on JAX, `"mirrored"` is
`keras.distribution.DataParallel` over this machine's devices and
`"multi_worker"` initialises `keras.distribution` from its environment
variables first. PyTorch trains on one device.
"""

import contextlib
import dataclasses
import json
import os
import warnings

import keras
import numpy as np

from keras_nonlocal.denoising.models import build_denoiser
from keras_nonlocal.denoising.models import get_config
from keras_nonlocal.denoising.patches import check_patch_size
from keras_nonlocal.denoising.patches import patch_dataset
from keras_nonlocal.training.callbacks import LearningRateLogger
from keras_nonlocal.training.callbacks import StepRecorder
from keras_nonlocal.training.callbacks import read_events
from keras_nonlocal.training.strategy import STRATEGIES
from keras_nonlocal.training.strategy import get_strategy
from keras_nonlocal.training.strategy import worker_info

BLIND_SIGMA_RANGE = (0.0, 55.0)


@dataclasses.dataclass
class DenoiserTrainingRun:
    """What `train_denoiser` returns.

    Args:
        model: the trained `keras.Model`.
        history: the `keras.callbacks.History` of this `fit` call.
        output_dir: the results folder.
        initial_step: the step training started from (non-zero after a
            resume).
        final_step: the step at the end.
    """

    model: object
    history: object
    output_dir: str
    initial_step: int
    final_step: int


@keras.saving.register_keras_serializable(package="keras_nonlocal")
def patch_psnr(clean, denoised):
    """PSNR (peak 255) of each patch, with the output clipped to [0, 255]: a training metric.

    Args:
        clean: the clean patches.
        denoised: the model's outputs.

    Returns:
        One PSNR in dB per patch.
    """
    denoised = keras.ops.clip(denoised, 0.0, 255.0)
    mse = keras.ops.mean(keras.ops.square(clean - denoised), axis=(1, 2, 3))
    return 10.0 * keras.ops.log(255.0**2 / keras.ops.maximum(mse, 1e-10)) / np.log(10.0)


class ValidationPSNR(keras.callbacks.Callback):
    """Mean PSNR on whole validation images after each epoch (`val_psnr` in the logs).

    Each image gets its own seeded noise, the same every epoch: clean on
    [0, 255] plus `N(0, σ²)`, not clipped; the output is clipped to [0, 255]
    before the PSNR. Put it before the loggers in the callback list.

    Args:
        images: `(H, W, C)` float32 clean images on the 0–255 scale.
        sigma: the noise level of the validation.
    """

    def __init__(self, images, sigma):
        super().__init__()
        self.clean = [np.asarray(image, "float32") for image in images]
        self.noisy = [
            image + np.random.default_rng(i).normal(0.0, sigma, image.shape).astype("float32")
            for i, image in enumerate(self.clean)
        ]
        self.sigma = sigma

    def on_epoch_end(self, epoch, logs=None):
        scores = []
        for clean, noisy in zip(self.clean, self.noisy):
            out = np.clip(np.asarray(self.model.predict_on_batch(noisy[None]))[0], 0, 255)
            mse = float(np.mean((out.astype("float64") - clean) ** 2))
            scores.append(10 * np.log10(255.0**2 / max(mse, 1e-10)))
        if logs is not None:
            logs["val_psnr"] = float(np.mean(scores))


class _StopAfterStep(keras.callbacks.Callback):
    """Stops `fit` at a global step (for tests and partial runs)."""

    def __init__(self, step):
        super().__init__()
        self.step = int(step)

    def on_train_batch_end(self, batch, logs=None):
        if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) >= self.step:
            self.model.stop_training = True


def distribution_scope(strategy="default"):
    """A context in which to build and compile the model, for a strategy name.

    Args:
        strategy: `"default"`, `"mirrored"` or `"multi_worker"` (the video
            trainer's names), or a `tf.distribute.Strategy` on TensorFlow.

    Returns:
        A context manager: the strategy's scope on TensorFlow; on JAX, a
        context that sets a `keras.distribution.DataParallel` distribution
        for `"mirrored"` and `"multi_worker"`.

    Raises:
        ValueError: an unknown name, or distribution on PyTorch.

    Example:

    >>> with distribution_scope("default"):
    ...     pass
    """
    backend = keras.backend.backend()
    if not isinstance(strategy, str):
        if backend != "tensorflow":
            raise ValueError("A tf.distribute.Strategy object needs the TensorFlow backend.")
        return strategy.scope()
    if strategy not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {STRATEGIES}. Received: strategy={strategy!r}")
    if backend == "tensorflow":
        return get_strategy(strategy).scope()
    if strategy == "default":
        return contextlib.nullcontext()
    if backend != "jax":
        raise ValueError(
            f"strategy={strategy!r} needs the TensorFlow or JAX backend; "
            f"the {backend} backend trains on one device (strategy='default')."
        )
    return _jax_data_parallel(strategy)


@contextlib.contextmanager
def _jax_data_parallel(strategy):
    if strategy == "multi_worker":
        # Reads JAX's coordinator address, process count and id from the environment.
        keras.distribution.initialize()
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=keras.distribution.list_devices())
    )
    try:
        yield
    finally:
        keras.distribution.set_distribution(previous)


def _load_initial_weights(model, path):
    if path.endswith(".weights.h5"):
        model.load_weights(path)
        return
    source = keras.saving.load_model(path, compile=False)
    try:
        model.set_weights(source.get_weights())
    except ValueError as e:
        raise ValueError(
            f"`initial_weights` {path} holds another architecture than the one trained: {e}"
        ) from None


def _tensorboard(log_dir):
    try:
        import tensorflow  # noqa: F401  (the TensorBoard callback writes with tf.summary)
    except ImportError:
        warnings.warn("TensorFlow is not installed: training without TensorBoard logs.")
        return []
    return [keras.callbacks.TensorBoard(log_dir, update_freq="epoch")]


def _callbacks(output_dir, val_images, val_sigma, stop_at_step, extra):
    result = [
        keras.callbacks.BackupAndRestore(
            backup_dir=os.path.join(output_dir, "backup"),
            save_freq="epoch",
            double_checkpoint=True,  # a kill during a save falls back to the previous one
            delete_checkpoint=False,  # re-running a finished run does not retrain
        ),
        StepRecorder(os.path.join(output_dir, "events.jsonl")),
        LearningRateLogger(),
    ]
    if stop_at_step is not None:
        result.append(_StopAfterStep(stop_at_step))
    if val_images:
        result.append(ValidationPSNR(val_images, val_sigma))
    result += [
        keras.callbacks.CSVLogger(os.path.join(output_dir, "training_log.csv"), append=True),
        keras.callbacks.ModelCheckpoint(os.path.join(output_dir, "last.keras")),
    ]
    if val_images:
        result.append(keras.callbacks.ModelCheckpoint(
            os.path.join(output_dir, "best.keras"), monitor="val_psnr", mode="max",
            save_best_only=True,
        ))
    result += _tensorboard(os.path.join(output_dir, "tensorboard"))
    return result + list(extra or [])


def train_denoiser(
    images,
    config="nl_dncnn",
    sigma=None,
    sigma_range=None,
    output_dir="results/denoiser",
    epochs=50,
    steps_per_epoch=200,
    batch_size=16,
    patch_size=80,
    learning_rate=1e-3,
    final_learning_rate=1e-5,
    clipnorm=None,
    initial_weights=None,
    strategy="default",
    val_images=None,
    val_sigma=None,
    seed=None,
    pipeline="auto",
    stop_at_step=None,
    callbacks=None,
    verbose="auto",
):
    """Trains a denoiser on random patches of `images`; resumes a killed run.

    Args:
        images: `(H, W, C)` float32 clean images on the 0–255 scale (e.g.
            `keras_nonlocal.denoising.load_images(folder)`).
        config: the architecture (a `DenoiserConfig`, a name from
            `DENOISER_CONFIGS` or a dict); its channels must match the
            images'.
        sigma: the noise level of a known-σ model (0–255 scale).
        sigma_range: `(low, high)` for a blind model (DnCNN-B:
            `BLIND_SIGMA_RANGE`, (0, 55)). Give `sigma` or `sigma_range`.
        output_dir: the results folder (see the module docstring).
        epochs: epochs in all (a resumed run counts the finished ones).
        steps_per_epoch: batches per epoch; a backup is written after each.
        batch_size: patches per batch (global, across devices).
        patch_size: side of the square patches.
        learning_rate: Adam's initial rate.
        final_learning_rate: the rate at the last step (cosine decay).
        clipnorm: clip the gradients to this global norm (the loss is on
            the 0–255 scale: a fresh `nl_dncnn` starts near 400); `None`
            does not clip.
        initial_weights: start from these weights (a `.keras` or
            `.weights.h5` file of the same architecture), e.g. to fine-tune a
            σ = 25 model to another σ; a resumed run takes its backup's
            weights instead.
        strategy: `"default"`, `"mirrored"` or `"multi_worker"` (see
            `distribution_scope`).
        val_images: optional clean images scored after each epoch
            (`val_psnr`).
        val_sigma: their noise level (default: `sigma`, or 25 for a blind
            model).
        seed: the patch sampling seed (`None`: random).
        pipeline: `"auto"`, `"tf"` or `"numpy"` (see `patch_dataset`).
        stop_at_step: stop once the optimizer has made this many steps
            (mid-epoch; the run then resumes from its last backup).
        callbacks: extra Keras callbacks.
        verbose: `fit` verbosity (`"auto"`: a progress bar).

    Returns:
        A `DenoiserTrainingRun`.

    Example:

    >>> import tempfile
    >>> images = [np.random.default_rng(0).uniform(0, 255, (24, 24, 1)).astype("float32")]
    >>> run = train_denoiser(images, {"base": "dncnn", "depth": 3, "features": 8},
    ...                      sigma=25, epochs=2, steps_per_epoch=2, batch_size=4,
    ...                      patch_size=16, output_dir=tempfile.mkdtemp(), verbose=0)
    >>> run.initial_step, run.final_step
    (0, 4)
    """
    architecture = get_config(config)
    if sigma is None and sigma_range is None:
        raise ValueError("Give `sigma` (a known-noise model) or `sigma_range` (a blind model).")
    images = [np.asarray(image, "float32") for image in images]
    check_patch_size(images, patch_size)
    if images[0].ndim != 3 or any(image.shape[-1] != architecture.channels for image in images):
        raise ValueError(
            f"The model has {architecture.channels} channel(s); the training images must be "
            f"(H, W, {architecture.channels}). Received an image of shape {images[0].shape}."
        )
    for arg, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch),
                       ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"`{arg}` must be an integer >= 1. Received: {arg}={value!r}")
    if clipnorm is not None and not (isinstance(clipnorm, (int, float)) and clipnorm > 0):
        raise ValueError(f"`clipnorm` must be a number > 0 or None. Received: clipnorm={clipnorm!r}")
    if initial_weights is not None:
        initial_weights = os.fspath(initial_weights)
        if not initial_weights.endswith((".keras", ".weights.h5")):
            raise ValueError(
                "`initial_weights` must be a `.keras` or `.weights.h5` file. "
                f"Received: initial_weights={initial_weights!r}"
            )
        if not os.path.isfile(initial_weights):
            raise FileNotFoundError(f"`initial_weights` file not found: {initial_weights}")
    if val_sigma is None:
        val_sigma = 25.0 if sigma is None else sigma
    output_dir = os.fspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    settings = {
        "config": architecture.to_dict(),
        "sigma": sigma,
        "sigma_range": None if sigma_range is None else list(sigma_range),
        "epochs": epochs,
        "steps_per_epoch": steps_per_epoch,
        "batch_size": batch_size,
        "patch_size": patch_size,
        "learning_rate": learning_rate,
        "final_learning_rate": final_learning_rate,
        "clipnorm": clipnorm,
        "initial_weights": initial_weights,
        "strategy": strategy if isinstance(strategy, str) else type(strategy).__name__,
        "num_images": len(images),
        "seed": seed,
        "backend": keras.backend.backend(),
    }
    with open(os.path.join(output_dir, "train_config.json"), "w", encoding="utf-8") as f:
        json.dump(settings, f, indent=2)

    own_dir = output_dir
    on_tensorflow = keras.backend.backend() == "tensorflow"
    if on_tensorflow:
        # Created before any other TensorFlow work (multi-worker set-up).
        strategy = get_strategy(strategy) if isinstance(strategy, str) else strategy
        index, _ = worker_info(strategy)
        if index:
            # Workers other than the chief keep their own backups and logs.
            own_dir = os.path.join(output_dir, "workers", f"worker_{index}")
            os.makedirs(own_dir, exist_ok=True)
    data = patch_dataset(images, batch_size, patch_size, steps_per_epoch, sigma, sigma_range,
                         seed=seed, pipeline=pipeline)
    # TensorFlow builds in the strategy's scope and fits outside it, as the
    # video trainer (saving on the chief alone must not start a cross-worker
    # broadcast); JAX's distribution must hold while fitting too.
    scope = distribution_scope(strategy)
    with contextlib.nullcontext() if on_tensorflow else scope:
        with scope if on_tensorflow else contextlib.nullcontext():
            model = build_denoiser(architecture)
            if initial_weights is not None:
                _load_initial_weights(model, initial_weights)
            schedule = keras.optimizers.schedules.CosineDecay(
                learning_rate, decay_steps=epochs * steps_per_epoch,
                alpha=final_learning_rate / learning_rate,
            )
            model.compile(
                optimizer=keras.optimizers.Adam(schedule, global_clipnorm=clipnorm),
                loss="mean_squared_error",
                metrics=[keras.metrics.MeanMetricWrapper(patch_psnr, name="psnr")],
            )
        history = model.fit(
            data,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            shuffle=False,  # the patches are random already
            callbacks=_callbacks(own_dir, val_images, val_sigma, stop_at_step, callbacks),
            verbose=1 if verbose == "auto" else verbose,
        )
    output_dir = own_dir
    begins = [e for e in read_events(os.path.join(output_dir, "events.jsonl"))
              if e["event"] == "train_begin"]
    initial_step = begins[-1]["step"] if begins else 0
    final_step = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    if not model.stop_training or stop_at_step is None:
        model.save(os.path.join(output_dir, "model.keras"))
        model.save_weights(os.path.join(output_dir, "model.weights.h5"))
    return DenoiserTrainingRun(model, history, output_dir, initial_step, final_step)
