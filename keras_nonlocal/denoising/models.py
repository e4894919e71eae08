"""The non-local denoiser: a residual CNN with windowed non-local blocks.

The network follows two published designs, written here from their papers:

- DnCNN (Zhang et al., "Beyond a Gaussian Denoiser", TIP 2017): a plain stack
  of 3×3 convolutions with ReLU that predicts the noise (residual learning),
  one model per noise level or one "blind" model trained over σ in [0, 55]
  (DnCNN-B).
- FFDNet (Zhang et al., TIP 2018), as an option (`downscale=2`): the image
  is first rearranged into four half-resolution sub-images (a reversible
  pixel-unshuffle), so every convolution runs on a quarter of the positions
  and sees a receptive field twice as wide.

Non-local blocks (`keras_nonlocal.layers.NonLocalBlock`, 2-D attention within
windows of the body's features) go after body convolutions named by the
configuration's `nonlocal_placement`, like the video zoo's placements; NLRN
(Liu et al., NeurIPS 2018) showed that such blocks help denoising. With an
empty placement the same network is the ablation. The blocks use the layer's
exact chunked attention (`chunk_size` queries at a time) with max-pooled keys
within windows, so time and memory grow linearly with the image size, not
quadratically.

Every model takes noisy images `(batch, H, W, C)` on the 0–255 scale, for any
`H` and `W`, and returns the denoised images on the same scale; the scaling
to [0, 1] and the residual are inside the model.
"""

import dataclasses

import keras
from keras import ops

from keras_nonlocal.layers import NonLocalBlock
from keras_nonlocal.layers.windows import mirror_pad_end

NONLOCAL_MODES = ("embedded_gaussian", "gaussian", "dot_product", "concatenation")


@dataclasses.dataclass(frozen=True)
class DenoiserConfig:
    """The architecture of a denoiser, as data.

    Args:
        channels: image channels, 1 (grayscale) or 3 (RGB).
        features: channels of the hidden convolutions.
        depth: 3×3 convolutions in the body, the first and last included
            (at least 2).
        downscale: pixel-unshuffle factor before the body: 1 (default, full
            resolution, as DnCNN) or 2 (the body runs at half resolution, as
            FFDNet).
        batch_norm: BatchNorm after the hidden convolutions (DnCNN uses it;
            the default is without, which trains as well with Adam and keeps
            the model independent of the batch).
        nonlocal_placement: indices of the body convolutions (0-based, not
            the last) followed by a non-local block; `()` is the ablation.
        nonlocal_mode: the blocks' pairwise function (`NonLocalBlock.mode`).
        nonlocal_inner_channels: channels of the blocks' embeddings; `None`
            is half of `features`.
        nonlocal_norm: the blocks' normalisation after `out`
            (`NonLocalBlock.norm`): `None` (default: `out` starts at zero, and
            the block behaves the same in training and inference) or
            `"batch_norm"` (the paper's; its batch statistics of training
            patches differ from the whole images it later sees).
        nonlocal_pool_size: max-pooling of the keys and values per spatial
            axis (`NonLocalBlock.pool_size`); 1 attends to every position.
        nonlocal_window: the blocks attend within windows of at most this
            many positions per side of the body's resolution (32: 32×32
            pixels at full resolution, near NLRN's 45×45 neighbourhoods);
            blocks after the first are shifted by half a window, so window
            borders move from block to block. `None` attends over the whole
            image (time and memory grow with the square of its area).
        chunk_size: query positions per chunk of the blocks' attention
            (`NonLocalBlock.chunk_size`, exact); `None` builds the whole
            affinity matrix at once.

    Example:

    >>> config = DenoiserConfig(depth=6, nonlocal_placement=(2,))
    >>> config.replace(nonlocal_placement=()).nonlocal_placement
    ()
    >>> DenoiserConfig.from_dict(config.to_dict()) == config
    True
    """

    channels: int = 1
    features: int = 48
    depth: int = 10
    downscale: int = 1
    batch_norm: bool = False
    nonlocal_placement: tuple = (4,)
    nonlocal_mode: str = "embedded_gaussian"
    nonlocal_inner_channels: int = None
    nonlocal_pool_size: int = 2
    nonlocal_norm: str = None
    nonlocal_window: int = 32
    chunk_size: int = 256

    def __post_init__(self):
        placement = self.nonlocal_placement
        if isinstance(placement, int) and not isinstance(placement, bool):
            placement = (placement,)
        if not isinstance(placement, (tuple, list)):
            raise ValueError(
                "`nonlocal_placement` must be a tuple of body convolution indices. "
                f"Received: nonlocal_placement={placement!r}"
            )
        object.__setattr__(self, "nonlocal_placement", tuple(placement))
        self._validate()

    def _validate(self):
        def positive_int(name, minimum=1):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ValueError(
                    f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}"
                )

        if self.channels not in (1, 3):
            raise ValueError(f"`channels` must be 1 or 3. Received: channels={self.channels!r}")
        positive_int("features")
        positive_int("depth", 2)
        if self.downscale not in (1, 2):
            raise ValueError(f"`downscale` must be 1 or 2. Received: downscale={self.downscale!r}")
        if self.nonlocal_mode not in NONLOCAL_MODES:
            raise ValueError(
                f"`nonlocal_mode` must be one of {NONLOCAL_MODES}. "
                f"Received: nonlocal_mode={self.nonlocal_mode!r}"
            )
        if self.nonlocal_inner_channels is not None:
            positive_int("nonlocal_inner_channels")
        positive_int("nonlocal_pool_size")
        if self.nonlocal_norm not in (None, "batch_norm"):
            raise ValueError(
                "`nonlocal_norm` must be None or 'batch_norm'. "
                f"Received: nonlocal_norm={self.nonlocal_norm!r}"
            )
        if self.nonlocal_window is not None:
            positive_int("nonlocal_window")
        if self.chunk_size is not None:
            positive_int("chunk_size")
        last = self.depth - 1
        bad = [
            i for i in self.nonlocal_placement
            if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < last
        ]
        if bad:
            raise ValueError(
                f"`nonlocal_placement` must hold indices of body convolutions 0..{last - 1} "
                f"(a block cannot follow the last one, which outputs the noise); "
                f"received {bad} in nonlocal_placement={self.nonlocal_placement!r} "
                f"with depth={self.depth}."
            )
        if len(set(self.nonlocal_placement)) != len(self.nonlocal_placement):
            raise ValueError(
                f"`nonlocal_placement` repeats an index: {self.nonlocal_placement!r}"
            )

    def replace(self, **changes):
        """A copy with some fields changed (validated again).

        Args:
            **changes: fields and their new values.

        Returns:
            A new `DenoiserConfig`.
        """
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """The fields as a JSON-friendly dict (tuples become lists)."""
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, values):
        """Builds a config from `to_dict()`'s output.

        Args:
            values: a dict of fields.

        Returns:
            A `DenoiserConfig`.

        Raises:
            ValueError: for an unknown field.
        """
        if not isinstance(values, dict):
            raise ValueError(f"A denoiser config must be a dict. Received: {values!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"Unknown denoiser config field(s) {unknown}. Expected some of {sorted(known)}."
            )
        return cls(**values)


