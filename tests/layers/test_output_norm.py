"""The normalisation after W: folded into W, or fused on TensorFlow."""

import keras
import numpy as np
import pytest

from keras_nonlocal.layers import output_norm
from keras_nonlocal.layers.affine import Affine
from keras_nonlocal.layers.linear import bias_add
from keras_nonlocal.layers.linear import linear
from tests.layers.backend_utils import gradients


def _batch_norm(seed=0, channels=6):
    rng = np.random.default_rng(seed)
    bn = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    bn.build((None, None, channels))
    bn.set_weights([rng.normal(1, 0.2, channels), rng.normal(0, 0.1, channels),
                    rng.normal(0, 0.1, channels), rng.uniform(0.5, 1.5, channels)])
    return bn


@pytest.mark.parametrize("norm", ["batch_norm", "frozen_batch_norm", "affine", None])
def test_fixed_normalisation_folds_into_w(norm):
    rng = np.random.default_rng(1)
    y = rng.normal(size=(2, 7, 4)).astype("float32")
    kernel = rng.normal(size=(4, 6)).astype("float32")
    bias = rng.normal(size=6).astype("float32")
    if norm is None:
        layer, want = None, y @ kernel + bias
    elif norm == "affine":
        layer = Affine()
        layer.build((None, 6))
        layer.set_weights([rng.normal(size=6), rng.normal(size=6)])
        gamma, beta = layer.get_weights()
        want = (y @ kernel + bias) * gamma + beta
    else:
        layer = _batch_norm()
        layer.trainable = norm == "batch_norm"
        gamma, beta, mean, var = layer.get_weights()
        want = (y @ kernel + bias - mean) / np.sqrt(var + 1e-5) * gamma + beta
    # Inference, and training where the statistics are frozen.
    for training in (False, norm == "frozen_batch_norm"):
        k, b, batch_norm = output_norm.folded_output_projection(kernel, bias, layer, training)
        assert not batch_norm
        got = keras.ops.convert_to_numpy(linear(y, keras.ops.cast(k, "float32"),
                                                keras.ops.cast(b, "float32")))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_trained_batch_norm_is_not_folded():
    bn = _batch_norm()
    kernel, bias = np.ones((4, 6), "float32"), np.zeros(6, "float32")
    k, b, batch_norm = output_norm.folded_output_projection(kernel, bias, bn, True)
    assert batch_norm and k is kernel and b is bias


def test_batch_norm_training_matches_keras_output_statistics_and_gradients():
    x = np.random.default_rng(2).normal(2, 3, (3, 5, 6)).astype("float32")
    bias = np.random.default_rng(3).normal(0, 1, 6).astype("float32")
    ours, keras_bn = _batch_norm(), _batch_norm()
    got = keras.ops.convert_to_numpy(output_norm.batch_norm_training(ours, x, bias))
    want = keras.ops.convert_to_numpy(keras_bn(x + bias, training=True))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    for a, b in zip(ours.non_trainable_weights, keras_bn.non_trainable_weights):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b),
                                   rtol=1e-5, atol=1e-6)

    def loss(out):
        return keras.ops.sum(keras.ops.square(out) * keras.ops.arange(6, dtype=out.dtype))

    class Wrapped(keras.layers.Layer):
        def __init__(self, bn, fused):
            super().__init__()
            self.bn, self.fused = bn, fused
            self.built = True  # bn is built

        def call(self, inputs, training=None):
            if self.fused:
                return output_norm.batch_norm_training(self.bn, inputs)
            return self.bn(inputs, training=True)

    for a, b in zip(gradients(Wrapped(_batch_norm(), True), x, loss),
                    gradients(Wrapped(_batch_norm(), False), x, loss)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_a_bias_before_batch_statistics_gets_a_zero_gradient_not_none():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the fused path is TensorFlow's")
    import tensorflow as tf

    bias = tf.Variable(np.ones(6, "float32"))
    x = np.random.default_rng(4).normal(size=(2, 4, 6)).astype("float32")
    with tf.GradientTape() as tape:
        out = output_norm.batch_norm_training(_batch_norm(), x, bias)
        loss = tf.reduce_sum(out * tf.range(6, dtype="float32"))
    grad = tape.gradient(loss, bias)
    assert grad is not None
    np.testing.assert_array_equal(grad.numpy(), np.zeros(6))


def test_linear_and_bias_add_match_numpy_with_unknown_sizes():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 3, 5, 4)).astype("float32")
    kernel = rng.normal(size=(4, 7)).astype("float32")
    bias = rng.normal(size=7).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(linear(x, kernel, bias)),
                               x @ kernel + bias, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bias_add(x @ kernel, bias)),
                               x @ kernel + bias, rtol=1e-6)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        spec = tf.TensorSpec((None, None, 5, 4), "float32")
        fn = tf.function(lambda t: linear(t, kernel, bias), input_signature=[spec])
        assert fn.get_concrete_function().structured_outputs.shape.as_list() == [None, None, 5, 7]
        np.testing.assert_allclose(fn(x).numpy(), x @ kernel + bias, rtol=1e-5, atol=1e-5)
