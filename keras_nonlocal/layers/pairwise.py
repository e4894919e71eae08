"""The four pairwise functions of the non-local block and their aggregation.

Every function here works on flattened positions: queries `q` of shape
`(batch, N, d)`, keys `k` of shape `(batch, M, d)` and values `v` of shape
`(batch, M, d_v)`, where `N` counts the query positions and `M` the key
positions after sub-sampling. The response of the block before its output
projection is `y_i = sum_j w(i, j) v_j` with the normalised weights

- Gaussian / embedded Gaussian: `w = softmax_j(scale * q_i . k_j)`;
- dot product: `w = (q_i . k_j) / M`;
- concatenation: `w = relu(a . q_i + b . k_j) / M`, where `[a, b]` is the
  projection vector `w_f` split into its query and key halves, so the
  `(N, M, 2 * d)` concatenation is never built.

The arithmetic is `keras.ops`, so the functions run on every Keras backend;
the one backend-specific piece is the loop over chunks on TensorFlow, a
`tf.map_fn` that keeps one chunk in flight (`_map_in_order`).
"""

import keras
from keras import ops

from keras_nonlocal.layers.softmax_attention import balanced_chunks
from keras_nonlocal.layers.softmax_attention import chunked_softmax_attention
from keras_nonlocal.layers.softmax_attention import softmax_attention
from keras_nonlocal.layers.softmax_attention import softmax_over_keys

MODES = ("gaussian", "embedded_gaussian", "dot_product", "concatenation")
SOFTMAX_MODES = ("gaussian", "embedded_gaussian")


def _has_fused_attention():
    # TensorFlow's `dot_product_attention` is the same matmul-softmax-matmul
    # with extra head transposes (measured slower here); JAX and PyTorch
    # dispatch to fused kernels.
    return keras.backend.backend() in ("jax", "torch")


def _transpose_keys(k):
    return ops.transpose(k, (0, 2, 1))


def _num_keys(k, dtype):
    # The divisor M is a count, not a function of the inputs: no gradient.
    return ops.cast(ops.shape(k)[1], dtype)


def _concatenation_scores(q, k, concat_kernel):
    """Projects queries and keys on their halves of `w_f`: `(batch, N|M, 1)`."""
    d = q.shape[-1]
    w_query = ops.cast(ops.reshape(concat_kernel[:d], (d, 1)), q.dtype)
    w_key = ops.cast(ops.reshape(concat_kernel[d:], (d, 1)), q.dtype)
    return ops.matmul(q, w_query), ops.matmul(k, w_key)


def _concatenation_weights(a, b):
    """`relu(a_i + b_j) / M` from the projected queries `a` and keys `b`."""
    return ops.relu(a + _transpose_keys(b)) / _num_keys(b, a.dtype)


def _scaled_queries(q, scale):
    """`q * scale`: scaling the (N, d) queries is cheaper than the (N, M) logits."""
    return q if scale == 1.0 else q * ops.cast(scale, q.dtype)


def pairwise_weights(mode, q, k, scale=1.0, concat_kernel=None, key_bias=None):
    """Computes the normalised pairwise weights `w(i, j)`.

    Args:
        mode: one of `MODES`.
        q: queries, `(batch, N, d)`.
        k: keys, `(batch, M, d)`.
        scale: multiplier of the softmax logits (softmax modes only).
        concat_kernel: the `(2 * d,)` projection vector `w_f` of the
            concatenation mode; ignored by the other modes.
        key_bias: optional `(batch, M)` term added to every row of the
            softmax logits or dot products (not the concatenation).

    Returns:
        A `(batch, N, M)` tensor in the dtype of `q`. Rows sum to 1 for the
        softmax modes.
    """
    if mode in SOFTMAX_MODES:
        q = _scaled_queries(q, scale)
        logits = ops.einsum("bnd,bmd->bnm", q, k)
        if key_bias is not None:
            logits = logits + ops.expand_dims(key_bias, 1)
        # Softmax always runs in float32, whatever the compute dtype.
        if keras.backend.standardize_dtype(logits.dtype) != "float32":
            return ops.cast(softmax_over_keys(ops.cast(logits, "float32")), q.dtype)
        return softmax_over_keys(logits)
    if mode == "dot_product":
        products = ops.einsum("bnd,bmd->bnm", q, k)
        if key_bias is not None:
            products = products + ops.expand_dims(key_bias, 1)
        return products / _num_keys(k, q.dtype)
    if mode == "concatenation":
        return _concatenation_weights(*_concatenation_scores(q, k, concat_kernel))
    raise ValueError(f"Unknown mode {mode!r}; expected one of {MODES}.")


