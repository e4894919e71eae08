import numpy as np
import pytest

from keras_nonlocal.data import sampling


def test_clip_indices_are_start_plus_stride_steps():
    idx = sampling.clip_indices(100, num_frames=8, stride=8, start=5)
    np.testing.assert_array_equal(idx, 5 + 8 * np.arange(8))


def test_clip_indices_loop_wraps_past_the_end():
    idx = sampling.clip_indices(10, num_frames=6, stride=3, start=4)
    np.testing.assert_array_equal(idx, [4, 7, 0, 3, 6, 9])


def test_clip_indices_pad_repeats_the_last_frame():
    idx = sampling.clip_indices(10, num_frames=6, stride=3, start=4, short_video="pad")
    np.testing.assert_array_equal(idx, [4, 7, 9, 9, 9, 9])


def test_train_start_covers_the_whole_allowed_range_inclusive():
    rng = np.random.default_rng(0)
    starts = {
        int(sampling.train_clip_indices(20, 4, 3, rng)[0]) for _ in range(400)
    }
    assert starts == set(range(0, 20 - 4 * 3 + 1))


def test_train_clip_of_short_video_starts_at_zero_and_loops():
    for seed in range(5):
        idx = sampling.train_clip_indices(10, num_frames=32, stride=2, rng=seed)
        np.testing.assert_array_equal(idx, (2 * np.arange(32)) % 10)


@pytest.mark.parametrize("t,s", [(32, 2), (8, 8), (128, 1)])
def test_paper_settings_span_t_times_s_frames(t, s):
    idx = sampling.train_clip_indices(300, t, s, rng=1)
    assert idx.shape == (t,)
    assert np.all(np.diff(idx) == s)
    assert idx[-1] < 300


def test_eval_clip_starts_follow_the_official_formula():
    np.testing.assert_array_equal(sampling.eval_clip_starts(300, 10), 30 * np.arange(10))
    # floor(n * k / clips), exact for n not divisible by the clip count
    np.testing.assert_array_equal(sampling.eval_clip_starts(7, 3), [0, 2, 4])


def test_eval_clip_indices_shape_and_looping_of_last_clip():
    idx = sampling.eval_clip_indices(20, num_frames=4, stride=3, num_clips=2)
    np.testing.assert_array_equal(idx, [[0, 3, 6, 9], [10, 13, 16, 19]])
    idx = sampling.eval_clip_indices(20, num_frames=4, stride=4, num_clips=2)
    np.testing.assert_array_equal(idx[1], [10, 14, 18, 2])


@pytest.mark.parametrize(
    "views,expected", [("10x3", (10, 3)), (" 2 X 1 ", (2, 1)), ((4, 3), (4, 3))]
)
def test_parse_views_accepts(views, expected):
    assert sampling.parse_views(views) == expected


@pytest.mark.parametrize("views", ["10by3", "10x2", "0x3", "x3", None])
def test_parse_views_rejects_with_the_value_in_the_message(views):
    with pytest.raises(ValueError, match="views"):
        sampling.parse_views(views)


def test_bad_clip_arguments_name_the_argument():
    with pytest.raises(ValueError, match="num_frames"):
        sampling.clip_indices(10, num_frames=0, stride=1, start=0)
    with pytest.raises(ValueError, match="stride"):
        sampling.clip_indices(10, num_frames=4, stride=0, start=0)
    with pytest.raises(ValueError, match="short_video"):
        sampling.clip_indices(10, 4, 1, 0, short_video="repeat")
    with pytest.raises(TypeError, match="num_frames"):
        sampling.clip_indices(10, 2.5, 1, 0)
