"""The restricted unpickler admits checkpoints and refuses everything else."""

import os
import pickle

import numpy as np
import pytest

from keras_nonlocal.weights import UnsafePickleError
from keras_nonlocal.weights import read_checkpoint
from keras_nonlocal.weights import safe_load
from keras_nonlocal.weights import safe_loads
from tests.weights import helpers


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_arrays_and_scalars_load_under_every_protocol(protocol):
    data = {
        "blobs": {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "s": np.float64(1.5)},
        "lr": np.array(0.1, np.float32),
        "model_iter": 7,
        "names": ["a", "b"],
    }
    loaded = safe_loads(pickle.dumps(data, protocol=protocol))
    np.testing.assert_array_equal(loaded["blobs"]["w"], data["blobs"]["w"])
    assert loaded["blobs"]["s"] == 1.5
    assert loaded["model_iter"] == 7 and loaded["names"] == ["a", "b"]


def test_python2_latin1_pickle_loads():
    blobs = {"conv1_w": np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 1, 2, 2)}
    data = helpers.py2_pickle_bytes(blobs)
    assert b"numpy.core.multiarray" in data
    loaded = safe_loads(data)
    np.testing.assert_array_equal(loaded["blobs"]["conv1_w"], blobs["conv1_w"])


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"blobs": {"conv1_w": _RunsCode(marker)}}, protocol=2))
    with pytest.raises(UnsafePickleError, match=r"system") as info:
        read_checkpoint(path)
    assert not marker.exists()
    assert isinstance(info.value, pickle.UnpicklingError)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "payload",
    [
        b"cbuiltins\neval\n(S'1+1'\ntR.",
        b"c__builtin__\neval\n(S'1+1'\ntR.",
        b"csubprocess\nPopen\n(S'true'\ntR.",
        b"cnumpy\nload\n(S'x'\ntR.",
        b"ccollections\nOrderedDict\n)R.",
    ],
    ids=["eval", "py2-eval", "popen", "numpy.load", "ordereddict"],
)
def test_any_other_global_is_refused_by_name(payload):
    with pytest.raises(UnsafePickleError) as info:
        safe_loads(payload)
    module, name = payload[1:].split(b"\n")[:2]
    assert f"{module.decode()}.{name.decode()}" in str(info.value)


def test_object_arrays_are_refused():
    data = pickle.dumps({"blobs": {"w": np.array([1, "x"], dtype=object)}}, protocol=2)
    with pytest.raises(UnsafePickleError, match="dtype object"):
        safe_loads(data)


def test_codecs_encode_only_admits_latin1():
    payload = b"c_codecs\nencode\n(Vabc\nVzlib\ntR."
    with pytest.raises(UnsafePickleError, match="zlib"):
        safe_loads(payload)


def test_safe_load_accepts_a_file_object(tmp_path):
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps({"x": np.ones(2)}, protocol=2))
    with open(path, "rb") as f:
        assert safe_load(f)["x"].shape == (2,)
