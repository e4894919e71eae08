"""Gradients on whichever Keras backend the tests run under."""

import keras
import numpy as np


def gradients(layer, x, loss_fn, training=True):
    """Gradients of `loss_fn(layer(x))` for each trainable weight of `layer`.

    Returns:
        A list of NumPy arrays, in `layer.trainable_weights` order.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn(layer(x, training=training))
        grads = tape.gradient(loss, layer.trainable_weights)
        return [np.asarray(g) for g in grads]
    if backend == "jax":
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss_of(tv):
            out, _ = layer.stateless_call(tv, non_trainable, x, training=training)
            return loss_fn(out)

        return [np.asarray(g) for g in jax.grad(loss_of)(trainable)]
    if backend == "torch":
        for v in layer.trainable_weights:
            v.value.grad = None
        loss = loss_fn(layer(x, training=training))
        loss.backward()
        return [v.value.grad.detach().cpu().numpy() for v in layer.trainable_weights]
    raise NotImplementedError(backend)
