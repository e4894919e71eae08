import numpy as np
import pytest
import tensorflow as tf

from keras_nonlocal.applications.preprocessing import preprocess_input
from keras_nonlocal.data import transforms


def column_coded(t=2, h=32, w=40):
    """A clip whose channel 0 holds the column index and channel 1 the row."""
    clip = np.zeros((t, h, w, 3), np.float32)
    clip[..., 0] = np.arange(w)[None, None, :]
    clip[..., 1] = np.arange(h)[None, :, None]
    return clip


def offsets(out):
    """(top, left) of a crop of a column_coded clip."""
    out = np.asarray(out)
    return int(out[0, 0, 0, 1]), int(out[0, 0, 0, 0])


@pytest.mark.parametrize(
    "h,w,size,expected",
    [(240, 320, 256, (256, 341)), (320, 240, 256, (341, 256)), (256, 340, 256, (256, 340))],
)
def test_scaled_size_sets_short_side_exactly(h, w, size, expected):
    assert transforms.scaled_size(h, w, size) == expected
    out = transforms.short_side_scale(tf.zeros((1, h, w, 3)), size)
    assert tuple(out.shape[1:3]) == expected


def test_short_side_scale_keeps_a_clip_already_at_size_unchanged():
    clip = np.random.default_rng(0).integers(0, 256, (2, 32, 40, 3)).astype("uint8")
    out = transforms.short_side_scale(clip, 32)
    np.testing.assert_array_equal(out.numpy(), clip.astype("float32"))


def test_scale_jitter_stays_within_bounds_and_reaches_both_ends():
    sizes = set()
    for i in range(60):
        out = transforms.random_short_side_scale(tf.zeros((1, 32, 40, 3)), 36, 39, seed=[i, 7])
        h, w = out.shape[1:3]
        assert h == min(h, w)
        assert w == (40 * h) // 32
        sizes.add(int(h))
    assert sizes == {36, 37, 38, 39}


@pytest.mark.parametrize(
    "h,w,size,expected",
    [
        (256, 341, 256, [(0, 0), (0, 42), (0, 84)]),
        (341, 256, 256, [(0, 0), (42, 0), (84, 0)]),
        (32, 40, 32, [(0, 0), (0, 4), (0, 8)]),
        (256, 256, 256, [(0, 0), (0, 0), (0, 0)]),
        (36, 40, 32, [(0, 4), (2, 4), (4, 4)]),  # both sides larger: along the height
    ],
)
def test_three_crop_offsets(h, w, size, expected):
    assert transforms.three_crop_offsets(h, w, size) == expected


def test_spatial_crop_cuts_at_the_three_offsets():
    clip = column_coded(h=32, w=41)
    expected = transforms.three_crop_offsets(32, 41, 32)
    for position in range(3):
        out = transforms.spatial_crop(clip, 32, position)
        assert out.shape == (2, 32, 32, 3)
        assert offsets(out) == expected[position]
        np.testing.assert_array_equal(out[0, 0, :, 0], expected[position][1] + np.arange(32))


def test_random_crop_is_inside_the_frame_and_the_same_for_all_frames():
    clip = column_coded(t=3)
    seen = set()
    for i in range(40):
        out = transforms.random_crop(clip, 24, seed=[i, 0]).numpy()
        top, left = offsets(out)
        assert 0 <= top <= 32 - 24 and 0 <= left <= 40 - 24
        np.testing.assert_array_equal(out[0], out[2])
        np.testing.assert_array_equal(out[0, 0, :, 0], left + np.arange(24))
        seen.add((top, left))
    assert len(seen) > 10


def test_crop_larger_than_frame_upscales_the_short_side_first():
    out = transforms.random_crop(tf.zeros((1, 20, 30, 3)), 24, seed=[0, 0])
    assert out.shape == (1, 24, 24, 3)
    assert transforms.spatial_crop(tf.zeros((1, 30, 20, 3)), 24, 2).shape == (1, 24, 24, 3)


def test_flip_left_right_reverses_columns():
    clip = column_coded()
    out = transforms.flip_left_right(clip).numpy()
    np.testing.assert_array_equal(out[..., 0], clip[..., ::-1, 0])


def test_random_flip_gives_both_outcomes_and_nothing_else():
    clip = column_coded()
    outcomes = set()
    for i in range(20):
        out = transforms.random_flip(clip, seed=[i, 1]).numpy()
        if np.array_equal(out, clip):
            outcomes.add("same")
        else:
            np.testing.assert_array_equal(out, clip[:, :, ::-1])
            outcomes.add("flipped")
    assert outcomes == {"same", "flipped"}


def test_normalize_matches_preprocess_input_exactly():
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    expected = preprocess_input(pixels.astype("float32"))
    np.testing.assert_array_equal(transforms.normalize(tf.constant(pixels)).numpy(), expected)
    np.testing.assert_array_equal(transforms.normalize(pixels), expected)
    assert transforms.normalize(np.array([114.75, 172.125])).tolist() == [0.0, 1.0]


def test_eval_crops_shape_and_order():
    out = transforms.eval_crops(column_coded(), crop_size=32, scale=32, num_crops=3)
    assert out.shape == (3, 2, 32, 32, 3)
    lefts = [int(round(float(v) * 57.375 + 114.75)) for v in out[:, 0, 0, 0, 0].numpy()]
    assert lefts == [0, 4, 8]
    assert transforms.eval_crops(column_coded(), 32, 32, num_crops=1).shape == (1, 2, 32, 32, 3)
