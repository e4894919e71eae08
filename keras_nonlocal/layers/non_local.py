"""The non-local block (Wang et al., "Non-local Neural Networks", CVPR 2018)."""

import keras
from keras import ops

from keras_nonlocal.layers import geometry
from keras_nonlocal.layers import windows
from keras_nonlocal.layers.affine import Affine
from keras_nonlocal.layers.linear import bias_add
from keras_nonlocal.layers.linear import linear
from keras_nonlocal.layers.output_norm import batch_norm_training
from keras_nonlocal.layers.output_norm import folded_output_projection
from keras_nonlocal.layers.pairwise import MODES
from keras_nonlocal.layers.pairwise import SOFTMAX_MODES
from keras_nonlocal.layers.pairwise import non_local_attention
from keras_nonlocal.layers.pairwise import pairwise_weights
from keras_nonlocal.layers.quantization import Projection
from keras_nonlocal.layers.quantization import check_quantization_mode
from keras_nonlocal.layers.quantization import quantized_policy_map

NORMS = ("batch_norm", "affine", None)

# `chunk_size="auto"` chunks affinities of more than AUTO_CHUNK_THRESHOLD
# entries (512 MiB in float32) into query blocks of about AUTO_CHUNK_ELEMENTS
# entries (16 MiB). Chunking costs time (each chunk's weights are rebuilt in
# the backward pass, and small chunks multiply less efficiently) for memory
# (docs/benchmarks.md), so it only pays where the full matrix is large.
AUTO_CHUNK_THRESHOLD = 2**27
AUTO_CHUNK_ELEMENTS = 2**22


def reassociation_pays(num_queries, num_keys, channels, inner_channels, mode="embedded_gaussian"):
    """Whether a block is cheaper with `theta` and `W` moved onto the keys.

    `softmax((x W_t)(p W_p)^T) (p W_g) W` equals
    `softmax(x (p W_p W_t^T)^T + c) ((p W_g) W)` (`c`: the per-key term of
    `theta`'s bias). Per example, the query projection and logits cost
    `N d (C + M)` multiply-adds in the first order and `M C (d + N)` in the
    second, and so do the aggregation and output projection. The dot product
    is otherwise evaluated as `theta (phi^T g) / M` without the `(N, M)`
    matrix (`N d (2 C + d) + M d^2`); reassociated, it builds that matrix
    in depth `C` (`2 M C (d + N)`).

    Args:
        num_queries: `N`, query positions.
        num_keys: `M`, key positions after sub-sampling.
        channels: `C`, input channels.
        inner_channels: `d`, channels of `theta`, `phi` and `g`.
        mode: the pairwise function.

    Returns:
        `True` where the reassociated order needs fewer multiply-adds.

    Example:

    >>> reassociation_pays(4 * 14 * 14, 4 * 7 * 7, 1024, 512)  # res4, 8x224
    True
    >>> reassociation_pays(4 * 28 * 28, 4 * 14 * 14, 512, 256)  # res3
    False
    """
    n, m, c, d = num_queries, num_keys, channels, inner_channels
    if mode == "dot_product":
        return 2 * m * c * (d + n) < n * d * (2 * c + d) + m * d * d
    return m * c * (d + n) < n * d * (c + m)


def _official_kernel_initializer():
    return keras.initializers.RandomNormal(stddev=0.01)


