"""A restricted unpickler for the official Caffe2 checkpoints.

The official checkpoints are Python-2 pickles. A pickle can name any Python
callable and have it called while loading, so `pickle.load` on a downloaded
file runs whatever its author wanted; and even a pickle that calls nothing
dangerous can ask NumPy for terabytes, or build a structure whose naive
traversal never ends. `safe_load` therefore does not use `pickle.Unpickler`:
it runs the pickle's opcodes itself (decoded by the standard library's
`pickletools.genops`) and executes only the few that a checkpoint needs, with
limits that hold *while* the file is read:

- the only callables are NumPy's array, dtype and scalar reconstructors and
  `_codecs.encode` restricted to latin-1; each checks its arguments before it
  is called, so an array whose claimed size exceeds what the file can hold is
  refused before NumPy allocates anything, and only numeric dtypes (bool,
  integers, floats, complex; no object, string, structured or sub-array
  dtypes) are built;
- the only containers are dicts and tuples, nested at most `MAX_NESTING`
  deep (lists, sets and object construction are refused at their opcode);
- a string cannot claim more bytes than the file has left;
- every opcode does work proportional to what it reads or pops, so the whole
  load, validation included, is linear in the size of the file, whatever the
  sharing of objects.

What comes out must have the layout of the official files:
`{"blobs": {name: numeric array or number}}`, or that blobs dict bare, with the
`model_iter` and `lr` entries of the official `save_model_params` (inside
`blobs`, or beside it).
"""

import io
import math
import os
import pickle
import pickletools
import re

import numpy as np

try:  # NumPy >= 2
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core import multiarray as _multiarray
    from numpy.core import numeric as _numeric

# Containers inside containers. A checkpoint needs 2: {"blobs": {name: array}},
# and NumPy's reconstruction arguments, e.g. (1, shape, dtype, False, data).
MAX_NESTING = 3

