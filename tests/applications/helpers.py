"""Small shared helpers of the applications tests."""

import keras
import numpy as np


def tiny_kwargs(**overrides):
    """A small ResNet-style configuration that builds and runs in well under a second."""
    kwargs = dict(
        depths=(1, 1, 1, 1),
        widths=(4, 8, 8, 16),
        stem_filters=8,
        input_setting="8x8",
        temporal_pattern="i3d",
        include_top=False,
        input_shape=(4, 32, 32, 3),
    )
    kwargs.update(overrides)
    return kwargs


def randomize_bn(model, seed=0):
    """Gives every BatchNorm non-trivial statistics so weight copies matter."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([
                rng.uniform(0.5, 1.5, n).astype("float32"),
                rng.normal(0, 0.1, n).astype("float32"),
                rng.normal(0, 0.1, n).astype("float32"),
                rng.uniform(0.5, 1.5, n).astype("float32"),
            ])
