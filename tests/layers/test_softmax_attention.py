"""Softmax attention's hand-written gradients against automatic differentiation."""

import keras
import numpy as np
import pytest

from keras_nonlocal.layers.pairwise import pairwise_weights
from keras_nonlocal.layers.softmax_attention import chunked_softmax_attention
from keras_nonlocal.layers.softmax_attention import softmax_attention
from tests.layers.backend_utils import gradients


class Attention(keras.layers.Layer):
    """`q`, `k`, `v` (and a key bias) as weights, so their gradients can be taken."""

    def __init__(self, attend, with_bias, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        shapes = {"q": (2, 9, 4), "k": (2, 6, 4), "v": (2, 6, 3)}
        if with_bias:
            shapes["key_bias"] = (2, 6)
        self.tensors = {
            name: self.add_weight(shape=shape, name=name,
                                  initializer=keras.initializers.Constant(rng.normal(size=shape)))
            for name, shape in shapes.items()
        }
        self.attend = attend

    def call(self, unused, training=None):
        # Tensors computed from the weights, as inside the block.
        t = {name: keras.ops.multiply(w, 1.0) for name, w in self.tensors.items()}
        return self.attend(t["q"], t["k"], t["v"], t.get("key_bias"))


def autodiff(q, k, v, key_bias):
    return keras.ops.matmul(pairwise_weights("embedded_gaussian", q, k, key_bias=key_bias), v)


def _loss(out):
    return keras.ops.sum(keras.ops.square(out) * keras.ops.arange(out.shape[-1], dtype=out.dtype))


@pytest.mark.parametrize("with_bias", [False, True], ids=["no_bias", "key_bias"])
@pytest.mark.parametrize(
    "attend",
    [softmax_attention, lambda q, k, v, b: chunked_softmax_attention(q, k, v, 4, b)],
    ids=["whole", "chunked"],
)
def test_outputs_and_gradients_match_automatic_differentiation(attend, with_bias):
    ours, reference = Attention(attend, with_bias), Attention(autodiff, with_bias)
    x = np.zeros((1,), "float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ours(x)),
                               keras.ops.convert_to_numpy(reference(x)), rtol=1e-5, atol=1e-5)
    for weight, got, want in zip(ours.trainable_weights, gradients(ours, x, _loss),
                                 gradients(reference, x, _loss)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=weight.name)