# Entries besides "blobs" that the official save_model_params may write.
SOLVER_ENTRIES = ("model_iter", "lr")


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for something outside what a checkpoint may hold.

    Raised for any callable other than NumPy's reconstructors, object or other
    non-numeric arrays, arrays larger than the file could hold, lists, sets,
    object construction and nesting deeper than a checkpoint needs. Nothing
    the pickle names is executed.

    Attributes:
        refused: what was refused, e.g. `"os.system"` or `"object array"`.
        source: the file (or other name) that held it, or `None`.
    """

    def __init__(self, refused, source=None):
        self.refused = refused
        self.source = source
        where = f" in {source}" if source else ""
        super().__init__(
            f"Refused to load {refused}{where}: an official checkpoint holds only "
            "a dict of name -> numeric NumPy array or number. The file is not an "
            "official checkpoint, or it has been tampered with; nothing in it was "
            "executed."
        )


class CheckpointFormatError(ValueError):
    """The file is not laid out like an official checkpoint.

    Raised for empty, truncated or random files (naming the file) and for a
    pickle whose content is not `{"blobs": {name: array}}` or a bare blobs
    dict.
    """


class _Refused(Exception):
    # Internal: carries the `refused` text of an UnsafePickleError up to where
    # the source name is known.
    pass


class _Malformed(Exception):
    # Internal: the text of a CheckpointFormatError, without the file name.
    pass


# ----------------------------------------------------------------- reading


class _BoundedReader:
    """Reads at most what is left in the file; a longer read is refused."""

    def __init__(self, file, size):
        self._file = file
        self.size = size
        self.remaining = size

    def tell(self):
        return self.size - self.remaining

    def read(self, n=-1):
        if n is None or n < 0:
            n = self.remaining
        if n > self.remaining:
            if not self.remaining:
                raise _Malformed(
                    f"the file ends after {self.size:,} bytes, in the middle of the "
                    "pickle (it is truncated)"
                )
            raise _Malformed(
                f"a field claims {n:,} bytes but only {self.remaining:,} remain "
                "(the file is truncated, or not a checkpoint)"
            )
        data = self._file.read(n)
        self.remaining -= len(data)
        return data

    def readline(self):
        line = self._file.readline(self.remaining)
        self.remaining -= len(line)
        return line


# ------------------------------------------------------------ reconstructors

_NUMERIC_KINDS = "biufc"
_DTYPE_CODE = re.compile(r"^[biufc]\d{1,2}$")


class _NdarrayType:
    """Stands for `numpy.ndarray`, which is admitted only as the first argument
    of `_reconstruct` (calling it would allocate an array of any shape)."""

    name = "numpy.ndarray"


_NDARRAY = _NdarrayType()


class _Callable:
    def __init__(self, name, function):
        self.name = name
        self.function = function


def _text(value, what):
    if isinstance(value, bytes):
        return value.decode("latin1")
    if isinstance(value, str):
        return value
    raise _Refused(f"{what} of type {type(value).__name__}")


def _shape(value, what):
    if not isinstance(value, tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value
    ):
        raise _Refused(f"{what} {_short(value)} (not a tuple of non-negative integers)")
    return value


def _a(value):
    # "a dict", "an int": the type of `value`, with its article.
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_dtype(dtype, what="array"):
    if not isinstance(dtype, np.dtype):
        raise _Refused(f"{what} with dtype {_short(dtype)} (not a NumPy dtype)")
    if (
        dtype.hasobject
        or dtype.fields is not None
        or dtype.subdtype is not None
        or dtype.kind not in _NUMERIC_KINDS
    ):
        raise _Refused(f"{what} of dtype {dtype}")
    return dtype


def _as_bytes(data, what):
    # Python-2 `str` arrives decoded as latin-1; NumPy re-encodes it.
    if isinstance(data, (bytes, bytearray)):
        return len(data)
    if isinstance(data, str):
        return len(data)
    raise _Refused(f"{what} data of type {type(data).__name__}")


class _Machine:
    """Runs the opcodes of one pickle under the limits described above."""

    def __init__(self, size, visit=None):
        self.size = size  # bytes in the file: what any array may claim
        self.claimed = 0  # bytes claimed by every array built so far
        self.visit = visit
        self.stack = []
        self.marks = []
        self.memo = {}
        self.depth = {}  # id(container) -> nesting depth (leaves: 0)
        self.sealed = set()  # ids of dicts placed inside another container
        self.unbuilt = {}  # id -> object awaiting its one BUILD
        self.keep = []  # keeps every container alive, so that ids stay unique
        self.globals = {}
        for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            self.globals[(module, "_reconstruct")] = _Callable(
                f"{module}._reconstruct", self._reconstruct)
            self.globals[(module, "scalar")] = _Callable(f"{module}.scalar", self._scalar)
        for module in ("numpy.core.numeric", "numpy._core.numeric"):
            self.globals[(module, "_frombuffer")] = _Callable(
                f"{module}._frombuffer", self._frombuffer)
        self.globals[("numpy", "ndarray")] = _NDARRAY
        self.globals[("numpy", "dtype")] = _Callable("numpy.dtype", self._dtype)
        self.globals[("_codecs", "encode")] = _Callable("_codecs.encode", self._encode)

    # -- bookkeeping

    def _claim(self, nbytes, what):
        if nbytes > self.size:
            raise _Refused(
                f"{what} of {_bytes(nbytes)} from a file of {_bytes(self.size)}"
            )
        self.claimed += nbytes
        if self.claimed > self.size:
            raise _Refused(
                f"arrays totalling {_bytes(self.claimed)} from a file of "
                f"{_bytes(self.size)}"
            )

    def _push(self, value):
        if self.visit is not None:
            self.visit(value)
        self.stack.append(value)

    def _pop(self):
        if not self.stack:
            raise _Malformed("the pickle's stack underflows")
        return self.stack.pop()

    def _pop_mark(self):
        if not self.marks:
            raise _Malformed("the pickle closes a MARK it never opened")
        start = self.marks.pop()
        if start > len(self.stack):
            raise _Malformed("the pickle's stack underflows")
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def _contain(self, container, items):
        # Depth of `container` after `items` are placed in it; seals dicts.
        depth = self.depth.get(id(container), 1)
        for item in items:
            child = self.depth.get(id(item))
            if child is None:
                continue
            if item is container:
                raise _Refused("a dict that contains itself")
            depth = max(depth, child + 1)
            self.sealed.add(id(item))
        if depth > MAX_NESTING:
            raise _Refused(f"containers nested deeper than {MAX_NESTING} levels")
        self.depth[id(container)] = depth
        return container

    def _new_container(self, container, items=()):
        self.keep.append(container)
        self.depth[id(container)] = 1
        return self._contain(container, items)

    def _set_items(self, target, pairs):
        if not isinstance(target, dict) or id(target) not in self.depth:
            raise _Malformed(f"the pickle sets items on a {type(target).__name__}")
        if id(target) in self.sealed:
            raise _Refused("a dict modified after it was placed in another container")
        self._contain(target, pairs)
        for i in range(0, len(pairs) - 1, 2):
            key = pairs[i]
            if id(key) in self.depth or not isinstance(key, (str, bytes, int, float)):
                raise _Refused(f"a dict key of type {type(key).__name__}")
            target[key] = pairs[i + 1]

    # -- callables

    def _reconstruct(self, subtype, shape, code):
        if subtype is not _NDARRAY:
            raise _Refused(f"_reconstruct of {_short(subtype)} (only numpy.ndarray)")
        shape = _shape(shape, "an array shape")
        dtype = _check_dtype(np.dtype(_dtype_code(code)))
        self._claim(math.prod(shape) * dtype.itemsize, f"an array of shape {shape}")
        array = _multiarray._reconstruct(np.ndarray, shape, dtype)
        self.unbuilt[id(array)] = array
        return array

    def _dtype(self, code, align=False, copy=True):
        # `copy=True` always: NumPy's built-in dtypes are shared singletons,
        # and the BUILD that follows must not modify them.
        dtype = _check_dtype(np.dtype(_dtype_code(code), bool(align), True))
        self.unbuilt[id(dtype)] = dtype
        return dtype

    def _scalar(self, dtype, data=None):
        _check_dtype(dtype, "a scalar")
        if data is None or _as_bytes(data, "a scalar") != dtype.itemsize:
            raise _Malformed(f"a scalar of dtype {dtype} without its {dtype.itemsize} bytes")
        return _multiarray.scalar(dtype, data)

    def _frombuffer(self, buffer, dtype, shape, order="C"):
        _check_dtype(dtype)
        shape = _shape(shape, "an array shape")
        nbytes = math.prod(shape) * dtype.itemsize
        if not isinstance(buffer, (bytes, bytearray)) or len(buffer) != nbytes:
            raise _Malformed(f"an array of shape {shape} and dtype {dtype} without its "
                             f"{nbytes} bytes")
        if order not in ("C", "F"):
            raise _Refused(f"array order {_short(order)}")
        self._claim(nbytes, f"an array of shape {shape}")
        return _numeric._frombuffer(buffer, dtype, shape, order)

    def _encode(self, text, encoding="latin1"):
        # Python 3 writes `bytes` into protocol-2 pickles as
        # `_codecs.encode(str, "latin1")`; admit exactly that and no other codec.
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "iso8859-1"):
            raise _Refused(f"_codecs.encode({type(text).__name__}, {_short(encoding)})")
        return text.encode("latin1")

    def _build(self, target, state):
        if id(target) not in self.unbuilt:
            raise _Refused(f"setting the state of a {type(target).__name__}")
        del self.unbuilt[id(target)]
        if isinstance(target, np.dtype):
            if (
                not isinstance(state, tuple)
                or len(state) < 5
                or any(part is not None for part in state[2:5])
            ):
                raise _Refused(f"a dtype state {_short(state)}")
            endian = state[1]
            if endian not in ("<", ">", "|", "="):
                raise _Refused(f"a dtype byte order {_short(endian)}")
            itemsize = target.itemsize
            target.__setstate__(state)
            _check_dtype(target)
            if target.itemsize != itemsize:
                raise _Refused(f"a dtype state {_short(state)}")
            return
        # An array from `_reconstruct`: (version, shape, dtype, fortran, data).
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise _Refused(f"an array state of type {type(state).__name__}")
        shape, dtype, _, data = state[-4:]
        shape = _shape(shape, "an array shape")
        _check_dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        self._claim(nbytes, f"an array of shape {shape} and dtype {dtype}")
        if _as_bytes(data, "an array") != nbytes:
            raise _Malformed(
                f"an array of shape {shape} and dtype {dtype} holds "
                f"{_as_bytes(data, 'an array')} bytes instead of {nbytes}"
            )
        target.__setstate__(state)

    # -- the opcodes

    def run(self, reader):
        push = self._push
        for opcode, arg, _ in pickletools.genops(reader):
            name = opcode.name
            if name in _LEAF_OPCODES:
                push(arg)
            elif name in ("NEWTRUE", "NEWFALSE"):
                push(name == "NEWTRUE")
            elif name in ("PROTO", "FRAME"):
                pass
            elif name == "STOP":
                if len(self.stack) != 1 or self.marks:
                    raise _Malformed("the pickle ends with an unbalanced stack")
                return self.stack[0]
            elif name == "POP":
                self._pop()
            elif name == "POP_MARK":
                self._pop_mark()
            elif name == "DUP":
                if not self.stack:
                    raise _Malformed("the pickle's stack underflows")
                push(self.stack[-1])
            elif name == "MARK":
                self.marks.append(len(self.stack))
            elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
                if not self.stack:
                    raise _Malformed("the pickle memoizes an empty stack")
                self.memo[len(self.memo) if name == "MEMOIZE" else arg] = self.stack[-1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                try:
                    push(self.memo[arg])
                except KeyError:
                    raise _Malformed(f"the pickle refers to memo entry {arg} it never stored") from None
            elif name in ("GLOBAL", "STACK_GLOBAL"):
                if name == "GLOBAL":
                    module, _, attribute = arg.partition(" ")
                else:
                    attribute, module = self._pop(), self._pop()
                    module = _text(module, "a module name")
                    attribute = _text(attribute, "a global name")
                try:
                    push(self.globals[(module, attribute)])
                except KeyError:
                    raise _Refused(f"{module}.{attribute}") from None
            elif name == "EMPTY_DICT":
                push(self._new_container({}))
            elif name == "DICT":
                items = self._pop_mark()
                target = self._new_container({})
                self._set_items(target, items)
                push(target)
            elif name in ("SETITEM", "SETITEMS"):
                pairs = [None, None]
                if name == "SETITEMS":
                    pairs = self._pop_mark()
                else:
                    pairs[1], pairs[0] = self._pop(), self._pop()
                if len(pairs) % 2:
                    raise _Malformed("the pickle sets a key without a value")
                if not self.stack:
                    raise _Malformed("the pickle's stack underflows")
                self._set_items(self.stack[-1], pairs)
            elif name in ("EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3"):
                if name == "TUPLE":
                    items = self._pop_mark()
                else:
                    count = _TUPLE_SIZES[name]
                    if len(self.stack) < count:
                        raise _Malformed("the pickle's stack underflows")
                    items = self.stack[len(self.stack) - count:]
                    del self.stack[len(self.stack) - count:]
                push(self._new_container(tuple(items), items))
            elif name == "REDUCE":
                args, function = self._pop(), self._pop()
                if not isinstance(function, _Callable):
                    what = function.name if function is _NDARRAY else type(function).__name__
                    raise _Refused(f"a call of {what}")
                if not isinstance(args, tuple):
                    raise _Malformed(f"{function.name} called without an argument tuple")
                try:
                    result = function.function(*args)
                except TypeError as error:
                    raise _Malformed(f"{function.name}{_short(args)}: {error}") from None
                push(result)
            elif name == "BUILD":
                state, target = self._pop(), self._pop()
                self._build(target, state)
                push(target)
            else:
                raise _Refused(_REFUSED_OPCODES.get(name, f"the pickle opcode {name}"))
        raise _Malformed("the pickle ends without STOP")


_LEAF_OPCODES = frozenset((
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4",
    "STRING", "BINSTRING", "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES",
    "BINBYTES8", "BYTEARRAY8", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE",
    "BINUNICODE8", "FLOAT", "BINFLOAT", "NONE",
))
_TUPLE_SIZES = {"EMPTY_TUPLE": 0, "TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}
_REFUSED_OPCODES = {
    **dict.fromkeys(("EMPTY_LIST", "LIST", "APPEND", "APPENDS"), "a list"),
    **dict.fromkeys(("EMPTY_SET", "ADDITEMS", "FROZENSET"), "a set"),
    **dict.fromkeys(("INST", "OBJ", "NEWOBJ", "NEWOBJ_EX"), "the construction of an object"),
    **dict.fromkeys(("PERSID", "BINPERSID"), "a persistent id"),
    **dict.fromkeys(("EXT1", "EXT2", "EXT4"), "an extension-registry global"),
    **dict.fromkeys(("NEXT_BUFFER", "READONLY_BUFFER"), "an out-of-band buffer"),
}


def _dtype_code(code):
    code = _text(code, "a dtype")
    if code != "b" and not _DTYPE_CODE.match(code):
        raise _Refused(f"dtype {code!r} (only numeric dtypes)")
    return code


def _bytes(n):
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


# ------------------------------------------------------------------ schema


def _is_number_or_array(value):
    if isinstance(value, np.ndarray):
        return value.dtype.kind in _NUMERIC_KINDS and value.dtype.fields is None
    if isinstance(value, np.generic):
        return value.dtype.kind in _NUMERIC_KINDS
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_schema(obj, visit):
    # Each entry of the top dict and of `blobs` is looked at once; nothing
    # else is walked (the machine has already bounded the nesting).
    if not isinstance(obj, dict):
        raise _Malformed(
            f"the pickle holds {_a(obj)}; an official checkpoint is a "
            "dict with a 'blobs' dict of name -> array"
        )
    blobs = obj
    if "blobs" in obj:
        other = [key for key in obj if key != "blobs" and key not in SOLVER_ENTRIES]
        if other:
            raise _Malformed(
                f"besides 'blobs' the checkpoint holds {_short(other)}; only "
                f"{' and '.join(map(repr, SOLVER_ENTRIES))} may sit beside it"
            )
        blobs = obj["blobs"]
        if not isinstance(blobs, dict):
            raise _Malformed(
                f"'blobs' is {_a(blobs)}, not a dict of name -> array"
            )
        for key in SOLVER_ENTRIES:
            if key in obj and not _is_number_or_array(obj[key]):
                raise _Malformed(f"{key!r} is {_a(obj[key])}, not a number")
    for name, value in blobs.items():
        if visit is not None:
            visit(value)
        if not isinstance(name, (str, bytes)):
            raise _Malformed(f"blob names must be strings; found {_short(name)}")
        if not _is_number_or_array(value):
            raise _Malformed(
                f"blob {_short(name)} is {_a(value)}, not a numeric "
                "array or number"
            )
    return obj


# --------------------------------------------------------------- interface


def safe_loads(data, source=None, visit=None):
    """Unpickles a checkpoint from bytes, admitting only the official layout.

    Args:
        data: the pickle, as `bytes`.
        source: a name for the data (e.g. a path) used in error messages.
        visit: optional callable, called once with every object the loader
            produces or examines (for tests that bound the work done).

    Returns:
        The unpickled dict: `{"blobs": {...}}` or a bare dict of blobs.

    Raises:
        UnsafePickleError: if the pickle names any callable other than NumPy's
            array and dtype reconstructors, holds a non-numeric array, claims
            an array larger than itself, or nests or shares containers in a
            way no checkpoint does.
        CheckpointFormatError: if the data is empty, truncated, not a pickle,
            or not laid out like a checkpoint.

    Example:

    >>> import pickle, numpy as np
    >>> safe_loads(pickle.dumps({"blobs": {"w": np.zeros(2)}}, protocol=2))["blobs"]["w"].shape
    (2,)
    """
    return safe_load(io.BytesIO(data), source=source, visit=visit)


def safe_load(file, source=None, visit=None):
    """Unpickles a checkpoint from a file object or path, with the limits of
    `safe_loads`.

    Python-2 pickles (the official checkpoints) are read as with
    `encoding="latin1"`, as NumPy needs. The time and memory spent are linear
    in the size of the file.

    Args:
        file: a binary file object, or a path.
        source: a name for the file used in error messages; defaults to the
            path.
        visit: see `safe_loads`.

    Returns:
        The unpickled dict.

    Raises:
        UnsafePickleError, CheckpointFormatError: see `safe_loads`; both name
            the file.

    Example:

    >>> blobs = safe_load("c2d_baseline_8x8_IN_pretrain_400k.pkl")  # doctest: +SKIP
    """
    if isinstance(file, (str, bytes)) or hasattr(file, "__fspath__"):
        with open(file, "rb") as f:
            return safe_load(f, source=source or os.fsdecode(file), visit=visit)
    name = source or "the data"
    try:
        start = file.tell()
        size = file.seek(0, io.SEEK_END) - start
        file.seek(start)
    except (AttributeError, OSError, ValueError):
        data = file.read()
        file, size = io.BytesIO(data), len(data)
    if size == 0:
        raise CheckpointFormatError(f"{name} is empty (0 bytes); it is not a checkpoint.")
    machine = _Machine(size, visit)
    try:
        return _check_schema(machine.run(_BoundedReader(file, size)), visit)
    except _Refused as error:
        raise UnsafePickleError(str(error), source) from None
    except _Malformed as error:
        raise CheckpointFormatError(
            f"{name} is not a checkpoint in the official format: {error}."
        ) from None
    except (ValueError, TypeError, UnicodeError, OverflowError, EOFError,
            pickle.UnpicklingError) as error:
        # pickletools' decoding errors (unknown opcode, bad text fields) and
        # NumPy's refusals of inconsistent arguments.
        raise CheckpointFormatError(
            f"{name} could not be read as a pickle ({type(error).__name__}: "
            f"{error}); the file is damaged or not a checkpoint."
        ) from None
    finally:
        machine.keep.clear()
