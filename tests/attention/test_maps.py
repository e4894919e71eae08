"""Attention maps in input coordinates: exact on constructed inputs, and drawn there."""

import keras
import numpy as np
import pytest
from matplotlib.patches import ConnectionPatch

from keras_nonlocal.attention import attention_maps
from keras_nonlocal.attention import figures
from keras_nonlocal.attention import non_local_blocks
from keras_nonlocal.attention import select_block
from keras_nonlocal.layers import GaussianNonLocal
from keras_nonlocal.layers import NonLocalBlock

CHANNELS = 16


def _strided_gaussian_model():
    """Space is halved once before a Gaussian block (which pools keys by 2 again)."""
    inputs = keras.Input((4, 16, 16, CHANNELS))
    x = keras.layers.AveragePooling3D((1, 2, 2))(inputs)
    x = GaussianNonLocal(name="nl")(x)
    return keras.Model(inputs, x)


def _matching_clip(matches):
    """A clip whose features have equal norm everywhere; the query's vector
    fills whole 4x4 input windows (= one pooled key) at `matches` (t, y0, x0)."""
    rng = np.random.default_rng(0)
    cells = rng.normal(size=(4, 4, 4, CHANNELS))          # one per 4x4 input window
    cells[..., 0] = 0.0                                   # the query's axis is unused
    cells /= np.linalg.norm(cells, axis=-1, keepdims=True)
    target = np.zeros(CHANNELS)
    target[0] = 1.0
    for t, y0, x0 in matches:
        cells[t, y0 // 4, x0 // 4] = target
    clip = np.repeat(np.repeat(cells, 4, axis=1), 4, axis=2)   # (4, 16, 16, C)
    return (6.0 * clip)[None].astype("float32")


def test_gaussian_block_attends_exactly_where_the_query_feature_repeats():
    model = _strided_gaussian_model()
    matches = [(0, 4, 8), (2, 12, 0), (3, 0, 12)]
    clip = _matching_clip(matches)
    (m,) = attention_maps(model, clip, queries=[(0, 5, 9)])
    assert m.stride == (1, 2, 2)
    assert m.query == ((0, 1), (4, 6), (8, 10))
    assert m.key_extent == (1, 4, 4)
    top = m.top_keys(3)
    centres = {tuple(c) for c, _ in top}
    assert centres == {(t, y + 1.5, x + 1.5) for t, y, x in matches}
    # Everything else gets (much) less weight.
    assert top[-1][1] > 20 * np.sort(m.weights)[-4]
    heat = m.heatmap()
    assert heat.shape == (4, 16, 16)
    for t, y, x in matches:
        assert np.all(heat[t, y : y + 4, x : x + 4] == heat[t, y, x])


def test_the_pictures_arrows_point_at_the_matching_positions():
    model = _strided_gaussian_model()
    matches = [(0, 4, 8), (2, 12, 0), (3, 0, 12)]
    clip = _matching_clip(matches)
    maps = attention_maps(model, clip, queries=[(0, 5, 9)])
    pixels = np.zeros((4, 16, 16, 3), "uint8")
    fig = figures.plot_clip_attention(pixels, maps, top_k=3)
    arrows = [a for a in fig.artists if isinstance(a, ConnectionPatch)]
    assert len(arrows) == 3
    pointed = set()
    for arrow in arrows:
        t = int(arrow.axesB.get_title().split()[-1])
        x, y = arrow.xy2
        pointed.add((t, y, x))
        assert arrow.axesA.get_title() == "frame 0"
        assert tuple(arrow.xy1) == (8.5, 4.5)  # the centre of the query cell, pixels 4-5 x 8-9
    assert pointed == {(t, y + 1.5, x + 1.5) for t, y, x in matches}
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_salient_queries_fall_on_the_strongest_features():
    inputs = keras.Input((8, 8, 4))
    model = keras.Model(inputs, NonLocalBlock(name="nl")(inputs))
    image = np.zeros((1, 8, 8, 4), "float32")
    image[0, 2, 5] = 5.0
    image[0, 6, 1] = 3.0
    maps = attention_maps(model, image, num_queries=2)
    assert [m.query for m in maps] == [((2, 3), (5, 6)), ((6, 7), (1, 2))]


def test_blocks_are_found_in_nested_and_subclassed_models():
    class Wrapper(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(8, 3, strides=2, padding="same")
            self.block = NonLocalBlock(mode="dot_product", name="inner_nl")

        def call(self, x):
            return self.block(self.conv(x))

    model = Wrapper()
    image = np.random.default_rng(0).normal(size=(1, 12, 12, 3)).astype("float32")
    model(image)
    assert [b.name for b in non_local_blocks(model)] == ["inner_nl"]
    (m,) = attention_maps(model, image, queries=[(11, 0)])
    assert m.query == ((10, 12), (0, 2)) and not m.is_distribution
    with pytest.raises(ValueError, match="no non-local block named 'nope'.*inner_nl"):
        select_block(model, "nope")


@pytest.mark.parametrize(
    "queries, match",
    [([(0, 16, 0)], "not a position of the model's input"), ([(1, 2)], "one index per axis")],
)
def test_bad_queries_name_the_input_positions(queries, match):
    with pytest.raises(ValueError, match=match):
        attention_maps(_strided_gaussian_model(), np.zeros((1, 4, 16, 16, CHANNELS), "float32"), queries)


def test_a_model_without_blocks_is_refused():
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(1, 3)(inputs), name="plain")
    with pytest.raises(ValueError, match="'plain' has no NonLocalBlock"):
        attention_maps(model, np.zeros((1, 8, 8, 1), "float32"))


def test_animation_is_written_as_gif(tmp_path):
    model = _strided_gaussian_model()
    clip = _matching_clip([(1, 4, 4)])
    (m,) = attention_maps(model, clip, queries=[(1, 5, 5)])
    pixels = np.broadcast_to(40 * np.arange(4, dtype="uint8")[:, None, None, None], (4, 16, 16, 3))
    path = figures.save_animation(pixels, m, tmp_path / "a.gif")
    from PIL import Image

    with Image.open(path) as gif:
        assert gif.n_frames == 4
