"""The in-run baseline: a plain non-local block as a user would hand-write it.

Embedded Gaussian, 1×1×1 `Conv3D` projections, `MaxPooling3D` sub-sampling,
the full affinity matrix materialised, softmax, BatchNorm after W. No
chunking, no fused attention, no fused projections.
"""

import keras
from keras import layers, ops


class PlainNonLocal3D(keras.layers.Layer):
    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        inner = channels // 2
        self.inner = inner
        self.theta = layers.Conv3D(inner, 1)
        self.phi = layers.Conv3D(inner, 1)
        self.g = layers.Conv3D(inner, 1)
        self.pool = layers.MaxPooling3D((1, 2, 2))
        self.out = layers.Conv3D(channels, 1)
        self.bn = layers.BatchNormalization(gamma_initializer="zeros")

    def call(self, x, training=None):
        b = ops.shape(x)[0]
        theta = ops.reshape(self.theta(x), (b, -1, self.inner))
        pooled = self.pool(x)
        phi = ops.reshape(self.phi(pooled), (b, -1, self.inner))
        g = ops.reshape(self.g(pooled), (b, -1, self.inner))
        affinity = ops.matmul(theta, ops.transpose(phi, (0, 2, 1))) * self.inner**-0.5
        y = ops.matmul(ops.softmax(affinity, axis=-1), g)
        y = ops.reshape(y, ops.shape(x)[:-1] + (self.inner,))
        return x + self.bn(self.out(y), training=training)
