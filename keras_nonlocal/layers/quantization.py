"""Keras quantization of a non-local block's projections.

`keras.Model.quantize(mode)` quantizes the leaf layers of a model, so in a
block it reaches the `theta`, `phi`, `g` and `out` projections (the
normalisation after `out` stays in float). A block whose projections are
quantized calls them (the quantized matrix products of `keras.layers.Dense`)
instead of reading their kernels, and saves their dtype policies in its
config (`keras.dtype_policies.DTypePolicyMap`, as keras-hub's layers do), so
that a quantized model saves to a `.keras` file and loads back quantized.

Keras 3 offers `"int8"`, `"int4"`, `"float8"`, `"gptq"` and `"awq"`. The
first three quantize each projection on its own and are supported. GPTQ and
AWQ calibrate a layer on the activations of a model made of sequential
transformer-like blocks that Keras walks itself; the non-local block is not
one of them, so they are refused with an error naming the block.
"""

import keras

QUANTIZATION_MODES = ("int8", "int4", "float8")


class Projection(keras.layers.Dense):
    """A `Dense` projection of a non-local block that knows its quantization modes.

    Behaves as `keras.layers.Dense`, except that `quantize` accepts only the
    modes of `QUANTIZATION_MODES`. Keras refuses to quantize a subclass of
    `Dense` by default (it may override `call`); this one does not.

    Args:
        block_name: the name of the block that owns the projection, for
            error messages.
        **kwargs: `keras.layers.Dense` arguments.

    Example:

    >>> import numpy as np
    >>> layer = Projection(units=4, block_name="nonlocal")
    >>> layer.build((None, 8))
    >>> layer.quantize("int8")
    >>> layer.quantization_mode
    'int8'
    """

    def __init__(self, units, block_name=None, **kwargs):
        super().__init__(units, **kwargs)
        self.block_name = block_name

    def quantize(self, mode=None, type_check=True, config=None):
        check_quantization_mode(mode, self.block_name)
        # Keras before 3.11 has no `config` argument; pass it only when given.
        super().quantize(mode, type_check=False, **({} if config is None else {"config": config}))


def check_quantization_mode(mode, block_name):
    """Raises unless `mode` is a quantization mode a non-local block supports.

    Args:
        mode: the mode passed to `quantize`.
        block_name: the block's name, for the message.

    Raises:
        ValueError: naming the block, the mode and the supported modes.

    Example:

    >>> check_quantization_mode("int8", "nonlocal_conv3_1")
    >>> check_quantization_mode("gptq", "nonlocal_conv3_1")
    Traceback (most recent call last):
    ...
    ValueError: NonLocalBlock 'nonlocal_conv3_1' supports quantization modes 'int8', 'int4' and 'float8'; received mode='gptq'. ...
    """
    if mode in QUANTIZATION_MODES:
        return
    raise ValueError(
        f"NonLocalBlock {block_name!r} supports quantization modes 'int8', 'int4' and "
        f"'float8'; received mode={mode!r}. GPTQ and AWQ calibrate sequential "
        "transformer-like blocks, which a non-local block is not. To quantize the "
        "rest of a model in that mode, pass `filters=` to `Model.quantize` so that "
        "it skips the block's layers (their paths start with the block's name)."
    )


def own_policy(layer):
    """The dtype policy that applies to `layer` itself.

    A layer created with a `DTypePolicyMap` reports the whole map as its
    `dtype_policy`; its own entry is the map's policy for its path.
    """
    policy = layer.dtype_policy
    if isinstance(policy, keras.dtype_policies.DTypePolicyMap):
        return policy[layer.path]
    return policy


def quantized_policy_map(default_policy, layers):
    """A `DTypePolicyMap` of the quantized `layers`, or `None` if none is.

    Args:
        default_policy: the owner's own policy (a `DTypePolicyMap`'s default
            is used if given one).
        layers: the owner's sublayers.

    Returns:
        A `keras.dtype_policies.DTypePolicyMap` from each quantized layer's
        path to its policy, or `None`.

    Example:

    >>> dense = keras.layers.Dense(2, name="theta")
    >>> dense.build((None, 3))
    >>> quantized_policy_map(keras.dtype_policies.DTypePolicy("float32"), [dense]) is None
    True
    """
    if isinstance(default_policy, keras.dtype_policies.DTypePolicyMap):
        default_policy = default_policy.default_policy
    quantized = {}
    for layer in layers:
        policy = own_policy(layer)
        if policy.quantization_mode is not None:
            quantized[layer.path] = policy
    if not quantized:
        return None
    return keras.dtype_policies.DTypePolicyMap(
        default_policy=default_policy, policy_map=quantized
    )
