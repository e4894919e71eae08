"""The restricted unpickler admits checkpoints and refuses everything else,
within time and memory linear in the file.

The hostile corpus runs under a generous timeout so that a regression (an
exponential walk, a huge allocation) fails instead of hanging; nothing here
asserts a duration.
"""

import os
import pickle
import re
import struct

import numpy as np
import pytest

from keras_nonlocal.weights import CheckpointFormatError
from keras_nonlocal.weights import UnsafePickleError
from keras_nonlocal.weights import read_checkpoint
from keras_nonlocal.weights import safe_load
from keras_nonlocal.weights import safe_loads
from keras_nonlocal.weights.safe_pickle import MAX_NESTING
from tests.weights import helpers

try:  # NumPy >= 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct

TIB = 1 << 40


class _Counter:
    def __init__(self):
        self.n = 0

    def __call__(self, obj):
        self.n += 1


# ------------------------------------------------------------ what loads


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_arrays_and_scalars_load_under_every_protocol(protocol):
    data = {
        "blobs": {
            "w": np.arange(6, dtype=np.float32).reshape(2, 3),
            "f": np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
            "i": np.arange(3, dtype=np.int64),
            "s": np.float64(1.5),
            "model_iter": 7,
            "lr": np.array([0.1], np.float32),
        },
        "lr": 0.1,
    }
    loaded = safe_loads(pickle.dumps(data, protocol=protocol))
    for name in ("w", "f", "i", "lr"):
        np.testing.assert_array_equal(loaded["blobs"][name], data["blobs"][name])
        assert loaded["blobs"][name].dtype == data["blobs"][name].dtype
    assert loaded["blobs"]["s"] == 1.5 and loaded["blobs"]["model_iter"] == 7
    assert loaded["lr"] == 0.1


def test_python2_latin1_pickle_loads():
    blobs = {
        "conv1_w": np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 1, 2, 2),
        "lr": np.array([0.01], np.float32),
        "model_iter": 400000,
    }
    data = helpers.py2_pickle_bytes(blobs)
    assert b"numpy.core.multiarray" in data
    loaded = safe_loads(data)
    np.testing.assert_array_equal(loaded["blobs"]["conv1_w"], blobs["conv1_w"])
    assert loaded["blobs"]["model_iter"] == 400000


def test_big_endian_arrays_load_without_touching_numpys_dtypes():
    data = pickle.dumps({"w": np.arange(4, dtype=">f4")}, protocol=2)
    loaded = safe_loads(data)
    np.testing.assert_array_equal(loaded["w"], np.arange(4))
    assert np.dtype("f4").byteorder == "=" and np.dtype(">f4").byteorder == ">"


def test_work_is_linear_in_the_number_of_blobs():
    def visits(n):
        blobs = {f"b{i}": np.full((2, 2), i, np.float32) for i in range(n)}
        data = helpers.py2_pickle_bytes(blobs)
        counter = _Counter()
        assert len(safe_loads(data, visit=counter)["blobs"]) == n
        return counter.n, len(data)

    (small, small_size), (large, large_size) = visits(50), visits(400)
    # Each opcode produces at most one object and each blob is checked once:
    # never more visits than bytes, and 8 times the blobs cost 8 times the work.
    assert small <= small_size and large <= large_size
    assert large <= 8 * small + 10


# --------------------------------------------------------- hostile corpus


class _Reduce:
    def __init__(self, function, args, state=None):
        self.function, self.args, self.state = function, args, state

    def __reduce__(self):
        if self.state is None:
            return self.function, self.args
        return self.function, self.args, self.state


def _frame(body, protocol=2):
    return bytes([0x80, protocol]) + body + b"."


def _shared_dag(levels, kind):
    a = [] if kind == "list" else () if kind == "tuple" else {}
    for _ in range(levels):
        a = [a, a] if kind == "list" else (a, a) if kind == "tuple" else {"l": a, "r": a}
    return pickle.dumps({"blobs": {"conv1_w": np.zeros(1), "junk": a}}, protocol=2)


def _deep(levels, kind):
    if kind == "list":
        body = b"]" + b"]" * (levels - 1) + b"a" * (levels - 1)
    elif kind == "tuple":
        body = b")" + b"\x85" * levels
    else:  # dict: {"k": {"k": ...}}, each filled before it is placed
        body = b"}X\x01\x00\x00\x00k" * levels + b"}" + b"s" * levels
    return _frame(body)


def _huge_reconstruct():
    return pickle.dumps(_Reduce(_reconstruct, (np.ndarray, (9 * TIB,), b"b")), protocol=2)


