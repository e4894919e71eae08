"""A fixed per-channel affine map, the official stand-in for frozen BatchNorm."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_nonlocal")
class Affine(keras.layers.Layer):
    """Per-channel `y = gamma * x + beta` over the last axis.

    The official long-clip models (128×1, 32×4) replace BatchNorm by this map
    (Caffe2 `AffineNd`, blobs `<name>_s` and `<name>_b`), since their batch
    statistics are frozen.

    Args:
        gamma_initializer: initializer of the scale; `"zeros"` makes a
            residual branch ending in this layer start at zero.
        beta_initializer: initializer of the offset.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Example:

    >>> import numpy as np
    >>> layer = Affine(gamma_initializer="ones")
    >>> tuple(layer(np.ones((2, 3), "float32")).shape)
    (2, 3)
    """

    def __init__(self, gamma_initializer="ones", beta_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.beta_initializer = keras.initializers.get(beta_initializer)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                "Affine needs a known last (channel) dimension; "
                f"received input_shape={input_shape}."
            )
        self.gamma = self.add_weight(
            shape=(channels,), initializer=self.gamma_initializer, name="gamma"
        )
        self.beta = self.add_weight(
            shape=(channels,), initializer=self.beta_initializer, name="beta"
        )

    def call(self, inputs):
        gamma = ops.cast(self.gamma, inputs.dtype)
        beta = ops.cast(self.beta, inputs.dtype)
        return inputs * gamma + beta

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "gamma_initializer": keras.initializers.serialize(self.gamma_initializer),
                "beta_initializer": keras.initializers.serialize(self.beta_initializer),
            }
        )
        return config
