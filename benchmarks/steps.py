"""Forward and forward+backward steps of a Keras layer on the active backend.

Each step is compiled the way a user of that backend would run it:
`tf.function` on TensorFlow, `jax.jit` on JAX, eager on PyTorch; with
`jit_compile`, XLA on TensorFlow and `torch.compile` on PyTorch (JAX always
compiles). Each returned
callable blocks until its result is computed.
"""

import keras
import numpy as np


def _loss(out):
    return keras.ops.mean(keras.ops.square(out))


def layer_steps(layer, x, jit_compile=False):
    """Returns `(forward, forward_backward)` callables for `layer` on `x`."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)

        @tf.function(jit_compile=jit_compile)
        def forward():
            return layer(x, training=False)

        @tf.function(jit_compile=jit_compile)
        def forward_backward():
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = _loss(layer(x, training=True))
            return tape.gradient(loss, [x] + layer.trainable_weights)

        return (lambda: forward().numpy()), (lambda: [g.numpy() for g in forward_backward()])
    if backend == "jax":
        import jax

        x = jax.numpy.asarray(x)
        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]

        @jax.jit
        def forward(tv, ntv, x):
            return layer.stateless_call(tv, ntv, x, training=False)[0]

        @jax.jit
        def forward_backward(tv, ntv, x):
            def loss_of(tv, x):
                return _loss(layer.stateless_call(tv, ntv, x, training=True)[0])

            return jax.grad(loss_of, argnums=(0, 1))(tv, x)

        return (
            lambda: jax.block_until_ready(forward(trainable, non_trainable, x)),
            lambda: jax.block_until_ready(forward_backward(trainable, non_trainable, x)),
        )
    if backend == "torch":
        import torch

        x = torch.as_tensor(np.asarray(x))

        call = torch.compile(layer) if jit_compile else layer

        def forward():
            with torch.no_grad():
                return call(x, training=False)

        def forward_backward():
            xg = x.detach().requires_grad_(True)
            for v in layer.trainable_weights:
                v.value.grad = None
            _loss(call(xg, training=True)).backward()
            return xg.grad

        return forward, forward_backward
    raise NotImplementedError(f"backend {backend!r}")
