"""Softmax attention with hand-written, cheaper gradients.

`softmax(q k^T + key_bias) v` in two forms, both differentiable with respect
to every input and both using `sum_j w_ij dL/dw_ij = dL/dy_i . y_i`, so the
softmax's gradient needs no `(N, M)` product-and-reduce (automatic
differentiation spends two passes over the weights on it):

- `softmax_attention` keeps the `(N, M)` weights for the backward pass;
- `chunked_softmax_attention` computes `chunk_size` queries at a time, so no
  pass holds the full matrix. Its forward pass keeps only its output and
  each query's log-sum-exp; the backward pass walks the chunks again and
  rebuilds each chunk's weights from the logits and the stored log-sum-exp
  (one matrix product instead of re-running the whole chunk). This is the
  recomputation scheme of memory-efficient ("flash") attention.

Both run on every Keras backend: the arithmetic is `keras.ops`, and the loop
over chunks is each backend's own (`jax.lax.scan`, a `tf.while_loop`, a
Python loop on PyTorch; see `_scan`).
"""

import keras
from keras import ops


def _scan(step, init, xs, ys_dtypes):
    """`jax.lax.scan` over the leading axis of the tuple `xs`, on any backend.

    `step(carry, x) -> (carry, ys)`, with `ys` a tuple whose dtypes are
    `ys_dtypes`. (`keras.ops.scan` on TensorFlow requires `ys` to have the
    carry's shape, which these loops do not.)
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.lax.scan(step, init, xs)
    if backend == "tensorflow":
        import tensorflow as tf

        length = tf.shape(xs[0])[0]
        arrays = tuple(tf.TensorArray(dtype, size=length) for dtype in ys_dtypes)

        def body(i, carry, arrays):
            new_carry, ys = step(carry, tuple(tf.gather(x, i) for x in xs))
            # Keep the carry's static shape (reshapes may hide the batch size).
            for new, old in zip(tf.nest.flatten(new_carry), tf.nest.flatten(carry)):
                new.set_shape(old.shape)
            return i + 1, new_carry, tuple(a.write(i, y) for a, y in zip(arrays, ys))

        # One iteration at a time: iterations in flight would each hold
        # their own (chunk, M) blocks, which is what chunking avoids.
        _, carry, arrays = tf.while_loop(
            lambda i, *_: i < length,
            body,
            (tf.constant(0), init, arrays),
            parallel_iterations=1,
        )
        return carry, tuple(a.stack() for a in arrays)
    carry, outputs = init, []
    for i in range(xs[0].shape[0]):
        carry, ys = step(carry, tuple(x[i] for x in xs))
        outputs.append(ys)
    return carry, tuple(ops.stack(column) for column in zip(*outputs))


def _to_chunks(x, chunk_size, num_chunks):
    """`(batch, N, c)` -> `(num_chunks, batch, chunk_size, c)`, zero-padded."""
    n = ops.shape(x)[1]
    x = ops.pad(x, [[0, 0], [0, num_chunks * chunk_size - n], [0, 0]])
    x = ops.reshape(x, (-1, num_chunks, chunk_size, x.shape[-1]))
    return ops.transpose(x, (1, 0, 2, 3))


def _from_chunks(x, n):
    """Inverse of `_to_chunks`: `(num_chunks, batch, chunk, c)` -> `(batch, n, c)`."""
    shape = ops.shape(x)
    x = ops.transpose(x, (1, 0, 2, 3))
    x = ops.reshape(x, (-1, shape[0] * shape[2], x.shape[-1]))
    return x[:, :n]


def chunked_softmax_attention(q, k, v, chunk_size, key_bias=None):
    """`softmax(q k^T + key_bias) v`, `chunk_size` queries at a time.

    Exact (up to floating-point summation order) and differentiable with
    respect to all of its inputs; neither the forward nor the backward pass
    holds more than a `(batch, chunk_size, M)` block of the weights.

    Args:
        q: queries, `(batch, N, d)`, already scaled.
        k: keys, `(batch, M, d)`.
        v: values, `(batch, M, d_v)`.
        chunk_size: query positions per block (a Python int).
        key_bias: optional `(batch, M)` term added to every row of the
            logits.

    Returns:
        `(batch, N, d_v)`, in the dtype of `q`.

    Example:

    >>> import numpy as np
    >>> q, k, v = (np.random.rand(1, n, 4).astype("float32") for n in (10, 6, 6))
    >>> y = chunked_softmax_attention(q, k, v, chunk_size=4)
    >>> w = np.exp(q @ k[0].T)
    >>> want = (w / w.sum(-1, keepdims=True)) @ v[0]
    >>> bool(np.allclose(keras.ops.convert_to_numpy(y), want, atol=1e-5))
    True
    """
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer; received {chunk_size!r}.")
    if key_bias is not None:
        key_bias = ops.cast(key_bias, "float32")
    return _chunked_attention(q, k, v, key_bias, chunk_size=chunk_size)


def balanced_chunks(n, chunk_size):
    """`(num_chunks, size)` for `n` positions in chunks of at most `chunk_size`.

    With a static `n` the chunks are made as equal as possible, so padding
    costs less than one position per chunk (3136 positions in chunks of at
    most 1024 become 4 chunks of 784, not 4 of 1024 with 960 padded).
    """
    num_chunks = (n + chunk_size - 1) // chunk_size
    if isinstance(n, int):
        chunk_size = (n + num_chunks - 1) // num_chunks
    return num_chunks, chunk_size


def _logits(q, k, key_bias):
    """`q k^T + key_bias` in float32: `(batch, N, M)`."""
    logits = ops.cast(ops.einsum("bnd,bmd->bnm", q, k), "float32")
    return logits if key_bias is None else logits + ops.expand_dims(key_bias, 1)


def softmax_over_keys(logits):
    """`softmax(logits)` over the last (key) axis.

    A single key gets the weight 1 without a softmax: Keras' `softmax` warns
    about an axis of size 1, which is no mistake here (an input whose
    pooled axes all have one position has one key).

    Args:
        logits: `(batch, N, M)` tensor.

    Returns:
        The weights, rows summing to 1.

    Example:

    >>> import numpy as np
    >>> keras.ops.convert_to_numpy(softmax_over_keys(np.zeros((1, 2, 1), "float32")))[0, :, 0]
    array([1., 1.], dtype=float32)
    """
    if logits.shape[-1] == 1:
        return ops.ones_like(logits)
    return ops.softmax(logits, axis=-1)


def _chunked_attention(q, k, v, key_bias, chunk_size):
    n = ops.shape(q)[1]
    num_chunks, chunk_size = balanced_chunks(n, chunk_size)

    def forward_with_gradient(q, k, v, key_bias):
        """`(y, gradient)`: `gradient(dy)` returns `(dq, dk, dv, dbias)`,
        `dbias` being `None` without a key bias."""
        q_chunks = _to_chunks(q, chunk_size, num_chunks)

        def forward_chunk(carry, chunk):
            (q_block,) = chunk
            logits = _logits(q_block, k, key_bias)
            peak = ops.max(logits, axis=-1, keepdims=True)
            weights = ops.exp(logits - peak)
            total = ops.sum(weights, axis=-1, keepdims=True)
            y = ops.matmul(ops.cast(weights, v.dtype), v) / ops.cast(total, v.dtype)
            return carry, (y, peak + ops.log(total))

        _, (y_chunks, lse_chunks) = _scan(
            forward_chunk, (), (q_chunks,), (v.dtype, "float32")
        )

        def gradient(upstream):
            dy_chunks = _to_chunks(ops.cast(upstream, v.dtype), chunk_size, num_chunks)
            # sum_j w_ij dw_ij == dy_i . y_i: a (N,) vector, not an (N, M) sum.
            row_dots = ops.sum(
                ops.cast(dy_chunks, "float32") * ops.cast(y_chunks, "float32"),
                axis=-1,
                keepdims=True,
            )

            def backward_chunk(carry, chunk):
                q_block, dy_block, lse, row_dot = chunk
                weights = ops.exp(_logits(q_block, k, key_bias) - lse)
                dv = carry[1] + ops.einsum(
                    "bnm,bnd->bmd", ops.cast(weights, v.dtype), dy_block
                )
                dweights = ops.cast(ops.einsum("bnd,bmd->bnm", dy_block, v), "float32")
                dlogits = weights * (dweights - row_dot)
                extra = () if key_bias is None else (carry[2] + ops.sum(dlogits, axis=1),)
                dlogits = ops.cast(dlogits, q.dtype)
                dk = carry[0] + ops.einsum("bnm,bnd->bmd", dlogits, q_block)
                return (dk, dv) + extra, (ops.matmul(dlogits, k),)

            init = (ops.zeros_like(k), ops.zeros_like(v))
            if key_bias is not None:
                init += (ops.zeros_like(key_bias),)
            sums, (dq_chunks,) = _scan(
                backward_chunk,
                init,
                (q_chunks, dy_chunks, lse_chunks, row_dots),
                (q.dtype,),
            )
            dbias = None if key_bias is None else sums[2]
            return _from_chunks(dq_chunks, n), sums[0], sums[1], dbias

        return _from_chunks(y_chunks, n), gradient

    return _differentiable(forward_with_gradient, q, k, v, key_bias)


def softmax_attention(q, k, v, key_bias=None):
    """`softmax(q k^T + key_bias) v` in one pass, its weights kept for the gradient.

    The logits and the softmax run in float32 whatever the inputs' dtype.

    Args:
        q: queries, `(batch, N, d)`, already scaled.
        k: keys, `(batch, M, d)`.
        v: values, `(batch, M, d_v)`.
        key_bias: optional `(batch, M)` term added to every row of the
            logits.

    Returns:
        `(batch, N, d_v)`, in the dtype of `v`.

    Example:

    >>> import numpy as np
    >>> q, k, v = (np.random.rand(1, n, 4).astype("float32") for n in (10, 6, 6))
    >>> y = softmax_attention(q, k, v)
    >>> w = np.exp(q @ k[0].T)
    >>> want = (w / w.sum(-1, keepdims=True)) @ v[0]
    >>> bool(np.allclose(keras.ops.convert_to_numpy(y), want, atol=1e-5))
    True
    """
    if key_bias is not None:
        key_bias = ops.cast(key_bias, "float32")

    def forward_with_gradient(q, k, v, key_bias):
        weights = softmax_over_keys(_logits(q, k, key_bias))
        cast_weights = ops.cast(weights, v.dtype)
        y = ops.matmul(cast_weights, v)

        def gradient(upstream):
            dy = ops.cast(upstream, v.dtype)
            row_dot = ops.sum(
                ops.cast(dy, "float32") * ops.cast(y, "float32"), axis=-1, keepdims=True
            )
            dv = ops.einsum("bnm,bnd->bmd", cast_weights, dy)
            dweights = ops.cast(ops.einsum("bnd,bmd->bnm", dy, v), "float32")
            dlogits = weights * (dweights - row_dot)
            dbias = None if key_bias is None else ops.sum(dlogits, axis=1)
            dlogits = ops.cast(dlogits, q.dtype)
            dq = ops.matmul(dlogits, k)
            dk = ops.einsum("bnm,bnd->bmd", dlogits, q)
            return dq, dk, dv, dbias

        return y, gradient

    return _differentiable(forward_with_gradient, q, k, v, key_bias)


def _differentiable(forward_with_gradient, q, k, v, key_bias):
    """Runs `forward_with_gradient(q, k, v, key_bias) -> (y, gradient)` under
    `keras.ops.custom_gradient`; `gradient(dy)` returns `(dq, dk, dv, dbias)`,
    `dbias` being `None` without a key bias."""

    def upstream_of(args, upstream):
        # TensorFlow and JAX pass the upstream gradient positionally; PyTorch
        # passes the saved inputs positionally and the gradient by keyword.
        return args[0] if upstream is None else upstream

    if key_bias is None:

        @ops.custom_gradient
        def attend(q, k, v):
            y, gradient = forward_with_gradient(q, k, v, None)
            return y, lambda *args, upstream=None: gradient(upstream_of(args, upstream))[:3]

        return attend(q, k, v)

    @ops.custom_gradient
    def attend_with_bias(q, k, v, key_bias):
        y, gradient = forward_with_gradient(q, k, v, key_bias)
        return y, lambda *args, upstream=None: gradient(upstream_of(args, upstream))

    return attend_with_bias(q, k, v, key_bias)
