"""Reading an official Caffe2 checkpoint into named NumPy blobs.

An official checkpoint is a pickled dict `{"blobs": {name: array}}` (the
ImageNet files may be the bare name -> array dict). Besides the parameters it
can hold solver state: a `<param>_momentum` blob per trainable parameter, the
learning rate `lr` and the iteration `model_iter`. Those are set aside here,
never mapped.
"""

import dataclasses
import re

import numpy as np

from keras_nonlocal.weights.safe_pickle import CheckpointFormatError
from keras_nonlocal.weights.safe_pickle import safe_load

__all__ = ["Checkpoint", "CheckpointFormatError", "blobs_from_object", "is_solver_state",
           "read_checkpoint"]

# Names of solver state, never model parameters.
_SOLVER_STATE = re.compile(r"(_momentum$|^lr$|^model_iter$|^iter$|^iteration$)")


@dataclasses.dataclass
class Checkpoint:
    """The parameters of an official checkpoint.

    Attributes:
        blobs: dict of parameter name -> float32 NumPy array, in file order.
        solver_state: names of the solver-state entries that were set aside
            (`*_momentum`, `lr`, `model_iter`, ...).
        source: where the blobs were read from (a path), for messages.
    """

    blobs: dict
    solver_state: list = dataclasses.field(default_factory=list)
    source: str | None = None

    def __contains__(self, name):
        return name in self.blobs

    def __getitem__(self, name):
        return self.blobs[name]

    def __len__(self):
        return len(self.blobs)


def is_solver_state(name):
    """Whether a blob name is solver state rather than a model parameter.

    Args:
        name: a blob name.

    Returns:
        `True` for `*_momentum`, `lr`, `model_iter` and the like.

    Example:

    >>> is_solver_state("conv1_w_momentum"), is_solver_state("conv1_w")
    (True, False)
    """
    return bool(_SOLVER_STATE.search(name))


def blobs_from_object(obj, source=None):
    """Extracts the parameter blobs from an unpickled checkpoint object.

    Args:
        obj: the unpickled object: `{"blobs": {...}}` or a bare dict of blobs.
        source: a name for messages.

    Returns:
        A `Checkpoint`.

    Raises:
        CheckpointFormatError: if `obj` is not a dict of named arrays.

    Example:

    >>> import numpy as np
    >>> ckpt = blobs_from_object({"blobs": {"pred_b": np.zeros(3), "lr": 0.1}})
    >>> list(ckpt.blobs), ckpt.solver_state
    (['pred_b'], ['lr'])
    """
    where = f" {source}" if source else ""
    if not isinstance(obj, dict):
        raise CheckpointFormatError(
            f"The checkpoint{where} holds a {type(obj).__name__}; an official "
            "checkpoint is a dict with a 'blobs' dict of name -> array."
        )
    if "blobs" in obj:
        obj = obj["blobs"]
        if not isinstance(obj, dict):
            raise CheckpointFormatError(
                f"'blobs' in the checkpoint{where} is a {type(obj).__name__}, "
                "not a dict of name -> array."
            )
    blobs, solver_state = {}, []
    for name, value in obj.items():
        if isinstance(name, bytes):
            name = name.decode("latin1")
        if not isinstance(name, str):
            raise CheckpointFormatError(
                f"Blob names must be strings; found {name!r} in the checkpoint{where}."
            )
        if is_solver_state(name):
            solver_state.append(name)
            continue
        array = np.asarray(value)
        if not np.issubdtype(array.dtype, np.number):
            raise CheckpointFormatError(
                f"Blob {name!r} in the checkpoint{where} has dtype {array.dtype}, "
                "not a numeric array."
            )
        blobs[name] = array.astype(np.float32, copy=False)
    if not blobs:
        raise CheckpointFormatError(f"The checkpoint{where} holds no parameter blobs.")
    return Checkpoint(blobs=blobs, solver_state=solver_state, source=source)


def read_checkpoint(path):
    """Reads an official `.pkl` checkpoint with the restricted unpickler.

    Args:
        path: path of the `.pkl` file.

    Returns:
        A `Checkpoint` with float32 blobs, solver state set aside.

    Raises:
        keras_nonlocal.weights.UnsafePickleError: if the pickle tries to load
            anything but numeric arrays and numbers in the official layout, or
            claims more memory than the file holds.
        CheckpointFormatError: if the file is empty, truncated, not a pickle
            or not laid out like a checkpoint (the message names the file).

    Example:

    >>> ckpt = read_checkpoint("i3d_nonlocal_8x8_IN_pretrain_400k.pkl")  # doctest: +SKIP
    >>> ckpt["conv1_w"].shape  # doctest: +SKIP
    (64, 3, 5, 7, 7)
    """
    return blobs_from_object(safe_load(path, source=str(path)), source=str(path))