# Named architectures: a new variant is a new row. "nl_dncnn" has one
# non-local block in the middle of a 10-convolution body at full resolution
# (0.17 M parameters); "dncnn" is the same network without it (the ablation).
DENOISER_CONFIGS = {
    "nl_dncnn": DenoiserConfig(),
    "dncnn": DenoiserConfig(nonlocal_placement=()),
    "nl_dncnn_2blocks": DenoiserConfig(nonlocal_placement=(2, 6)),
    "nl_dncnn_color": DenoiserConfig(channels=3, features=64),
    "dncnn_color": DenoiserConfig(channels=3, features=64, nonlocal_placement=()),
}


def get_config(config):
    """Resolves a config argument to a `DenoiserConfig`.

    Args:
        config: a `DenoiserConfig`, a name from `DENOISER_CONFIGS`, or a dict
            of `DenoiserConfig` fields (a `"base"` key names the row they
            change).

    Returns:
        A `DenoiserConfig`.

    Example:

    >>> get_config("dncnn").nonlocal_placement
    ()
    >>> get_config({"base": "nl_dncnn", "channels": 3}).channels
    3
    """
    if isinstance(config, DenoiserConfig):
        return config
    if isinstance(config, str):
        if config not in DENOISER_CONFIGS:
            raise ValueError(
                f"Unknown denoiser config {config!r}. Expected one of "
                f"{sorted(DENOISER_CONFIGS)}, a DenoiserConfig or a dict of its fields."
            )
        return DENOISER_CONFIGS[config]
    if isinstance(config, dict):
        values = dict(config)
        base = values.pop("base", None)
        if base is None:
            return DenoiserConfig.from_dict(values)
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(DenoiserConfig)})
        if unknown:
            raise ValueError(f"Unknown denoiser config field(s) {unknown}.")
        return get_config(base).replace(**values)
    raise ValueError(
        "`config` must be a DenoiserConfig, a name from DENOISER_CONFIGS or a dict. "
        f"Received: {config!r}"
    )


