"""A restricted unpickler for the official Caffe2 checkpoints.

The official checkpoints are Python-2 pickles. A pickle can name any Python
callable and have it called while loading, so `pickle.load` on a downloaded
file runs whatever its author wanted. `safe_load` admits only what a
checkpoint needs: dicts, lists, tuples, strings, bytes, numbers, booleans,
`None` and numeric NumPy arrays and scalars. Anything else is refused before it
is called.
"""

import codecs
import io
import pickle

import numpy as np

try:  # NumPy >= 2
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core import multiarray as _multiarray
    from numpy.core import numeric as _numeric


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for something outside the allowed set.

    Attributes:
        refused: what was refused, e.g. `"os.system"` or `"object array"`.
    """

    def __init__(self, refused, source=None):
        self.refused = refused
        where = f" in {source}" if source else ""
        super().__init__(
            f"Refused to load {refused!r}{where}: checkpoints may only hold "
            "dicts, lists, strings, numbers and numeric NumPy arrays. The file "
            "is not an official checkpoint, or it has been tampered with; it "
            "was not executed."
        )


def _latin1_encode(obj, encoding="latin1"):
    # Python 3 writes `bytes` into protocol-2 pickles as
    # `_codecs.encode(str, "latin1")`; admit exactly that and no other codec.
    if not isinstance(obj, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise UnsafePickleError(f"_codecs.encode({type(obj).__name__}, {encoding!r})")
    return obj.encode("latin1")


# (module, name) -> the object handed to the pickle. Both spellings of NumPy's
# private module are listed: `numpy.core` (NumPy 1, Python 2 pickles) and
# `numpy._core` (NumPy 2).
_ALLOWED = {}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_module, "_reconstruct")] = _multiarray._reconstruct
    _ALLOWED[(_module, "scalar")] = _multiarray.scalar
for _module in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_module, "_frombuffer")] = _numeric._frombuffer
_ALLOWED[("numpy", "ndarray")] = np.ndarray
_ALLOWED[("numpy", "dtype")] = np.dtype
_ALLOWED[("_codecs", "encode")] = _latin1_encode

ALLOWED_GLOBALS = tuple(sorted(f"{m}.{n}" for m, n in _ALLOWED))

_PLAIN_TYPES = (str, bytes, int, float, complex, bool, type(None))


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, source=None):
        # latin1: Python-2 `str` holding raw array bytes must round-trip.
        super().__init__(file, encoding="latin1")
        self._source = source

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"{module}.{name}", self._source) from None

    def persistent_load(self, pid):
        raise UnsafePickleError(f"persistent id {pid!r}", self._source)


def _check_contents(obj, source, path="root"):
    # Arrays of dtype object would hold arbitrary Python objects; a structured
    # or object dtype is never part of a checkpoint.
    if isinstance(obj, dict):
        for key, value in obj.items():
            _check_contents(key, source, path)
            _check_contents(value, source, f"{path}[{key!r}]")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            _check_contents(value, source, f"{path}[{i}]")
    elif isinstance(obj, (np.ndarray, np.generic)):
        if obj.dtype.hasobject or obj.dtype.fields is not None:
            raise UnsafePickleError(f"array of dtype {obj.dtype} at {path}", source)
    elif not isinstance(obj, _PLAIN_TYPES):
        raise UnsafePickleError(f"{type(obj).__name__} at {path}", source)


def safe_loads(data, source=None):
    """Unpickles bytes, admitting only plain data and numeric NumPy arrays.

    Args:
        data: the pickle, as `bytes`.
        source: a name for the data (e.g. a path) used in error messages.

    Returns:
        The unpickled object.

    Raises:
        UnsafePickleError: if the pickle names any callable other than NumPy's
            array and dtype reconstructors, or holds an object array.
        pickle.UnpicklingError, EOFError: if the data is not a complete pickle.

    Example:

    >>> import pickle, numpy as np
    >>> safe_loads(pickle.dumps({"w": np.zeros(2)}, protocol=2))["w"].shape
    (2,)
    """
    return safe_load(io.BytesIO(data), source=source)


def safe_load(file, source=None):
    """Unpickles a file object or path with the restrictions of `safe_loads`.

    Python-2 pickles (the official checkpoints) are read with
    `encoding="latin1"`, as NumPy needs.

    Args:
        file: a binary file object, or a path.
        source: a name for the file used in error messages; defaults to the
            path.

    Returns:
        The unpickled object.

    Raises:
        UnsafePickleError: see `safe_loads`.

    Example:

    >>> blobs = safe_load("c2d_baseline_8x8_IN_pretrain_400k.pkl")  # doctest: +SKIP
    """
    if isinstance(file, (str, bytes)) or hasattr(file, "__fspath__"):
        with open(file, "rb") as f:
            return safe_load(f, source=source or str(file))
    obj = _RestrictedUnpickler(file, source=source).load()
    _check_contents(obj, source)
    return obj
