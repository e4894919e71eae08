"""Which `tf.distribute` strategy a run uses, chosen by name.

- `"default"`: no distribution (one device; the GPU if there is one).
- `"mirrored"`: `MirroredStrategy`, every GPU of this machine.
- `"multi_worker"`: `MultiWorkerMirroredStrategy`, every worker listed in the
  `TF_CONFIG` environment variable (each worker runs the same command with its
  own `task.index`; worker 0 is the chief and writes the logs and
  checkpoints).

Create the strategy before any other TensorFlow work: the multi-worker one
sets up the cluster at creation.
"""

import json
import os

STRATEGIES = ("default", "mirrored", "multi_worker")


def _tf():
    import tensorflow as tf

    return tf


def tf_config():
    """The parsed `TF_CONFIG` environment variable (`{}` when unset).

    Returns:
        A dict with `cluster` and `task` when set.

    Raises:
        ValueError: when `TF_CONFIG` is not valid JSON.
    """
    raw = os.environ.get("TF_CONFIG", "")
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"`TF_CONFIG` is not valid JSON ({e}). Received: {raw!r}") from None


def _check_tf_config():
    config = tf_config()
    workers = config.get("cluster", {}).get("worker")
    task = config.get("task", {})
    if not workers:
        raise ValueError(
            "strategy='multi_worker' needs the TF_CONFIG environment variable with "
            "a worker list, e.g. TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:12345\", "
            "\"host2:12345\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}'. "
            f"Received: TF_CONFIG={os.environ.get('TF_CONFIG', '')!r}"
        )
    if task.get("type") not in ("worker", "chief") or not isinstance(task.get("index"), int):
        raise ValueError(
            "TF_CONFIG must name this process's task, e.g. "
            f"\"task\": {{\"type\": \"worker\", \"index\": 0}}. Received task: {task!r}"
        )
    return config


def get_strategy(name="default", communication="auto"):
    """Creates a `tf.distribute.Strategy` by name.

    Args:
        name: `"default"`, `"mirrored"` or `"multi_worker"`.
        communication: collective implementation for `"multi_worker"`:
            `"auto"`, `"ring"` (gRPC, works on CPUs) or `"nccl"` (GPUs).

    Returns:
        A `tf.distribute.Strategy`.

    Example:

    >>> strategy = get_strategy("default")
    >>> strategy.num_replicas_in_sync
    1
    """
    if name not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {STRATEGIES}. Received: strategy={name!r}")
    tf = _tf()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    _check_tf_config()
    implementations = {
        "auto": tf.distribute.experimental.CommunicationImplementation.AUTO,
        "ring": tf.distribute.experimental.CommunicationImplementation.RING,
        "nccl": tf.distribute.experimental.CommunicationImplementation.NCCL,
    }
    if communication not in implementations:
        raise ValueError(
            f"`communication` must be one of {sorted(implementations)}. "
            f"Received: communication={communication!r}"
        )
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=implementations[communication]
    )
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def worker_info(strategy=None):
    """This process's place in the cluster.

    Args:
        strategy: the strategy in use (only its type matters); `None` reads
            `TF_CONFIG` alone.

    Returns:
        A pair `(index, num_workers)`; `(0, 1)` outside multi-worker runs.
    """
    tf = _tf()
    if strategy is not None and not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return 0, 1
    config = tf_config()
    cluster = config.get("cluster", {})
    task = config.get("task", {})
    workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    if workers <= 1:
        return 0, 1
    index = int(task.get("index", 0))
    if task.get("type") == "worker" and cluster.get("chief"):
        index += 1
    return index, workers


def is_chief(strategy=None):
    """Whether this process writes shared outputs (logs, checkpoints, reports).

    Args:
        strategy: the strategy in use.

    Returns:
        True for single-worker runs and for the chief (worker 0, or the
        `chief` task) of a multi-worker run.
    """
    return worker_info(strategy)[0] == 0
