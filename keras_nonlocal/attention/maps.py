"""What a model's non-local blocks attend to, in the coordinates of its input.

`attention_maps(model, inputs, queries)` runs the model once, captures the
input of one `NonLocalBlock`, computes the pairwise weights of the asked
query positions only (`keras_nonlocal.layers.attention_rows`) and maps every
position back to the input the model sees: a block position covers
`stride = input size / block input size` input positions along each axis (the
network's strides), and a key covers its pooling window of them.

Blocks with `window_size` (the denoisers' blocks) attend within windows of a
rolled, mirror-padded feature map: `attention_rows` rebuilds the query's
window and traces its keys back through the window cut, the padding and the
roll to the feature map; here they are mapped on to the input.
"""

import dataclasses

import keras
import numpy as np

from keras_nonlocal.layers import NonLocalBlock
from keras_nonlocal.layers import attention_rows
from keras_nonlocal.layers.attention_rows import check_position


@dataclasses.dataclass(frozen=True)
class AttentionMap:
    """The attention of one query position, in input coordinates.

    Coordinates are `(t, y, x)` for clips, `(y, x)` for images, `(l,)` for
    sequences: frame of the clip and pixel of the (cropped) frame the model
    sees.

    Args:
        block_name: the non-local block's layer name.
        query: the query's cell in the input: `((start, stop), ...)` per axis.
        keys: `(M, k)` int array, the first input position each key covers.
        key_extent: the input positions a key covers along each axis.
        weights: `(M,)` the block's pairwise weights of the query.
        is_distribution: `True` for the softmax modes (weights >= 0, sum 1);
            the dot product and the concatenation give unnormalised weights
            divided by `M` (possibly negative), shown as they are.
        stride: input positions per block position along each axis.
        input_shape: the input's positions per axis (e.g. `(T, H, W)`).
        key_cells: `None` when key `j` covers the box from `keys[j]` to
            `keys[j] + key_extent` (a block without `window_size`). For a
            windowed block, per key an `(n, k)` int array: the first input
            position of each block cell (`stride` positions wide) the key
            pools, traced back through the window cut and the roll. Keys of
            the query's window that fall in the mirror padding are copies of
            real positions and are mapped to the positions they copy,
            keeping their weight: a position can then be covered by two keys
            (itself and its mirror image), and a key straddling the padding
            covers fewer cells. `keys[j]` is then the cell of the key's
            first window position, and `key_extent` the pool times the
            stride.
    """

    block_name: str
    query: tuple
    keys: np.ndarray
    key_extent: tuple
    weights: np.ndarray
    is_distribution: bool
    stride: tuple
    input_shape: tuple
    key_cells: tuple = None

    @property
    def query_center(self):
        """The query cell's centre (float coordinates)."""
        return tuple((a + b - 1) / 2 for a, b in self.query)

    def key_centers(self):
        """`(M, k)` float array: the centre of each key's region.

        For a windowed block's key whose cells do not form a box (the roll
        put its cells on opposite borders of the map), the centre of the
        cell of its first window position.
        """
        if self.key_cells is None:
            return self.keys + (np.asarray(self.key_extent) - 1) / 2
        stride = np.asarray(self.stride)
        centers = []
        for first, cells in zip(self.keys, self.key_cells):
            low, high = cells.min(axis=0), cells.max(axis=0) + stride
            if np.prod((high - low) // stride) == len(cells):
                centers.append((low + high - 1) / 2)
            else:
                centers.append(first + (stride - 1) / 2)
        return np.asarray(centers, "float64")

    def top_keys(self, k):
        """The `k` keys of largest weight, largest first.

        Args:
            k: how many.

        Returns:
            A list of `(centre, weight)` pairs, `centre` a tuple of floats.
        """
        order = np.argsort(-self.weights, kind="stable")[:k]
        centers = self.key_centers()
        return [(tuple(float(v) for v in centers[j]), float(self.weights[j])) for j in order]

    def heatmap(self):
        """The weights painted over the input grid.

        Returns:
            float32 array of shape `input_shape`: each position holds the
            weight of the key that covers it (0 where no key does, e.g.
            outside the query's frame group or window); the sum of their
            weights where a windowed block's mirrored keys cover it twice.
        """
        grid = np.zeros(self.input_shape, "float32")
        if self.key_cells is None:
            for start, weight in zip(self.keys, self.weights):
                index = tuple(slice(s, s + e) for s, e in zip(start, self.key_extent))
                grid[index] = weight
            return grid
        for cells, weight in zip(self.key_cells, self.weights):
            for cell in cells:
                grid[tuple(slice(s, s + e) for s, e in zip(cell, self.stride))] += weight
        return grid


def non_local_blocks(model):
    """Every non-local block of a model, nested models included.

    A block is a `NonLocalBlock` (or one of its named subclasses).

    Args:
        model: a Keras model or layer.

    Returns:
        A list of blocks, in the order the model lists its layers.

    Example:

    >>> import keras
    >>> inputs = keras.Input((None, None, 8))
    >>> x = NonLocalBlock(name="nl_a")(inputs)
    >>> inner = keras.Sequential([NonLocalBlock(name="nl_b")], name="inner")
    >>> model = keras.Model(inputs, inner(x))
    >>> [block.name for block in non_local_blocks(model)]
    ['nl_a', 'nl_b']
    """
    found = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, NonLocalBlock):
            found.append(layer)
        else:
            found.extend(non_local_blocks(layer))
    return found