# ------------------------------------------------------------------- layers


@keras.saving.register_keras_serializable(package="keras_nonlocal")
class Scale(keras.layers.Layer):
    """Multiplies by a constant.

    `keras.layers.Rescaling` is a preprocessing layer that needs TensorFlow
    installed; this one runs on any backend without it.

    Args:
        factor: the constant.
        **kwargs: base layer arguments.

    Example:

    >>> float(np.asarray(Scale(1 / 255)(np.full((1, 1), 255.0, "float32")))[0, 0])
    1.0
    """

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = float(factor)

    def call(self, x):
        return x * ops.cast(self.factor, x.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}



@keras.saving.register_keras_serializable(package="keras_nonlocal")
class PixelUnshuffle(keras.layers.Layer):
    """Space-to-depth: `(B, H, W, C)` -> `(B, ceil(H/f), ceil(W/f), C f²)`.

    Odd sizes are first padded at the bottom and right by mirroring the last
    rows and columns (`"symmetric"`), so any size is accepted;
    `CropToReference` removes the padding after the inverse.

    Args:
        factor: the block size `f`.
        **kwargs: base layer arguments.

    Example:

    >>> import numpy as np
    >>> x = np.arange(2 * 3 * 5 * 1, dtype="float32").reshape(2, 3, 5, 1)
    >>> tuple(PixelUnshuffle(2)(x).shape)
    (2, 2, 3, 4)
    """

    def __init__(self, factor=2, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(factor, int) or factor < 1:
            raise ValueError(f"`factor` must be an integer >= 1. Received: factor={factor!r}")
        self.factor = factor

    def call(self, x):
        f = self.factor
        if f == 1:
            return x
        shape = ops.shape(x)
        height, width = shape[1], shape[2]
        pad_h = (f - height % f) % f
        pad_w = (f - width % f) % f
        x = mirror_pad_end(mirror_pad_end(x, 1, pad_h, height), 2, pad_w, width)
        channels = x.shape[-1]
        h, w = (height + pad_h) // f, (width + pad_w) // f
        x = ops.reshape(x, (-1, h, f, w, f, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, h, w, f * f * channels))

    def compute_output_shape(self, input_shape):
        f = self.factor

        def reduced(n):
            return None if n is None else -(-n // f)

        return (input_shape[0], reduced(input_shape[1]), reduced(input_shape[2]),
                input_shape[3] * f * f)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="keras_nonlocal")
class PixelShuffle(keras.layers.Layer):
    """Depth-to-space, the inverse of `PixelUnshuffle` (before its padding).

    Args:
        factor: the block size `f`; the input's channels must divide by `f²`.
        **kwargs: base layer arguments.

    Example:

    >>> import numpy as np
    >>> x = np.random.rand(1, 4, 6, 3).astype("float32")
    >>> y = PixelShuffle(2)(PixelUnshuffle(2)(x))
    >>> bool(np.array_equal(y, x))
    True
    """

    def __init__(self, factor=2, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(factor, int) or factor < 1:
            raise ValueError(f"`factor` must be an integer >= 1. Received: factor={factor!r}")
        self.factor = factor

    def build(self, input_shape):
        if input_shape[-1] is None or input_shape[-1] % (self.factor**2):
            raise ValueError(
                f"PixelShuffle({self.factor}) needs channels divisible by {self.factor ** 2}; "
                f"received input_shape={tuple(input_shape)}."
            )

    def call(self, x):
        f = self.factor
        if f == 1:
            return x
        shape = ops.shape(x)
        h, w = shape[1], shape[2]
        channels = x.shape[-1] // (f * f)
        x = ops.reshape(x, (-1, h, w, f, f, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, h * f, w * f, channels))

    def compute_output_shape(self, input_shape):
        f = self.factor

        def enlarged(n):
            return None if n is None else n * f

        return (input_shape[0], enlarged(input_shape[1]), enlarged(input_shape[2]),
                input_shape[3] // (f * f))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="keras_nonlocal")
class CropToReference(keras.layers.Layer):
    """Crops `x` to the height and width of `reference` (top-left corner).

    Called as `CropToReference()([x, reference])`.

    Example:

    >>> import numpy as np
    >>> x, ref = np.zeros((1, 4, 6, 1)), np.zeros((1, 3, 5, 2))
    >>> tuple(CropToReference()([x, ref]).shape)
    (1, 3, 5, 1)
    """

    def call(self, inputs):
        x, reference = inputs
        shape = ops.shape(reference)
        return x[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shapes):
        x, reference = input_shapes
        return (x[0], reference[1], reference[2], x[3])


# ------------------------------------------------------------------- builder


def _nonlocal_block(config, index, name):
    # Blocks after the first alternate between unshifted windows and windows
    # shifted by half their size, so window borders move from block to block.
    shift = (config.nonlocal_window // 2) if index % 2 and config.nonlocal_window else 0
    return NonLocalBlock(
        mode=config.nonlocal_mode,
        inner_channels=config.nonlocal_inner_channels,
        sub_sample=config.nonlocal_pool_size > 1,
        pool_size=(config.nonlocal_pool_size,) * 2,
        # A new block is the identity (its `out` projection, or BatchNorm's
        # gamma, starts at 0), so it trains as a correction of the plain network.
        norm=config.nonlocal_norm,
        chunk_size=config.chunk_size,
        window_size=config.nonlocal_window,
        window_shift=shift,
        data_format="channels_last",
        name=name,
    )


def build_denoiser(config="nl_dncnn", name=None):
    """Builds a denoiser from its configuration.

    Args:
        config: a `DenoiserConfig`, a name from `DENOISER_CONFIGS`
            (`"nl_dncnn"`, the ablation `"dncnn"`, ...) or a dict of fields
            (see `get_config`).
        name: the model's name (default: `"nl_denoiser"`, or `"denoiser"`
            without non-local blocks).

    Returns:
        A `keras.Model` mapping noisy images `(batch, H, W, channels)` on
        the 0–255 scale to denoised images of the same shape and scale.
        It predicts the noise at [0, 1] scale and subtracts it.

    Example:

    >>> import numpy as np
    >>> model = build_denoiser({"base": "nl_dncnn", "depth": 4, "features": 8,
    ...                         "nonlocal_placement": (1,)})
    >>> noisy = np.random.uniform(0, 255, (1, 37, 53, 1)).astype("float32")
    >>> tuple(model(noisy).shape)
    (1, 37, 53, 1)
    """
    config = get_config(config)
    if name is None:
        name = "nl_denoiser" if config.nonlocal_placement else "denoiser"
    inputs = keras.Input(shape=(None, None, config.channels), name="noisy")
    x = Scale(1.0 / 255.0, name="to_unit")(inputs)
    f = config.downscale
    h = PixelUnshuffle(f, name="unshuffle")(x)
    for i in range(config.depth - 1):
        h = keras.layers.Conv2D(
            config.features, 3, padding="same", use_bias=not (config.batch_norm and i > 0),
            kernel_initializer="he_normal", name=f"conv{i}",
        )(h)
        if config.batch_norm and i > 0:
            h = keras.layers.BatchNormalization(epsilon=1e-4, name=f"bn{i}")(h)
        h = keras.layers.ReLU(name=f"relu{i}")(h)
        if i in config.nonlocal_placement:
            h = _nonlocal_block(config, config.nonlocal_placement.index(i), f"nonlocal{i}")(h)
    # A small last layer: the first predicted noise is near 0, so training
    # starts from the identity instead of from a large random residual.
    h = keras.layers.Conv2D(
        config.channels * f * f, 3, padding="same",
        kernel_initializer=keras.initializers.VarianceScaling(1e-4), name=f"conv{config.depth - 1}",
    )(h)
    noise = CropToReference(name="crop")([PixelShuffle(f, name="shuffle")(h), x])
    clean = keras.layers.Subtract(name="residual")([x, noise])
    outputs = Scale(255.0, name="to_255")(clean)
    return keras.Model(inputs, outputs, name=name)


def NLDenoiser(channels=1, nonlocal_placement=(5,), config="nl_dncnn", name=None, **fields):
    """A non-local denoiser; `build_denoiser` with the common fields as arguments.

    Args:
        channels: 1 (grayscale) or 3 (RGB).
        nonlocal_placement: body convolutions followed by a non-local block;
            `()` builds the ablation without blocks.
        config: the base configuration the other arguments change (a name,
            a `DenoiserConfig` or a dict).
        name: the model's name.
        **fields: any other `DenoiserConfig` field (`features`, `depth`,
            `nonlocal_mode`, `chunk_size`, ...).

    Returns:
        A `keras.Model` (see `build_denoiser`).

    Example:

    >>> import numpy as np
    >>> model = NLDenoiser(channels=3, depth=3, features=8, nonlocal_placement=(0,))
    >>> tuple(model(np.zeros((2, 9, 11, 3), "float32")).shape)
    (2, 9, 11, 3)
    """
    base = get_config(config)
    return build_denoiser(
        base.replace(channels=channels, nonlocal_placement=nonlocal_placement, **fields), name=name
    )
