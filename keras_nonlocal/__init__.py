"""keras-nonlocal: Non-local Neural Networks for Keras 3.

Subpackages:
    layers: the non-local block, all four pairwise functions.
    applications: NL-ResNet, C2D / I3D / NL-I3D builders and presets.
    weights: download, cache, checkpoint reading and conversion.
    data: video decoding, clip sampling and tf.data pipelines.
    tuning: keras-tuner search over block placement.
    training: the paper's training recipe and multi-view evaluation.
"""

from keras_nonlocal.version import __version__
from keras_nonlocal import layers

__all__ = ["__version__", "layers"]
