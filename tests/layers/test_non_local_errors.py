"""Bad arguments fail early, with a message naming the argument."""

import numpy as np
import pytest

from keras_nonlocal.layers import DotProductNonLocal, NonLocalBlock


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "cosine"}, "mode='cosine'.*gaussian, embedded_gaussian, dot_product, concatenation"),
        ({"inner_channels": 0}, "inner_channels"),
        ({"inner_channels": 2.5}, "inner_channels"),
        ({"norm": "layer_norm"}, "norm='layer_norm'"),
        ({"attention_axes": "channels"}, "attention_axes='channels'"),
        ({"pool_size": (2, 0, 2)}, "pool_size"),
        ({"chunk_size": 0}, "chunk_size must be None, 'auto' or an integer"),
        ({"chunk_size": "fast"}, "chunk_size"),
        ({"group_size": -1}, "group_size"),
        ({"data_format": "NHWC"}, "data_format"),
    ],
)
def test_bad_arguments_raise_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NonLocalBlock(**kwargs)


def test_named_class_refuses_another_mode():
    with pytest.raises(ValueError, match="DotProductNonLocal always uses mode='dot_product'"):
        DotProductNonLocal(mode="gaussian")


@pytest.mark.parametrize(
    "kwargs, shape, message",
    [
        ({}, (2, 8), "rank 3.*rank 2"),
        ({}, (1, 2, 2, 2, 2, 8), "rank 6"),
        ({}, (None, 4, 4, None), "known channel dimension"),
        ({"data_format": "channels_first"}, (None, None, 4, 4), "known channel dimension"),
        ({"pool_size": (2, 2)}, (1, 4, 4, 4, 8), "pool_size=\\(2, 2\\) has 2 entries.*3 spatio-temporal"),
        ({"attention_axes": "time"}, (1, 4, 4, 8), "attention_axes='time'.*'spacetime', 'space'"),
        ({"attention_axes": "space"}, (1, 4, 8), "attention_axes='space'"),
        ({"attention_axes": "space", "pool_size": (2, 2, 2)}, (1, 4, 4, 4, 8), "pools axis 0 \\(time\\)"),
        ({"group_size": 2}, (1, 4, 4, 8), "group_size=2.*rank-5"),
        ({"group_size": 3, "pool_size": (2, 2, 2)}, (1, 6, 4, 4, 8), "multiple of the temporal pool"),
    ],
)
def test_bad_shapes_raise_at_build(kwargs, shape, message):
    block = NonLocalBlock(**kwargs)
    with pytest.raises(ValueError, match=message):
        block.build(shape)


def test_error_on_call_names_the_rank():
    with pytest.raises(ValueError, match="rank 2"):
        NonLocalBlock()(np.zeros((2, 8), "float32"))