def _huge_build_state():
    # A legitimate (0,) array whose state then claims 2**40 float64.
    state = (1, (TIB,), np.dtype("f8"), False, b"\0")
    return pickle.dumps({"w": _Reduce(_reconstruct, (np.ndarray, (0,), b"b"), state)}, protocol=2)


def _huge_frombuffer():
    data = pickle.dumps({"w": np.zeros(2, np.float32)}, protocol=5)
    # Rewrite the shape tuple (2,) as (2**40,) with a longer integer.
    return data.replace(b"K\x02\x85", b"\x8a\x06" + (TIB).to_bytes(6, "little") + b"\x85", 1)


def _subarray_dtype():
    # dtype state (3, '|', (base, (2**20, 2**20)), ...): a sub-array of 8 TiB items.
    state = (3, "|", (np.dtype("f8"), (1 << 20, 1 << 20)), None, None, -1, -1, 0)
    dtype = _Reduce(np.dtype, ("f8", False, True), state)
    array_state = (1, (0,), dtype, False, b"\0")
    return pickle.dumps({"w": _Reduce(_reconstruct, (np.ndarray, (0,), b"b"), array_state)},
                        protocol=2)


def _huge_string(opcode, length):
    return _frame(b"}" + opcode + struct.pack("<Q", length) + b"abc", protocol=4)


def _modified_after_placing():
    # d = {}; top = {"blobs": d}; then d gets items (stale depth otherwise).
    return _frame(b"}q\x00X\x05\x00\x00\x00blobs}q\x01sh\x01X\x01\x00\x00\x00kK\x01s0")