def select_block(model, block=None):
    """One non-local block of a model: by name, or the last one.

    Args:
        model: a Keras model.
        block: a block's layer name, a `NonLocalBlock`, or `None` for the
            last block.

    Returns:
        The `NonLocalBlock`.

    Raises:
        ValueError: if the model has no non-local block, or none of that name.
    """
    blocks = non_local_blocks(model)
    if not blocks:
        raise ValueError(
            f"The model {model.name!r} has no NonLocalBlock, so it has no attention to show."
        )
    if block is None:
        return blocks[-1]
    if isinstance(block, NonLocalBlock):
        if block not in blocks:
            raise ValueError(f"block={block.name!r} is not a layer of the model {model.name!r}.")
        return block
    for candidate in blocks:
        if candidate.name == block:
            return candidate
    names = ", ".join(b.name for b in blocks)
    raise ValueError(f"The model has no non-local block named {block!r}. Its blocks: {names}.")


def block_input(model, block, inputs):
    """Runs the model once and returns the input of `block`.

    Works for functional, sequential, nested and subclassed models: the
    block's `call` is wrapped for the duration of one forward pass.

    Args:
        model: the Keras model.
        block: one of its `NonLocalBlock`s.
        inputs: a batch for the model.

    Returns:
        The block's input tensor (channels last or first, as the block; the
        whole feature map for a windowed block, not its windows).
    """
    captured = []
    original = block.call

    def capture(x, *args, **kwargs):
        captured.append(x)
        return original(x, *args, **kwargs)

    block.call = capture
    try:
        model(inputs, training=False)
    finally:
        del block.call
    if not captured:
        raise ValueError(f"The block {block.name!r} was not called by the model's forward pass.")
    return captured[0]


def _spatial(block, features):
    shape = tuple(features.shape)
    return shape[2:] if block.data_format == "channels_first" else shape[1:-1]


