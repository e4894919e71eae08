"""Small callbacks of the trainer: the rate in the logs, the step record, the stop."""

import json
import os
import time

import keras


def _current_lr(optimizer):
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    lr = inner.learning_rate
    if callable(lr) and not isinstance(lr, keras.Variable):
        lr = lr(inner.iterations)
    return float(keras.ops.convert_to_numpy(lr))


class LearningRateLogger(keras.callbacks.Callback):
    """Adds `learning_rate` (the schedule at the current step) to the epoch logs.

    Put it before `CSVLogger` / `TensorBoard` so they record it.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _current_lr(self.model.optimizer)


class StepRecorder(keras.callbacks.Callback):
    """Appends training events, with the global step, to a JSON-lines file.

    One `{"event": "train_begin", "step": ..., "epoch": ...}` line when `fit`
    starts (after `BackupAndRestore` has restored a backup, so a resumed run
    records the step it resumed from) and one `"epoch_end"` line per epoch.
    Put it after `BackupAndRestore` in the callback list.

    Args:
        path: the `.jsonl` file.
    """

    def __init__(self, path):
        super().__init__()
        self.path = os.fspath(path)

    def _write(self, record):
        record["time"] = time.time()
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def _step(self):
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_train_begin(self, logs=None):
        self._write(
            {
                "event": "train_begin",
                "step": self._step(),
                "epoch": int(getattr(self.model, "_initial_epoch", None) or 0),
            }
        )

    def on_epoch_end(self, epoch, logs=None):
        record = {"event": "epoch_end", "epoch": epoch + 1, "step": self._step()}
        record.update({k: float(v) for k, v in (logs or {}).items() if _is_number(v)})
        self._write(record)


def _is_number(value):
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


class StopAtStep(keras.callbacks.Callback):
    """Stops `fit` once the optimizer has made `max_steps` steps.

    Args:
        max_steps: the total number of training steps.
    """

    def __init__(self, max_steps):
        super().__init__()
        self.max_steps = int(max_steps)

    def on_train_batch_end(self, batch, logs=None):
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        if step >= self.max_steps:
            self.model.stop_training = True


def read_events(path):
    """Reads a `StepRecorder` file.

    Args:
        path: the `.jsonl` file.

    Returns:
        A list of dicts, in order.
    """
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
