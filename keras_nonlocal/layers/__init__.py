"""Non-local blocks as Keras 3 layers.

`NonLocalBlock` takes the pairwise function as `mode`; the four named classes
fix it. All run on the TensorFlow, JAX and PyTorch backends.
"""

from keras_nonlocal.layers.affine import Affine
from keras_nonlocal.layers.attention_rows import AttentionRow
from keras_nonlocal.layers.attention_rows import attention_rows
from keras_nonlocal.layers.non_local import ConcatenationNonLocal
from keras_nonlocal.layers.non_local import DotProductNonLocal
from keras_nonlocal.layers.non_local import EmbeddedGaussianNonLocal
from keras_nonlocal.layers.non_local import GaussianNonLocal
from keras_nonlocal.layers.non_local import NonLocalBlock
from keras_nonlocal.layers.pairwise import MODES

__all__ = [
    "Affine",
    "AttentionRow",
    "ConcatenationNonLocal",
    "DotProductNonLocal",
    "EmbeddedGaussianNonLocal",
    "GaussianNonLocal",
    "MODES",
    "NonLocalBlock",
    "attention_rows",
]