def _strides(input_shape, feature_shape):
    if len(input_shape) != len(feature_shape):
        raise ValueError(
            f"The model's input has positions {input_shape} but the block's input "
            f"{feature_shape}: their axes do not correspond, so positions cannot be mapped."
        )
    strides = []
    for n, m in zip(input_shape, feature_shape):
        if n % m:
            raise ValueError(
                f"The block's input {feature_shape} does not divide the model's input "
                f"{input_shape} evenly, so its positions cannot be mapped exactly; use "
                "an input size that is a multiple of the network's stride."
            )
        strides.append(n // m)
    return tuple(strides)


def salient_positions(features, count, data_format="channels_last"):
    """Positions where the block's input features are strongest.

    Saliency is the L2 norm of the feature vector at each position of the
    block's input (where the backbone responds most); positions are picked
    greedily, each at least one cell away from those already picked.

    Args:
        features: one example's block input, `(..., C)` channels last (or
            `(C, ...)` with `data_format="channels_first"`).
        count: how many positions.
        data_format: of `features`.

    Returns:
        A list of position tuples, most salient first.

    Example:

    >>> f = np.zeros((4, 4, 2)); f[1, 2] = 3.0; f[3, 0] = 1.0
    >>> salient_positions(f, 2)
    [(1, 2), (3, 0)]
    """
    features = np.asarray(features, "float32")
    if data_format == "channels_first":
        features = np.moveaxis(features, 0, -1)
    norms = np.linalg.norm(features, axis=-1)
    picked = []
    for flat in np.argsort(-norms, axis=None, kind="stable"):
        position = np.unravel_index(flat, norms.shape)
        if all(max(abs(int(a) - int(b)) for a, b in zip(position, p)) > 1 for p in picked):
            picked.append(tuple(int(v) for v in position))
        if len(picked) == count:
            break
    return picked


def attention_maps(model, inputs, queries=None, block=None, num_queries=3, batch_index=0):
    """The attention of a model's non-local block for chosen input positions.

    Args:
        model: a Keras model containing a `NonLocalBlock` (a zoo model, a
            user's model, a denoiser).
        inputs: a batch for the model, e.g. `(1, T, H, W, 3)`.
        queries: positions in the model's input: `(t, y, x)` for clips,
            `(y, x)` for images. `None` picks the `num_queries` positions of
            strongest block input (`salient_positions`).
        block: the block's name (default: the last block).
        num_queries: how many salient positions when `queries` is `None`.
        batch_index: the example of `inputs` to look at.

    Returns:
        A list of `AttentionMap`, one per query.

    Example:

    >>> import keras, numpy as np
    >>> from keras_nonlocal.layers import NonLocalBlock
    >>> inputs = keras.Input((16, 16, 3))
    >>> x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(inputs)
    >>> model = keras.Model(inputs, NonLocalBlock(name="nl")(x))
    >>> image = np.random.rand(1, 16, 16, 3).astype("float32")
    >>> (m,) = attention_maps(model, image, queries=[(5, 9)])
    >>> m.query, m.stride, m.key_extent        # a 2x2 cell; keys pool 2x2 cells
    (((4, 6), (8, 10)), (2, 2), (4, 4))
    """
    block = select_block(model, block)
    inputs = np.asarray(inputs) if not hasattr(inputs, "shape") else inputs
    features = block_input(model, block, inputs)
    feature_shape = tuple(int(n) for n in _spatial(block, features))
    data_format = block.data_format
    input_shape = tuple(inputs.shape[2:] if data_format == "channels_first" else inputs.shape[1:-1])
    input_shape = tuple(int(n) for n in input_shape)
    strides = _strides(input_shape, feature_shape)
    if queries is None:
        one = keras.ops.convert_to_numpy(features[batch_index])
        block_queries = salient_positions(one, num_queries, data_format)
    else:
        axis_names = "frame, row, column" if len(input_shape) == 3 else "row, column"
        block_queries = []
        for query in queries:
            query = check_position(query, input_shape, "the model's input", axis_names)
            block_queries.append(tuple(v // s for v, s in zip(query, strides)))
    rows = attention_rows(block, features, block_queries, batch_index=batch_index)
    maps = []
    for row in rows:
        maps.append(
            AttentionMap(
                block_name=block.name,
                query=tuple((q * s, (q + 1) * s) for q, s in zip(row.query, strides)),
                keys=row.key_positions * np.asarray(strides),
                key_extent=tuple(k * s for k, s in zip(row.key_size, strides)),
                weights=row.weights,
                is_distribution=row.is_distribution,
                stride=strides,
                input_shape=input_shape,
                key_cells=None if row.key_sources is None else tuple(
                    cells * np.asarray(strides) for cells in row.key_sources
                ),
            )
        )
    return maps

