"""Reading official checkpoints: blobs kept, solver state set aside."""

import pickle

import numpy as np
import pytest

from keras_nonlocal.weights import CheckpointFormatError
from keras_nonlocal.weights import inflate_kernel
from keras_nonlocal.weights import read_checkpoint
from keras_nonlocal.weights.checkpoint import blobs_from_object
from tests.weights import helpers


def test_solver_state_is_set_aside(tmp_path):
    blobs = {"conv1_w": np.ones((2, 3, 1, 1, 1), np.float32), "pred_b": np.zeros(4, np.float32)}
    path = helpers.write_checkpoint(tmp_path / "c.pkl", blobs)
    ckpt = read_checkpoint(path)
    assert sorted(ckpt.blobs) == ["conv1_w", "pred_b"]
    assert sorted(ckpt.solver_state) == ["conv1_w_momentum", "lr", "model_iter", "pred_b_momentum"]


def test_bare_blob_dict_is_accepted():
    ckpt = blobs_from_object({"pred_b": np.zeros(3, np.float64)})
    assert ckpt["pred_b"].dtype == np.float32


@pytest.mark.parametrize(
    "obj, message",
    [
        (3, "holds an int"),
        ((1, 2), "holds a tuple"),
        ({"blobs": 1}, "not a dict"),
        ({"blobs": {"w": "text"}}, "not a numeric array"),
        ({"lr": 0.1}, "no parameter blobs"),
    ],
)
def test_malformed_checkpoints_are_named(tmp_path, obj, message):
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(CheckpointFormatError, match=message) as info:
        read_checkpoint(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("cut", [0, 1, 40, -1])
def test_truncated_and_empty_files_name_the_file(tmp_path, cut):
    data = helpers.py2_pickle_bytes({"conv1_w": np.ones((4, 3), np.float32)})
    path = tmp_path / "cut.pkl"
    path.write_bytes(data[:cut])
    with pytest.raises(CheckpointFormatError) as info:
        read_checkpoint(path)
    message = str(info.value)
    assert str(path) in message
    assert "empty" in message if cut == 0 else "truncated" in message


def test_solver_entries_beside_blobs_are_set_aside(tmp_path):
    path = tmp_path / "c.pkl"
    path.write_bytes(pickle.dumps(
        {"blobs": {"pred_b": np.zeros(2, np.float32)}, "model_iter": 5, "lr": 0.1}, protocol=2))
    assert list(read_checkpoint(path).blobs) == ["pred_b"]


def test_inflation_repeats_over_time_and_divides():
    kernel = np.random.default_rng(0).standard_normal((4, 3, 7, 7)).astype(np.float32)
    inflated = inflate_kernel(kernel, 5)
    assert inflated.shape == (4, 3, 5, 7, 7)
    for t in range(5):
        np.testing.assert_allclose(inflated[:, :, t], kernel / 5, rtol=1e-6)
    np.testing.assert_allclose(inflated.sum(axis=2), kernel, rtol=1e-5, atol=1e-6)


def test_inflation_rejects_a_3d_kernel():
    with pytest.raises(ValueError, match=r"\(out, in, h, w\)"):
        inflate_kernel(np.zeros((1, 1, 1, 1, 1)), 3)