@keras.saving.register_keras_serializable(package="keras_nonlocal")
class NonLocalBlock(keras.layers.Layer):
    """Non-local block: every position attends to every (sub-sampled) position.

    Computes `z = x + BN(W y)` with `y_i = sum_j w(x_i, x_j) g(x_j)`, where
    `theta`, `phi`, `g` and `W` (`out`) are 1×1 projections with bias, and
    `w` is one of the paper's four pairwise functions (Sec. 3.2):

    | `mode`                | `w(x_i, x_j)`                                 |
    |-----------------------|-----------------------------------------------|
    | `"gaussian"`          | `softmax_j(x_i . x_j)`                        |
    | `"embedded_gaussian"` | `softmax_j(theta(x_i) . phi(x_j) / sqrt(d))`  |
    | `"dot_product"`       | `theta(x_i) . phi(x_j) / M`                   |
    | `"concatenation"`     | `relu(w_f . [theta(x_i), phi(x_j)]) / M`      |

    `M` counts the key positions after sub-sampling. Keys and values come
    from `x` max-pooled by `pool_size` (the official block pools space only,
    `(1, 2, 2)` on videos). BatchNorm after `W` starts with `gamma = 0`, so a
    new block is exactly the identity and can be inserted into a pretrained
    network. Weights map one to one onto the official Caffe2 blobs: the
    `theta`, `phi`, `g` and `out` `Dense` kernels are the `(out, in, 1, 1, 1)`
    convolution kernels reshaped and transposed, and `bn` holds `_bn_s`,
    `_bn_b`, `_bn_rm` and `_bn_riv`.

    Args:
        mode: the pairwise function, one of `"gaussian"`,
            `"embedded_gaussian"` (default), `"dot_product"`,
            `"concatenation"`.
        inner_channels: channels of `theta`, `phi` and `g`. Defaults to half
            the input channels (the paper's bottleneck).
        sub_sample: whether to max-pool the keys and values.
        pool_size: pool size per spatio-temporal axis (ints). Defaults to 2
            on the attended spatial axes and 1 elsewhere (a sequence pools its
            one axis by 2). Must be 1 on axes that do not attend.
        norm: what follows `W`: `"batch_norm"` (default, gamma initialised
            to 0), `"affine"` (a fixed per-channel scale and offset,
            initialised to 0, as in the official frozen-BN models), or `None`
            (no normalisation; `W` is then initialised to zero).
        use_scale: scale the softmax logits by `1 / sqrt(d)` (d = depth of
            the dot product). Defaults to `True` for the embedded Gaussian
            (as the official code) and `False` for the Gaussian (as the
            paper).
        residual: add the input to the block's output.
        attention_axes: which positions attend to each other:
            `"spacetime"` (default, all positions), `"space"` (within each
            frame) or `"time"` (each spatial position across frames).
        group_size: for videos, attend only within groups of this many
            consecutive frames (the official `add_nonlocal_group`, used by
            the long-clip models). `None` attends across the whole clip.
        chunk_size: `None`, the number of query positions processed at
            once, or `"auto"`. Chunking gives the same result while never
            holding the full affinity matrix, in the forward or the backward
            pass. `"auto"` chunks when the query and key counts are known
            and their matrix exceeds `AUTO_CHUNK_THRESHOLD` (128M entries,
            512 MiB in float32), with blocks of about `AUTO_CHUNK_ELEMENTS`
            (4M) entries.
        use_fused: use `keras.ops.dot_product_attention` for the softmax
            modes where the depths allow it and the backend has a fused
            kernel (JAX, PyTorch; TensorFlow runs the explicit softmax).
        return_attention: also return the normalised pairwise weights, of
            shape `(batch', N, M)` (`batch'` includes the axes that do not
            attend). Materialises the full matrix.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `keras.config.image_data_format()`.
        kernel_initializer: initializer of the projections (official: normal
            with standard deviation 0.01).
        bias_initializer: initializer of the projection biases.
        kernel_regularizer: regularizer of the projection kernels.
        bn_momentum: BatchNorm momentum (official: 0.9).
        bn_epsilon: BatchNorm epsilon (official: 1e-5).
        window_size: attend within non-overlapping windows of the attended
            axes (NLRN's restricted neighbourhoods): `None` (default, no
            windows), an int (the largest window length on every attended
            axis) or a tuple with one int or `None` (the whole axis) per
            attended axis. Windows are balanced (48 positions with a window
            of 32 make two windows of 24), the last one is completed by
            mirroring the map's end (the padding's queries are cropped, its
            keys repeat real positions), and keys are pooled within each
            window (a window shorter than the pool keeps one key along that
            axis). Cost and memory then grow linearly with the map's size.
            Composes with `group_size` (windows within each group of frames)
            and chunking; with BatchNorm in training, the batch statistics
            include the padded positions. With `return_attention`, the
            matrices are per window: `batch'` counts the windows, row-major
            after the example (`keras_nonlocal.layers.windows.window_axes`
            traces their positions back to the input).
        window_shift: roll the map by `-window_shift` along the windowed
            axes before cutting the windows, and back afterwards (Swin's
            shifted windows): an int (every windowed axis) or a tuple (one
            per attended axis), each smaller than its window. 0 by default.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, L, C)`, `(batch, H, W, C)` or `(batch, T, H, W, C)` (channels
        first: `C` after `batch`). Batch, time and space may be `None`; `C`
        must be known.

    Output shape:
        Same as the input; with `return_attention=True`, a tuple
        `(output, attention)`.

    Example:

    >>> import numpy as np
    >>> block = NonLocalBlock(mode="embedded_gaussian")
    >>> video = np.random.rand(2, 4, 14, 14, 64).astype("float32")
    >>> out = block(video)
    >>> tuple(out.shape)
    (2, 4, 14, 14, 64)
    >>> bool(np.allclose(out, video))  # a new block is the identity
    True
    """

    def __init__(
        self,
        mode="embedded_gaussian",
        inner_channels=None,
        sub_sample=True,
        pool_size=None,
        norm="batch_norm",
        use_scale=None,
        residual=True,
        attention_axes="spacetime",
        group_size=None,
        chunk_size=None,
        use_fused=True,
        return_attention=False,
        data_format=None,
        kernel_initializer=None,
        bias_initializer="zeros",
        kernel_regularizer=None,
        bn_momentum=0.9,
        bn_epsilon=1e-5,
        window_size=None,
        window_shift=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        window_size, window_shift = windows.check_window_args(window_size, window_shift)
        if mode not in MODES:
            raise ValueError(
                f"Unknown mode={mode!r}. Expected one of {', '.join(MODES)}."
            )
        if inner_channels is not None and (
            not isinstance(inner_channels, int) or inner_channels < 1
        ):
            raise ValueError(
                "inner_channels must be None or an integer >= 1; "
                f"received inner_channels={inner_channels!r}."
            )
        if norm not in NORMS:
            raise ValueError(f"Unknown norm={norm!r}. Expected one of {NORMS}.")
        if attention_axes not in geometry.ATTENTION_AXES:
            raise ValueError(
                f"Unknown attention_axes={attention_axes!r}. Expected one of "
                f"{geometry.ATTENTION_AXES}."
            )
        checked = [("group_size", group_size)]
        if chunk_size != "auto":
            checked.append(("chunk_size", chunk_size))
        for arg, value in checked:
            if value is not None and (not isinstance(value, int) or value < 1):
                allowed = "None, 'auto'" if arg == "chunk_size" else "None"
                raise ValueError(
                    f"{arg} must be {allowed} or an integer >= 1; received {arg}={value!r}."
                )
        if pool_size is not None:
            pool_size = tuple(pool_size) if not isinstance(pool_size, int) else (pool_size,)
            if not all(isinstance(p, int) and p >= 1 for p in pool_size):
                raise ValueError(
                    "pool_size must be a tuple of integers >= 1, one per "
                    f"spatio-temporal axis; received pool_size={pool_size!r}."
                )
        data_format = data_format or keras.config.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                "data_format must be 'channels_last' or 'channels_first'; "
                f"received data_format={data_format!r}."
            )
        self.mode = mode
        self.inner_channels = inner_channels
        self.sub_sample = bool(sub_sample)
        self.pool_size = pool_size
        self.norm = norm
        self.use_scale = (mode == "embedded_gaussian") if use_scale is None else bool(use_scale)
        self.residual = bool(residual)
        self.attention_axes = attention_axes
        self.group_size = group_size
        self.chunk_size = chunk_size
        self.use_fused = bool(use_fused)
        self.return_attention = bool(return_attention)
        self.data_format = data_format
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or _official_kernel_initializer()
        )
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bn_momentum = bn_momentum
        self.bn_epsilon = bn_epsilon
        self.window_size = window_size
        self.window_shift = window_shift

    # ----------------------------------------------------------------- build
    def _resolve_pool_size(self, rank, axes):
        num_axes = rank - 2
        if not self.sub_sample:
            return (1,) * num_axes
        if self.pool_size is None:
            kinds = geometry.AXIS_KINDS[rank]
            if rank == 3:
                return (2,) if 0 in axes else (1,)
            return tuple(
                2 if (kinds[i] == "space" and i in axes) else 1 for i in range(num_axes)
            )
        if len(self.pool_size) != num_axes:
            raise ValueError(
                f"pool_size={self.pool_size} has {len(self.pool_size)} entries, "
                f"but a rank-{rank} input has {num_axes} spatio-temporal axes "
                f"{geometry.AXIS_KINDS[rank]}; give one pool size per axis."
            )
        for i, p in enumerate(self.pool_size):
            if p != 1 and i not in axes:
                raise ValueError(
                    f"pool_size={self.pool_size} pools axis {i} "
                    f"({geometry.AXIS_KINDS[rank][i]}), which does not attend "
                    f"with attention_axes={self.attention_axes!r}; use 1 there."
                )
        return self.pool_size

    def _sublayer_policy(self, name):
        """The dtype policy of the sublayer `name`, created in `build`.

        A block loaded quantized has a `DTypePolicyMap` (its config's
        `dtype`); each sublayer gets its own entry rather than the map, since
        Keras' `Dense` reads `dtype_policy.quantization_mode` when it saves
        its variables, which for a map is the map's default.
        """
        policy = self.dtype_policy
        if isinstance(policy, keras.dtype_policies.DTypePolicyMap):
            # A sublayer's path is its name under the block's, as `build`
            # runs in the block's name scope.
            return policy[f"{self.path}/{name}"]
        return policy

    def _dense(self, units, name, kernel_initializer=None):
        layer = Projection(
            units,
            block_name=self.name,
            kernel_initializer=kernel_initializer or self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            kernel_regularizer=self.kernel_regularizer,
            dtype=self._sublayer_policy(name),
            name=name,
        )
        return layer

    def build(self, input_shape):
        rank = len(input_shape)
        if rank not in geometry.AXIS_KINDS:
            raise ValueError(
                "NonLocalBlock expects an input of rank 3 (batch, L, C), 4 "
                "(batch, H, W, C) or 5 (batch, T, H, W, C); received "
                f"input_shape={tuple(input_shape)} (rank {rank})."
            )
        channel_axis = -1 if self.data_format == "channels_last" else 1
        channels = input_shape[channel_axis]
        if channels is None:
            raise ValueError(
                "NonLocalBlock needs a known channel dimension (axis "
                f"{channel_axis} for data_format={self.data_format!r}); received "
                f"input_shape={tuple(input_shape)}."
            )
        self._rank = rank
        self._axes = geometry.attended_axes(rank, self.attention_axes)
        self._pool = self._resolve_pool_size(rank, self._axes)
        self._windows, self._shifts = windows.resolve_windows(
            self.window_size, self.window_shift, rank - 2, self._axes, self.attention_axes
        )
        if self.group_size is not None:
            if rank != 5 or 0 not in self._axes:
                raise ValueError(
                    f"group_size={self.group_size} groups frames, so it needs a "
                    "rank-5 video input attending over time; received "
                    f"input_shape={tuple(input_shape)}, "
                    f"attention_axes={self.attention_axes!r}."
                )
            if self.group_size % self._pool[0]:
                raise ValueError(
                    f"group_size={self.group_size} must be a multiple of the "
                    f"temporal pool size {self._pool[0]}."
                )
            time_axis = 1 if self.data_format == "channels_last" else 2
            self._check_frames(input_shape[time_axis], f"input_shape={tuple(input_shape)}")
        inner = self.inner_channels or max(channels // 2, 1)
        self._channels = channels
        self._inner = inner
        feature_shape = (None, channels)
        if self.mode != "gaussian":
            self.theta = self._dense(inner, "theta")
            self.phi = self._dense(inner, "phi")
            self.theta.build(feature_shape)
            self.phi.build(feature_shape)
        self.g = self._dense(inner, "g")
        self.g.build(feature_shape)
        out_init = "zeros" if self.norm is None else None
        self.out = self._dense(channels, "out", kernel_initializer=out_init)
        self.out.build((None, inner))
        if self.mode == "concatenation":
            self.concat_kernel = self.add_weight(
                shape=(2 * inner,),
                initializer=self.kernel_initializer,
                regularizer=self.kernel_regularizer,
                name="concat_kernel",
            )
        if self.norm == "batch_norm":
            self.bn = keras.layers.BatchNormalization(
                axis=-1,
                momentum=self.bn_momentum,
                epsilon=self.bn_epsilon,
                gamma_initializer="zeros",
                dtype=self._sublayer_policy("bn"),
                name="bn",
            )
            self.bn.build((None,) * (rank - 1) + (channels,))
        elif self.norm == "affine":
            self.bn = Affine(
                gamma_initializer="zeros", dtype=self._sublayer_policy("bn"), name="bn"
            )
            self.bn.build((None, channels))

    # ------------------------------------------------------------------ call
    def _scale(self):
        if not self.use_scale:
            return 1.0
        depth = self._channels if self.mode == "gaussian" else self._inner
        return float(depth) ** -0.5

    def _chunk_size(self, q, k):
        if self.chunk_size != "auto":
            return self.chunk_size
        n, m = q.shape[1], k.shape[1]
        if n is None or m is None or n * m <= AUTO_CHUNK_THRESHOLD:
            return None
        return max(AUTO_CHUNK_ELEMENTS // m, 64)

    def _max_pool(self, x):
        """Keys and values: `x` max-pooled by `pool_size`, channels last.

        An axis of size `s` pooled by `p` keeps `s // p` positions (the last
        `s % p` are dropped, as by the official block), except that an axis
        shorter than its pool keeps one: the maximum over the whole axis, a
        window padded past the axis' end. Where `s` is known when the call
        is traced the pool is shortened to `s`; where it is not (TensorFlow
        graphs with `None` dimensions) the axis is padded with `-inf` up to
        `p` (no padding, and no copy, when `s >= p`).
        """
        sizes = x.shape[1:-1]
        pool = tuple(
            p if s is None else max(min(p, s), 1) for s, p in zip(sizes, self._pool)
        )
        if all(p == 1 for p in pool):
            return x
        # TensorFlow's CPU MaxPool3D has no float16 kernel; a maximum is exact
        # in float32, so pool there and cast back.
        half = keras.backend.standardize_dtype(x.dtype) == "float16"
        pooled = ops.cast(x, "float32") if half else x
        short = [i for i, (s, p) in enumerate(zip(sizes, pool)) if s is None and p > 1]
        if short:
            pooled = _pad_to_pool(pooled, pool, short)
        pooled = ops.max_pool(
            pooled, pool, strides=pool, padding="valid", data_format="channels_last"
        )
        return ops.cast(pooled, x.dtype) if half else pooled

    def _project_keys_and_values(self, pooled):
        # phi and g read the same input: one GEMM with their kernels side by
        # side reads it once (their weights stay separate, as in the official
        # checkpoints).
        dtype = self.compute_dtype
        kernel = ops.concatenate(
            [ops.cast(self.phi.kernel, dtype), ops.cast(self.g.kernel, dtype)], axis=1
        )
        bias = ops.concatenate(
            [ops.cast(self.phi.bias, dtype), ops.cast(self.g.bias, dtype)], axis=0
        )
        both = linear(pooled, kernel, bias)
        # A split's gradient is one concatenation; two slices would each
        # scatter into a zero tensor of the full size and then be added.
        phi, g = ops.split(both, 2, axis=-1)
        return phi, g

    def _project_values(self, keys):
        return linear(keys, self._cast(self.g.kernel), self._cast(self.g.bias))

    def _scaled_theta(self, scale):
        # The logits' scale is folded into theta's kernel and bias:
        # `(x W + b) s == x (W s) + b s`, so no (N, d) or (N, M) tensor is
        # multiplied by it, forward or backward.
        if scale == 1.0:
            return self._cast(self.theta.kernel), self._cast(self.theta.bias)
        return self._cast(self.theta.kernel * scale), self._cast(self.theta.bias * scale)

    def _project_queries(self, x, scale):
        kernel, bias = self._scaled_theta(scale)
        return linear(x, kernel, bias)

    def _check_frames(self, frames, received):
        """Raises unless `group_size` divides a known number of frames."""
        if frames is not None and frames % self.group_size:
            raise ValueError(
                f"NonLocalBlock {self.name!r}: group_size={self.group_size} must divide "
                f"the number of frames, but the input has {frames} frames ({received}). "
                "Use a group size that divides the clip length, or group_size=None."
            )

    def _group(self, x):
        frames = x.shape[1]
        if frames is not None:
            self._check_frames(frames, f"input shape {tuple(x.shape)}")
        else:
            x = _assert_frames_divisible(x, self.group_size, self.name)
        shape = ops.shape(x)
        grouped = ops.reshape(x, (-1, self.group_size) + tuple(shape[2:]))
        return grouped, shape

    def _cast(self, weight):
        return ops.cast(weight, self.compute_dtype)

    def _reassociates(self, n, m):
        """Whether this call multiplies `theta` and `W` into the keys and
        values (`reassociation_pays`); needs static `n` and `m`."""
        if self.return_attention or n is None or m is None:
            return False
        return reassociation_pays(n, m, self._channels, self._inner, self.mode)

    def _concatenation_scores(self, queries, keys):
        # `w_f . [theta(x_i), phi(x_j)] = x_i (W_t a) + b_t . a + p_j (W_p b)
        # + b_p . b` with `w_f = [a, b]`: the projections are folded into
        # `w_f`, so the queries and keys are projected to one channel each.
        d = self._inner
        query_half = ops.reshape(self.concat_kernel[:d], (d, 1))
        key_half = ops.reshape(self.concat_kernel[d:], (d, 1))
        a = ops.matmul(queries, self._cast(ops.matmul(self.theta.kernel, query_half)))
        a = a + self._cast(ops.matmul(ops.expand_dims(self.theta.bias, 0), query_half))
        b = ops.matmul(keys, self._cast(ops.matmul(self.phi.kernel, key_half)))
        b = b + self._cast(ops.matmul(ops.expand_dims(self.phi.bias, 0), key_half))
        return a, b

    def _attention_inputs(self, queries, keys, reassociate):
        """`(q, k, v, scale, key_bias)` for the pairwise function."""
        scale = self._scale()
        if self.mode == "gaussian":
            return queries, keys, self._project_values(keys), scale, None
        if self.mode == "concatenation" and not self.return_attention:
            q, k = self._concatenation_scores(queries, keys)
            return q, k, self._project_values(keys), scale, None
        phi, v = self._project_keys_and_values(keys)
        if self.mode not in SOFTMAX_MODES:
            # The dot product (and the concatenation returning its weights)
            # is normalised by M alone: no logit scale.
            scale = 1.0
            if not reassociate:
                return self._project_queries(queries, scale), phi, v, scale, None
        elif not reassociate:
            return self._project_queries(queries, scale), phi, v, 1.0, None
        # (x W_t s + b_t s) . phi_j == x . (phi_j (W_t s)^T) + phi_j . b_t s
        kernel, bias = self._scaled_theta(scale)
        k = ops.matmul(phi, ops.transpose(kernel))
        key_bias = ops.squeeze(ops.matmul(phi, ops.expand_dims(bias, 1)), -1)
        return queries, k, v, 1.0, key_bias

    def _aggregate(self, q, k, v, scale, concat_kernel, key_bias=None):
        """`(y, attention)`: the weighted values, and the weights themselves
        with `return_attention` (`None` otherwise, when chunking may apply)."""
        if self.return_attention:
            attention = pairwise_weights(self.mode, q, k, scale, concat_kernel, key_bias)
            return ops.matmul(attention, v), attention
        y = non_local_attention(
            self.mode,
            q,
            k,
            v,
            scale=scale,
            concat_kernel=concat_kernel,
            chunk_size=self._chunk_size(q, k),
            use_fused=self.use_fused,
            key_bias=key_bias,
        )
        return y, None

    def call(self, inputs, training=None):
        x = inputs
        if self.data_format == "channels_first":
            x = ops.moveaxis(x, 1, -1)
        if self.group_size is not None:
            x, ungrouped_shape = self._group(x)
        windowed = any(w is not None for w in self._windows)
        if windowed:
            x, layout = windows.partition(x, self._windows, self._shifts)

        pooled = self._max_pool(x)
        queries, unfold_info = geometry.fold(x, self._axes)
        keys, _ = geometry.fold(pooled, self._axes)
        if self._projections_quantized():
            z, attention = self._call_projections(x, queries, keys, unfold_info, training)
        else:
            z, attention = self._call_folded(x, queries, keys, unfold_info, training)

        if windowed:
            z = windows.merge(z, layout)
        if self.group_size is not None:
            z = ops.reshape(z, ungrouped_shape)
        if self.data_format == "channels_first":
            z = ops.moveaxis(z, -1, 1)
        if self.return_attention:
            return z, attention
        return z

    def _call_folded(self, x, queries, keys, unfold_info, training):
        """The block with its weights read and multiplied as it pays.

        Reads the projections' kernels: the logit scale is folded into
        `theta`, `phi` and `g` share one GEMM, the normalisation is folded
        into `W`, and `theta` and `W` move onto the keys where that is
        cheaper.
        Returns `(z, attention)` (`attention` is `None` unless asked for).
        """
        reassociate = self._reassociates(queries.shape[1], keys.shape[1])
        q, k, v, scale, key_bias = self._attention_inputs(queries, keys, reassociate)
        out_kernel, out_bias, batch_norm = folded_output_projection(
            self.out.kernel, self.out.bias, getattr(self, "bn", None), training
        )
        out_kernel, out_bias = self._cast(out_kernel), self._cast(out_bias)
        if reassociate:
            # (A v) W + b == A (v W) + b
            v = ops.matmul(v, out_kernel)
        concat_kernel = (
            self.concat_kernel
            if self.mode == "concatenation" and self.return_attention
            else None
        )
        y, attention = self._aggregate(q, k, v, scale, concat_kernel, key_bias)
        if batch_norm:
            # BatchNorm with batch statistics: W's bias only moves the mean.
            y = y if reassociate else linear(y, out_kernel)
            out = batch_norm_training(self.bn, geometry.unfold(y, unfold_info), out_bias)
        else:
            # Fixed statistics, the affine map or no norm: folded into W.
            y = bias_add(y, out_bias) if reassociate else linear(y, out_kernel, out_bias)
            out = geometry.unfold(y, unfold_info)
        z = x + out if self.residual else out
        return z, attention

    def _projections(self):
        names = ("g", "out") if self.mode == "gaussian" else ("theta", "phi", "g", "out")
        return [getattr(self, name) for name in names]

    def _projections_quantized(self):
        return any(layer.quantization_mode is not None for layer in self._projections())

    def _call_projections(self, x, queries, keys, unfold_info, training):
        """The block with its projections called as layers.

        A quantized `Dense` multiplies by its quantized kernel in its own
        call; its `kernel` holds integers that only that call rescales. So
        a quantized block calls `theta`, `phi`, `g` and `out` and applies
        its normalisation after `out`, without the rewrites of
        `_call_folded`. Returns `(z, attention)`.
        """
        scale = self._scale() if self.mode in SOFTMAX_MODES else 1.0
        if self.mode == "gaussian":
            q, k = queries, keys
        else:
            q, k = self.theta(queries), self.phi(keys)
        v = self.g(keys)
        concat_kernel = self.concat_kernel if self.mode == "concatenation" else None
        y, attention = self._aggregate(q, k, v, scale, concat_kernel)
        out = geometry.unfold(self.out(y), unfold_info)
        if self.norm is not None:
            out = self.bn(out, training=training)
        z = x + out if self.residual else out
        return z, attention

    def quantize(self, mode=None, type_check=True, config=None):
        """Quantizes the block's `theta`, `phi`, `g` and `out` projections.

        `keras.Model.quantize` quantizes them itself (they are the model's
        leaf layers); this method does the same for a block on its own. The
        normalisation and the concatenation's `w_f` stay in float.

        Args:
            mode: `"int8"`, `"int4"` or `"float8"`; other Keras modes
                (`"gptq"`, `"awq"`) are refused.
            type_check: unused; Keras passes it.
            config: an optional `keras.quantizers.QuantizationConfig`.

        Raises:
            ValueError: for another mode (Keras itself refuses a block that
                is not built).

        Example:

        >>> import numpy as np
        >>> block = NonLocalBlock()
        >>> block.build((None, 4, 8, 8, 16))
        >>> block.quantize("int8")
        >>> block.theta.quantization_mode
        'int8'
        """
        check_quantization_mode(mode, self.name)
        for layer in self._projections():
            layer.quantize(mode, config=config)  # QuantizedDense: any Keras version

    def compute_output_shape(self, input_shape):
        if not self.return_attention:
            return tuple(input_shape)
        return tuple(input_shape), (None, None, None)

    def get_config(self):
        config = super().get_config()
        if self.built:
            policy_map = quantized_policy_map(self.dtype_policy, self._projections())
            if policy_map is not None:
                # The projections' quantized policies, by path: a loaded
                # block builds them quantized (keras-hub's layers do the
                # same), so their integer weights load.
                config["dtype"] = keras.dtype_policies.serialize(policy_map)
        config.update(
            {
                "mode": self.mode,
                "inner_channels": self.inner_channels,
                "sub_sample": self.sub_sample,
                "pool_size": self.pool_size,
                "norm": self.norm,
                "use_scale": self.use_scale,
                "residual": self.residual,
                "attention_axes": self.attention_axes,
                "group_size": self.group_size,
                "chunk_size": self.chunk_size,
                "use_fused": self.use_fused,
                "return_attention": self.return_attention,
                "data_format": self.data_format,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bn_momentum": self.bn_momentum,
                "bn_epsilon": self.bn_epsilon,
                "window_size": self.window_size,
                "window_shift": self.window_shift,
            }
        )
        return config


def _pad_to_pool(x, pool, axes):
    """Pads each of `axes` (spatio-temporal indices) with `-inf` up to its pool.

    For sizes known only when the graph runs: an axis shorter than its pool
    then gets one window, its maximum.
    """
    shape = ops.shape(x)
    widths = [[0, 0] for _ in x.shape]
    for i in axes:
        widths[i + 1] = [0, ops.maximum(pool[i] - shape[i + 1], 0)]
    padded = ops.pad(x, widths, constant_values=float("-inf"))
    if keras.backend.backend() == "tensorflow":
        # Padding by a tensor loses every static size; only `axes` changed.
        padded.set_shape(x.shape)
    return padded


def _assert_frames_divisible(x, group_size, name):
    """`x`, after a run-time check that `group_size` divides its frames.

    Only a TensorFlow graph has a frame count unknown when the call is
    traced; the check then fails with a readable `InvalidArgumentError`
    (XLA compiles it away, and the reshape that follows fails instead).
    """
    if keras.backend.backend() != "tensorflow":
        return x
    import tensorflow as tf

    frames = tf.shape(x)[1]
    check = tf.debugging.Assert(
        tf.equal(frames % group_size, 0),
        [
            # No quotes: TensorFlow escapes them in the message.
            f"NonLocalBlock {name}: group_size={group_size} must divide the number "
            "of frames; frames received:",
            frames,
        ],
    )
    with tf.control_dependencies([check]):
        return tf.identity(x)


class _FixedModeNonLocal(NonLocalBlock):
    """A `NonLocalBlock` whose pairwise function is set by the class."""

    MODE = None

    def __init__(self, **kwargs):
        given = kwargs.pop("mode", self.MODE)
        if given != self.MODE:
            raise ValueError(
                f"{type(self).__name__} always uses mode={self.MODE!r}; received "
                f"mode={given!r}. Use NonLocalBlock to choose the mode."
            )
        super().__init__(mode=self.MODE, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("mode")
        return config


@keras.saving.register_keras_serializable(package="keras_nonlocal")
class GaussianNonLocal(_FixedModeNonLocal):
    """Non-local block with the Gaussian pairwise function.

    `w(x_i, x_j) = softmax_j(x_i . x_j)`: no embedding of the queries and keys
    (paper, Sec. 3.2). Same as `NonLocalBlock(mode="gaussian", ...)` and takes
    every other argument of `NonLocalBlock`.

    Example:

    >>> import numpy as np
    >>> tuple(GaussianNonLocal()(np.zeros((1, 8, 8, 16), "float32")).shape)
    (1, 8, 8, 16)
    """

    MODE = "gaussian"


@keras.saving.register_keras_serializable(package="keras_nonlocal")
class EmbeddedGaussianNonLocal(_FixedModeNonLocal):
    """Non-local block with the embedded Gaussian pairwise function.

    `w(x_i, x_j) = softmax_j(theta(x_i) . phi(x_j) / sqrt(d))`, the official
    code's default (the paper's form without the `1/sqrt(d)` scale is
    `use_scale=False`). Same as `NonLocalBlock(mode="embedded_gaussian", ...)`.

    Example:

    >>> import numpy as np
    >>> tuple(EmbeddedGaussianNonLocal()(np.zeros((1, 8, 8, 16), "float32")).shape)
    (1, 8, 8, 16)
    """

    MODE = "embedded_gaussian"


@keras.saving.register_keras_serializable(package="keras_nonlocal")
class DotProductNonLocal(_FixedModeNonLocal):
    """Non-local block with the dot-product pairwise function.

    `w(x_i, x_j) = theta(x_i) . phi(x_j) / M`, `M` the number of key
    positions. Computed as `theta (phi^T g) / M`, which never builds the
    affinity matrix. Same as `NonLocalBlock(mode="dot_product", ...)`.

    Example:

    >>> import numpy as np
    >>> tuple(DotProductNonLocal()(np.zeros((1, 8, 8, 16), "float32")).shape)
    (1, 8, 8, 16)
    """

    MODE = "dot_product"


@keras.saving.register_keras_serializable(package="keras_nonlocal")
class ConcatenationNonLocal(_FixedModeNonLocal):
    """Non-local block with the concatenation pairwise function.

    `w(x_i, x_j) = relu(w_f . [theta(x_i), phi(x_j)]) / M`. The vector `w_f`
    is split into its query and key halves, so only the `(N, M)` weights are
    built, never the `(N, M, 2d)` concatenation. Same as
    `NonLocalBlock(mode="concatenation", ...)`.

    Example:

    >>> import numpy as np
    >>> tuple(ConcatenationNonLocal()(np.zeros((1, 8, 8, 16), "float32")).shape)
    (1, 8, 8, 16)
    """

    MODE = "concatenation"