HOSTILE = {
    # name: (bytes, error class, text the message must contain)
    "dag-of-lists-40": (_shared_dag(40, "list"), UnsafePickleError, "a list"),
    "dag-of-tuples-40": (_shared_dag(40, "tuple"), UnsafePickleError, "nested deeper"),
    "dag-of-dicts-40": (_shared_dag(40, "dict"), UnsafePickleError, "nested deeper"),
    "nested-lists-5000": (_deep(5000, "list"), UnsafePickleError, "a list"),
    "nested-tuples-5000": (_deep(5000, "tuple"), UnsafePickleError, "nested deeper"),
    "nested-dicts-5000": (_deep(5000, "dict"), UnsafePickleError, "nested deeper"),
    "9-TiB-reconstruct": (_huge_reconstruct(), UnsafePickleError, "9 TiB from a file of"),
    "huge-array-state": (_huge_build_state(), UnsafePickleError, "8 TiB from a file of"),
    "huge-frombuffer": (_huge_frombuffer(), CheckpointFormatError, "without its"),
    "subarray-dtype": (_subarray_dtype(), UnsafePickleError, "dtype state"),
    "huge-unicode": (_huge_string(b"\x8d", 1 << 43), CheckpointFormatError, "claims"),
    "huge-bytes": (_huge_string(b"\x8e", 1 << 43), CheckpointFormatError, "claims"),
    "huge-bytearray": (_huge_string(b"\x96", 1 << 43), CheckpointFormatError, "claims"),
    "big-string-blob": (pickle.dumps({"blobs": {"w": "x" * 100_000}}, protocol=2),
                        CheckpointFormatError, "'w' is a str"),
    "object-array": (pickle.dumps({"blobs": {"w": np.array([1, "x"], dtype=object)}},
                                  protocol=2), UnsafePickleError, "dtype 'O8'"),
    "string-array": (pickle.dumps({"w": np.array(["ab"])}, protocol=2),
                     UnsafePickleError, "dtype 'U2'"),
    "structured-array": (pickle.dumps({"w": np.zeros(2, "f4,i4")}, protocol=2),
                         UnsafePickleError, "dtype 'V8'"),
    "unknown-global": (b"cbuiltins\neval\n(S'1+1'\ntR.", UnsafePickleError, "builtins.eval"),
    "ndarray-called": (pickle.dumps(_Reduce(np.ndarray, ((TIB,),)), protocol=2),
                       UnsafePickleError, "a call of numpy.ndarray"),
    "set": (pickle.dumps({"w": {1, 2}}, protocol=4), UnsafePickleError, "a set"),
    "object-construction": (_frame(b"cnumpy\ndtype\n)\x81"), UnsafePickleError,
                            "construction of an object"),
    "persistent-id": (_frame(b"X\x01\x00\x00\x00aQ"), UnsafePickleError, "persistent id"),
    "modified-after-placing": (_modified_after_placing(), UnsafePickleError,
                               "modified after"),
    "top-level-int": (pickle.dumps(3, protocol=2), CheckpointFormatError, "holds an int"),
    "top-level-tuple": (pickle.dumps((np.zeros(1),), protocol=2), CheckpointFormatError,
                        "holds a tuple"),
    "top-level-list": (pickle.dumps([np.zeros(1)], protocol=2), UnsafePickleError, "a list"),
    "blobs-not-a-dict": (pickle.dumps({"blobs": 1}, protocol=2), CheckpointFormatError,
                         "'blobs' is an int"),
    "unknown-entry-beside-blobs": (pickle.dumps({"blobs": {}, "cfg": 1}, protocol=2),
                                   CheckpointFormatError, "'cfg'"),
    "nested-dict-blob": (pickle.dumps({"blobs": {"w": {"x": 1}}}, protocol=2),
                         CheckpointFormatError, "'w' is a dict"),
    "empty": (b"", CheckpointFormatError, "is empty"),
    "truncated": (helpers.py2_pickle_bytes({"w": np.zeros(100, np.float32)})[:250],
                  CheckpointFormatError, "truncated"),
    "truncated-header": (b"\x80\x02}q\x00(X", CheckpointFormatError, "truncated"),
    "no-stop": (b"\x80\x02}", CheckpointFormatError, "truncated"),
    "random-bytes": (np.random.default_rng(0).bytes(4096), CheckpointFormatError,
                     "not a checkpoint"),
    "text-file": (b"this is not a pickle\n", CheckpointFormatError, "not a checkpoint"),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_pickles_are_refused_with_the_file_named(tmp_path, name):
    data, error, text = HOSTILE[name]
    path = tmp_path / f"{name}.pkl"
    path.write_bytes(data)
    counter = _Counter()
    with pytest.raises(error) as info:
        safe_load(path, visit=counter)
    message = str(info.value)
    assert str(path) in message and text in message, message
    # Refused having looked at each opcode's object at most once: the work is
    # bounded by the size of the file, however the objects are shared.
    assert counter.n <= max(len(data), 1)
    # And through the public checkpoint reader.
    with pytest.raises((UnsafePickleError, CheckpointFormatError), match=re.escape(str(path))):
        read_checkpoint(path)


@pytest.mark.timeout(60)
def test_dag_of_the_issue_is_refused_at_every_depth():
    # The work must not double per level: the visits stay below the file size.
    for levels in (18, 22, 40, 200):
        data = _shared_dag(levels, "list")
        counter = _Counter()
        with pytest.raises(UnsafePickleError, match="a list"):
            safe_loads(data, visit=counter)
        assert counter.n <= len(data)


def test_nesting_limit_admits_what_a_checkpoint_needs():
    assert MAX_NESTING >= 2
    data = _frame(b")" + b"\x85" * (MAX_NESTING - 1) + b"q\x00" + b"0" + b"}")
    assert safe_loads(data) == {}


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


def test_codecs_encode_only_admits_latin1():
    payload = b"c_codecs\nencode\n(Vabc\nVzlib\ntR."
    with pytest.raises(UnsafePickleError, match="zlib"):
        safe_loads(payload)


def test_safe_load_accepts_a_file_object(tmp_path):
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps({"x": np.ones(2)}, protocol=2))
    with open(path, "rb") as f:
        assert safe_load(f)["x"].shape == (2,)


@pytest.mark.timeout(300)
def test_every_loader_refuses_the_dag_of_the_issue(tmp_path, server, keras_home):
    from keras_nonlocal.weights import cache
    from keras_nonlocal.weights import fetch_official_checkpoint
    from keras_nonlocal.weights import load_weights

    data = _shared_dag(40, "list")
    model = helpers.small_model()
    local = tmp_path / "dag.pkl"
    local.write_bytes(data)
    with pytest.raises(UnsafePickleError, match=re.escape(str(local))):
        load_weights(model, str(local))
    with open(server.path("dag.pkl"), "wb") as f:
        f.write(data)
    with pytest.raises(UnsafePickleError, match="a list"):
        load_weights(model, server.base_url + "dag.pkl")
    name = "c2d_baseline_8x8_IN_pretrain_400k.pkl"
    planted = cache.cache_path("official", name)
    os.makedirs(os.path.dirname(planted))
    with open(planted, "wb") as f:
        f.write(data)
    with pytest.raises(UnsafePickleError, match=re.escape(planted)):
        fetch_official_checkpoint(name)
