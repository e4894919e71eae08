"""Strategies by name; multi-worker needs a usable TF_CONFIG."""

import json

import pytest
import tensorflow as tf

from keras_nonlocal.training import get_strategy
from keras_nonlocal.training import is_chief
from keras_nonlocal.training import worker_info


def test_default_strategy_has_one_replica():
    strategy = get_strategy("default")
    assert strategy.num_replicas_in_sync == 1
    assert is_chief(strategy)


def test_mirrored_strategy_uses_the_local_devices():
    assert isinstance(get_strategy("mirrored"), tf.distribute.MirroredStrategy)


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="strategy='tpu'"):
        get_strategy("tpu")


def test_multi_worker_without_tf_config_explains_what_to_set(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        get_strategy("multi_worker")


def test_multi_worker_with_a_task_less_tf_config_is_refused(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}}))
    with pytest.raises(ValueError, match="task"):
        get_strategy("multi_worker")


def test_worker_info_reads_the_task_index(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": {"worker": ["a:1", "b:2", "c:3"]}, "task": {"type": "worker", "index": 2}}))
    assert worker_info() == (2, 3)
    assert not is_chief()
    monkeypatch.delenv("TF_CONFIG")
    assert worker_info() == (0, 1)
