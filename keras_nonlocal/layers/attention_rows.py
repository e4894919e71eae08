"""The pairwise weights of chosen query positions of a non-local block.

`NonLocalBlock(return_attention=True)` returns the whole `(N, M)` matrix of
every attending group: at res3 of a 32-frame clip that is 25088 × 6272
entries per clip. To look at what a few positions attend to, only their rows
are needed: `attention_rows` projects those queries alone and weighs them
against the keys they attend to (their frame group, their frame or their
spatial position, as `attention_axes` and `group_size` say; their window
for a block with `window_size`), so the cost is `queries × keys`, whatever
the block's chunking.
"""

import dataclasses

import numpy as np
from keras import ops

from keras_nonlocal.layers.pairwise import SOFTMAX_MODES
from keras_nonlocal.layers.pairwise import pairwise_weights
from keras_nonlocal.layers.windows import window_axes


@dataclasses.dataclass(frozen=True)
class AttentionRow:
    """The weights one query position gives the keys of a non-local block.

    Positions are indices into the block's input (channels excluded, batch
    given separately): `(t, y, x)` for videos, `(y, x)` for images, `(l,)`
    for sequences. A key is one cell of the max-pooled input: it covers
    `key_size` input positions from `key_positions[j]` on.

    Args:
        batch_index: the example the query belongs to.
        query: the query's position.
        key_positions: `(M, k)` int array, the first input position each key
            covers, in the order the block stores its keys.
        key_size: the input positions a key covers along each axis (the
            block's pool size; 1 on axes that do not attend).
        weights: `(M,)` float array, `w(query, key_j)` as the block uses it.
        is_distribution: `True` for the (embedded) Gaussian, whose weights
            are a softmax (non-negative, summing to 1). The dot product and
            the concatenation divide by `M` instead: their weights may be
            negative (dot product) and their sum is far from 1.
        key_sources: `None` when key `j` covers the box from
            `key_positions[j]` to `key_positions[j] + key_size`. For a block
            with `window_size`, keys are pooled within the query's window,
            which was rolled and mirror-padded: per key an `(n, k)` int
            array of the input positions it pools (a position of the mirror
            padding given as the position it copies, so a position can
            belong to two keys), and `key_positions[j]` is the input
            position of the key's first window position.
    """

    batch_index: int
    query: tuple
    key_positions: np.ndarray
    key_size: tuple
    weights: np.ndarray
    is_distribution: bool
    key_sources: tuple = None

    def top_keys(self, k):
        """The `k` keys of largest weight, largest first.

        Args:
            k: how many keys.

        Returns:
            A list of `(key_position, weight)` pairs (`key_position` a tuple).
        """
        order = np.argsort(-self.weights, kind="stable")[:k]
        return [(tuple(int(v) for v in self.key_positions[j]), float(self.weights[j])) for j in order]


def _channels_last(block, inputs):
    x = ops.convert_to_tensor(inputs, dtype=block.compute_dtype)
    if block.data_format == "channels_first":
        x = ops.moveaxis(x, 1, -1)
    return x


def _key_pool(block, spatial_shape, pooled_shape):
    """The input positions each pooled key covers, per axis."""
    sizes = []
    for axis, (n, m) in enumerate(zip(spatial_shape, pooled_shape)):
        p = block._pool[axis]
        if m == n:
            sizes.append(1)
        elif m == n // p:
            sizes.append(p)
        elif m == 1 and n < p:  # an axis shorter than its pool keeps one key
            sizes.append(n)
        else:  # pragma: no cover - a pooling the block does not do
            raise ValueError(f"Unexpected pooled size {m} of an axis of size {n} (pool {p}).")
    return tuple(sizes)


def check_position(query, shape, of, axis_names=None):
    """A query position as a tuple of ints, or a `ValueError` naming it.

    Args:
        query: the position, one index per axis.
        shape: the positions per axis.
        of: what the positions belong to, for the message.
        axis_names: optional names of the axes, for the message.

    Returns:
        The position as a tuple of ints.

    Example:

    >>> check_position([1, 2], (4, 4), "the image")
    (1, 2)
    """
    query = tuple(int(v) for v in np.atleast_1d(query))
    if len(query) != len(shape) or not all(0 <= v < n for v, n in zip(query, shape)):
        names = f": {axis_names}" if axis_names else ", channels and batch excluded"
        raise ValueError(
            f"query={query} is not a position of {of}, whose positions run over "
            f"{tuple(shape)} (give one index per axis{names})."
        )
    return query


def _check_queries(queries, spatial_shape, batch_size, batch_index):
    if not 0 <= batch_index < batch_size:
        raise ValueError(
            f"batch_index={batch_index} is outside the batch of {batch_size} example(s)."
        )
    checked = [check_position(query, spatial_shape, "the block's input") for query in queries]
    if not checked:
        raise ValueError("queries is empty; give at least one query position.")
    return checked