def _attend(mode, q, k, v, scale, use_fused, key_bias=None):
    """`y = w(q, k) @ v`, by the cheapest exact route for the mode.

    For the concatenation mode, `q` and `k` are the projected scores of
    `_concatenation_scores`.
    """
    if mode == "concatenation":
        return ops.matmul(_concatenation_weights(q, k), v)
    if mode == "dot_product" and key_bias is None:
        # (q k^T / M) v == q (k^T v) / M: never builds the N x M matrix.
        kv = ops.matmul(_transpose_keys(k), v)
        return ops.matmul(q, kv) / _num_keys(k, q.dtype)
    same_depth = q.shape[-1] == k.shape[-1] == v.shape[-1]
    if mode in SOFTMAX_MODES and use_fused and same_depth and _has_fused_attention():
        bias = None if key_bias is None else key_bias[:, None, None, :]
        y = ops.dot_product_attention(
            ops.expand_dims(q, 2),
            ops.expand_dims(k, 2),
            ops.expand_dims(v, 2),
            bias=bias,
            scale=scale,
        )
        return ops.squeeze(y, 2)
    if mode in SOFTMAX_MODES:
        q = _scaled_queries(q, scale)
        return softmax_attention(q, k, v, key_bias)
    return ops.matmul(pairwise_weights(mode, q, k, scale, key_bias=key_bias), v)


def _map_in_order(fn, blocks, dtype):
    """`ops.map(fn, blocks)` with one block in flight at a time.

    TensorFlow's `map_fn` runs up to 10 iterations at once in a graph, each
    holding its own `(chunk, M)` weights, which is what chunking avoids.
    """
    if keras.backend.backend() != "tensorflow":
        return ops.map(fn, blocks)
    import tensorflow as tf

    return tf.map_fn(fn, blocks, parallel_iterations=1, fn_output_signature=dtype)


def non_local_attention(
    mode,
    q,
    k,
    v,
    scale=1.0,
    concat_kernel=None,
    chunk_size=None,
    use_fused=True,
    key_bias=None,
):
    """Aggregates values by the pairwise weights of `mode`.

    With `chunk_size`, queries are processed in blocks of `chunk_size`
    positions and each block's weights are recomputed in the backward pass,
    so neither pass holds the full `(N, M)` matrix. The result is exactly the
    unchunked one (up to floating-point summation order).

    Args:
        mode: one of `MODES`.
        q: queries, `(batch, N, d)`.
        k: keys, `(batch, M, d)`.
        v: values, `(batch, M, d_v)`.
        scale: multiplier of the softmax logits.
        concat_kernel: the `(2 * d,)` vector `w_f` of the concatenation mode.
            `None` there means `q` and `k` are already projected on `w_f`
            (`(batch, N, 1)` and `(batch, M, 1)`).
        chunk_size: `None` for one pass, or the number of query positions per
            block.
        use_fused: use `keras.ops.dot_product_attention` for the softmax
            modes when `q`, `k` and `v` share their depth and the backend
            has a fused kernel (JAX, PyTorch).
        key_bias: optional `(batch, M)` term added to every row of the
            softmax logits or dot products. A dot product with it builds
            the `(N, M)` matrix (it is then chunked like the others).

    Returns:
        `y`, of shape `(batch, N, d_v)`.
    """
    if mode == "concatenation" and concat_kernel is not None:
        # Project on w_f once, outside the chunks: the chunks then only see
        # tensors, and each needs its `(chunk, M)` weights alone.
        q, k = _concatenation_scores(q, k, concat_kernel)
    if chunk_size is None or (mode == "dot_product" and key_bias is None):
        return _attend(mode, q, k, v, scale, use_fused, key_bias)
    if mode in SOFTMAX_MODES:
        q = _scaled_queries(q, scale)
        return chunked_softmax_attention(q, k, v, chunk_size, key_bias)

    # Every tensor the block depends on is an argument of the rematerialised
    # function: gradients reach its arguments, not what it captures.
    if key_bias is None:
        attend_block = keras.remat(
            lambda q_block, k_, v_: _attend(mode, q_block, k_, v_, scale, use_fused)
        )
    else:
        attend_with_bias = keras.remat(
            lambda q_block, k_, v_, b_: _attend(mode, q_block, k_, v_, scale, use_fused, b_)
        )

        def attend_block(q_block, k_, v_):
            return attend_with_bias(q_block, k_, v_, key_bias)

    n = ops.shape(q)[1]
    num_chunks, chunk_size = balanced_chunks(n, chunk_size)
    padded = num_chunks * chunk_size
    q = ops.pad(q, [[0, 0], [0, padded - n], [0, 0]])
    blocks = ops.reshape(q, (-1, num_chunks, chunk_size, q.shape[-1]))
    blocks = ops.transpose(blocks, (1, 0, 2, 3))
    y = _map_in_order(lambda block: attend_block(block, k, v), blocks, v.dtype)
    y = ops.transpose(y, (1, 0, 2, 3))
    y = ops.reshape(y, (-1, padded, v.shape[-1]))
    return y[:, :n]