def _key_slices(block, query, pooled_shape, key_size, group_size):
    """Per axis, the range of pooled keys the query attends to."""
    ranges = []
    for axis, n in enumerate(pooled_shape):
        if axis not in block._axes:
            ranges.append(range(query[axis], query[axis] + 1))
        elif axis == 0 and group_size is not None:
            start = (query[0] // group_size) * group_size // key_size[0]
            ranges.append(range(start, start + group_size // key_size[0]))
        else:
            ranges.append(range(n))
    return ranges


def _embed(block, queries, keys):
    """`(q, k, scale, concat_kernel)` as the block's pairwise function sees them."""
    if block.mode == "gaussian":
        return queries, keys, block._scale(), None
    q, k = block.theta(queries), block.phi(keys)
    if block.mode in SOFTMAX_MODES:
        return q, k, block._scale(), None
    concat_kernel = block.concat_kernel if block.mode == "concatenation" else None
    return q, k, 1.0, concat_kernel


def attention_rows(block, inputs, queries, batch_index=0):
    """Computes the pairwise weights of chosen query positions only.

    Equal to the matching rows of the block's `return_attention=True`
    matrix, for every pairwise function, `attention_axes`, `group_size`,
    sub-sampling and `window_size`, without building that matrix: each
    query is projected alone and weighed against the keys it attends to.
    For a windowed block those are the keys of the query's window, traced
    back to input positions in `AttentionRow.key_sources`.

    Args:
        block: a `NonLocalBlock` (built, or built here on `inputs`).
        inputs: the block's input, e.g. `(batch, T, H, W, C)`.
        queries: positions in the block's input: a list of `(t, y, x)`,
            `(y, x)` or `(l,)` tuples.
        batch_index: which example of `inputs` the queries are in.

    Returns:
        A list of `AttentionRow`, one per query.

    Example:

    >>> import numpy as np
    >>> from keras_nonlocal.layers import NonLocalBlock
    >>> block = NonLocalBlock(mode="gaussian")
    >>> x = np.random.rand(1, 4, 8, 8, 16).astype("float32")
    >>> _ = block(x)
    >>> row = attention_rows(block, x, [(0, 3, 5)])[0]
    >>> row.weights.shape, row.key_size    # 4 frames x 4 x 4 pooled cells
    ((64,), (1, 2, 2))
    >>> round(float(row.weights.sum()), 4)
    1.0
    """
    if not block.built:
        block(inputs)
    x = _channels_last(block, inputs)
    spatial_shape = tuple(int(n) for n in x.shape[1:-1])
    queries = _check_queries(queries, spatial_shape, int(x.shape[0]), batch_index)
    example = x[batch_index : batch_index + 1]
    if all(w is None for w in block._windows):
        pooled = block._max_pool(example)
        return [
            _row(block, example, pooled, query, batch_index, block.group_size)
            for query in queries
        ]
    example = ops.convert_to_numpy(example)[0]
    return [_window_row(block, example, query, batch_index) for query in queries]


def _row(block, example, pooled, query, batch_index, group_size):
    """The `AttentionRow` of `query` over all the keys of `example` it attends to."""
    spatial_shape = tuple(int(n) for n in example.shape[1:-1])
    pooled_shape = tuple(int(n) for n in pooled.shape[1:-1])
    key_size = _key_pool(block, spatial_shape, pooled_shape)
    ranges = _key_slices(block, query, pooled_shape, key_size, group_size)
    index = tuple(slice(r.start, r.stop) for r in ranges)
    keys = ops.reshape(pooled[(0,) + index], (1, -1, pooled.shape[-1]))
    query_vector = ops.reshape(example[(0,) + query], (1, 1, -1))
    q, k, scale, concat_kernel = _embed(block, query_vector, keys)
    weights = pairwise_weights(block.mode, q, k, scale, concat_kernel)
    grid = np.stack(np.meshgrid(*ranges, indexing="ij"), axis=-1).reshape(-1, len(ranges))
    return AttentionRow(
        batch_index=batch_index,
        query=query,
        key_positions=grid * np.asarray(key_size),
        key_size=key_size,
        weights=np.asarray(ops.convert_to_numpy(ops.cast(weights, "float32"))).reshape(-1),
        is_distribution=block.mode in SOFTMAX_MODES,
    )


def _window_row(block, example, query, batch_index):
    """The row of a windowed block's query: its window cut (as the block cuts
    it, `window_axes`), its row within it, keys traced back to the input."""
    sizes = list(example.shape[:-1])
    group_start = 0
    if block.group_size is not None:
        group_start = (query[0] // block.group_size) * block.group_size
        sizes[0] = block.group_size
    axes = window_axes(sizes, block._windows, block._shifts)
    spans, local = [], []
    for i, (axis, q) in enumerate(zip(axes, query)):
        offset = group_start if i == 0 else 0
        home = int(axis.home[q - offset])
        first = (home // axis.length) * axis.length
        spans.append(axis.sources[first : first + axis.length] + offset)
        local.append(home - first)
    window = ops.convert_to_tensor(example[np.ix_(*spans)][None], dtype=block.compute_dtype)
    row = _row(block, window, block._max_pool(window), tuple(local), batch_index, None)
    firsts, sources = [], []
    for start in row.key_positions:
        covered = np.meshgrid(
            *(span[s : s + n] for span, s, n in zip(spans, start, row.key_size)), indexing="ij"
        )
        sources.append(np.unique(np.stack(covered, axis=-1).reshape(-1, len(spans)), axis=0))
        firsts.append([span[s] for span, s in zip(spans, start)])
    return dataclasses.replace(
        row,
        query=query,
        key_positions=np.asarray(firsts, "int64").reshape(-1, len(spans)),
        key_sources=tuple(sources),
    )
