import numpy as np
import pytest
import tensorflow as tf

from keras_nonlocal.applications.preprocessing import preprocess_input
from keras_nonlocal.data import pipeline
from keras_nonlocal.data import sampling
from tests.data import videos


def clips_of(ds):
    return [(clip.numpy(), int(label)) for clip, label in ds]


def test_train_clip_frames_are_t_frames_at_stride_s(video_60):
    ds = pipeline.train_dataset(
        [(video_60, 3)], num_frames=4, stride=3, crop_size=32, scale_range=(32, 32), seed=0
    )
    starts = set()
    for epoch in range(12):
        [(clip, label)] = clips_of(ds)
        assert clip.shape == (4, 32, 32, 3) and clip.dtype == np.float32
        assert label == 3
        ids = videos.frame_ids(videos.denormalize(clip))
        np.testing.assert_array_equal(ids, ids[0] + 3 * np.arange(4))
        assert 0 <= ids[0] <= 60 - 4 * 3
        starts.add(int(ids[0]))
    assert len(starts) > 1  # a new random position each epoch


def test_train_start_matches_the_sampler_for_the_element_seed(video_60):
    """The decoded frames are exactly `train_clip_indices` for the seed used."""
    ds = pipeline.train_dataset(
        [(video_60, 0)], num_frames=5, stride=2, crop_size=32, scale_range=(32, 32),
        seed=11, shuffle=False,
    )
    seed = next(iter(tf.data.Dataset.random(seed=11, rerandomize_each_iteration=True).batch(2)))
    expected = sampling.train_clip_indices(60, 5, 2, pipeline._rng(seed.numpy()))
    [(clip, _)] = clips_of(ds)
    np.testing.assert_array_equal(videos.frame_ids(videos.denormalize(clip)), expected)


def test_same_seed_gives_the_same_clips(video_60):
    make = lambda: pipeline.train_dataset(  # noqa: E731
        [(video_60, 0)] * 3, num_frames=4, stride=2, crop_size=24, seed=5,
        scale_range=(32, 36),
    )
    for (a, la), (b, lb) in zip(clips_of(make()), clips_of(make())):
        np.testing.assert_array_equal(a, b)


def test_short_video_loops_by_default(video_10):
    ds = pipeline.train_dataset(
        [(video_10, 0)], num_frames=8, stride=2, crop_size=32, scale_range=(32, 32), seed=0
    )
    [(clip, _)] = clips_of(ds)
    np.testing.assert_array_equal(
        videos.frame_ids(videos.denormalize(clip)), [0, 2, 4, 6, 8, 0, 2, 4]
    )


def test_short_video_pad_repeats_the_last_frame(video_10):
    ds = pipeline.train_dataset(
        [(video_10, 0)], num_frames=8, stride=2, crop_size=32, scale_range=(32, 32),
        seed=0, short_video="pad",
    )
    [(clip, _)] = clips_of(ds)
    np.testing.assert_array_equal(
        videos.frame_ids(videos.denormalize(clip)), [0, 2, 4, 6, 8, 9, 9, 9]
    )


def test_normalised_pixels_are_exact_for_a_known_frame(video_10):
    ds = pipeline.eval_dataset(
        [(video_10, 0)], num_frames=1, stride=1, views="1x1", crop_size=32, scale=32
    )
    view, label, index = next(iter(ds))
    expected = preprocess_input(videos.frame_image(0)[:, 4:36].astype("float32"))
    np.testing.assert_array_equal(view.numpy()[0], expected)
    assert view.numpy()[0, 0, 0, 0] == np.float32((10 - 114.75) / 57.375)


def test_train_crop_and_flip_are_shared_by_all_frames(video_60):
    ds = pipeline.train_dataset(
        [(video_60, 0)] * 24, num_frames=3, stride=1, crop_size=24,
        scale_range=(32, 32), seed=3,
    )
    flips = set()
    for clip, _ in clips_of(ds):
        pixels = np.round(videos.denormalize(clip)).astype(int)
        cols = pixels[..., 1] // 5  # G = 5 * column
        rows = pixels[..., 2] // 7  # B = 7 * row
        first = cols[0, 0, 0]
        step = 1 if cols[0, 0, 1] > first else -1
        flips.add(step)
        for t in range(3):
            np.testing.assert_array_equal(cols[t, 0], first + step * np.arange(24))
            np.testing.assert_array_equal(rows[t, :, 0], rows[0, 0, 0] + np.arange(24))
        left = first if step == 1 else first - 23
        assert 0 <= left <= 40 - 24 and 0 <= rows[0, 0, 0] <= 32 - 24
    assert flips == {1, -1}


def test_scale_jitter_output_is_the_crop_size(video_60):
    ds = pipeline.train_dataset(
        [(video_60, 0)] * 4, num_frames=2, stride=1, crop_size=40, batch_size=2, seed=1,
        scale_range=(48, 64),
    )
    for clip, label in ds:
        assert clip.shape == (2, 2, 40, 40, 3)
        assert label.shape == (2,)


def test_corrupt_file_is_skipped_with_a_warning_and_counted(video_10, corrupt_video):
    ds = pipeline.train_dataset(
        [(video_10, 0), (corrupt_video, 1), (video_10, 2)], num_frames=2, stride=1,
        crop_size=32, scale_range=(32, 32), shuffle=False, max_bad=1,
        num_parallel_calls=1,
    )
    with pytest.warns(pipeline.BadVideoWarning, match="corrupt.mp4"):
        labels = [label for _, label in clips_of(ds)]
    assert labels == [0, 2]
    assert ds.bad_files.count == 1
    assert ds.bad_files.paths == [corrupt_video]


def test_more_bad_files_than_max_bad_stops_with_a_clear_error(corrupt_video, tmp_path):
    counter = pipeline.BadFileCounter(max_bad=1)
    ds = pipeline.train_dataset(
        [(corrupt_video, 0), (str(tmp_path / "gone.mp4"), 0)], num_frames=2, stride=1,
        crop_size=32, bad_files=counter, num_parallel_calls=1,
    )
    with pytest.warns(pipeline.BadVideoWarning):
        with pytest.raises(tf.errors.OpError, match="more than max_bad=1"):
            clips_of(ds)
    assert counter.count == 2


def test_eval_views_come_video_clip_crop_in_order(video_60, video_10):
    ds = pipeline.eval_dataset(
        [(video_60, 4), (video_10, 7)], num_frames=4, stride=2, views="3x3",
        crop_size=32, scale=32,
    )
    views = [(v.numpy(), int(label), int(index)) for v, label, index in ds]
    assert len(views) == 2 * 9
    assert [v[1] for v in views] == [4] * 9 + [7] * 9
    assert [v[2] for v in views] == [0] * 9 + [1] * 9
    for i, (view, _, index) in enumerate(views):
        n = 60 if index == 0 else 10
        clip, crop = divmod(i % 9, 3)
        expected = sampling.eval_clip_indices(n, 4, 2, 3)[clip]
        pixels = np.round(videos.denormalize(view)).astype(int)
        np.testing.assert_array_equal(videos.frame_ids(pixels), expected)
        assert pixels[0, 0, 0, 1] // 5 == [0, 4, 8][crop]  # left offset


def test_eval_batches_views(video_60):
    ds = pipeline.eval_dataset(
        [(video_60, 0)], num_frames=2, stride=1, views="2x3", crop_size=24, scale=24,
        batch_size=4,
    )
    assert [int(v.shape[0]) for v, _, _ in ds] == [4, 2]


def test_parallel_decoding_gives_the_same_clips_as_serial(video_60, video_10):
    entries = [(video_60, 0), (video_10, 1)] * 3
    outputs = []
    for calls in (1, 3):
        ds = pipeline.train_dataset(
            entries, num_frames=4, stride=2, crop_size=24, scale_range=(32, 36),
            seed=2, num_parallel_calls=calls, deterministic=True,
        )
        outputs.append(clips_of(ds))
    for (a, la), (b, lb) in zip(*outputs):
        assert la == lb
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"num_frames": 0}, "num_frames"),
        ({"stride": -1}, "stride"),
        ({"crop_size": 0}, "crop_size"),
        ({"scale_range": (320, 256)}, "scale_range"),
        ({"short_video": "wrap"}, "short_video"),
        ({"max_bad": -1}, "max_bad"),
        ({"num_parallel_calls": 0}, "num_parallel_calls"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_train_dataset_rejects_bad_arguments_by_name(video_10, kwargs, match):
    with pytest.raises(ValueError, match=match):
        pipeline.train_dataset([(video_10, 0)], **kwargs)


def test_eval_dataset_rejects_bad_views(video_10):
    with pytest.raises(ValueError, match="views='10by3'"):
        pipeline.eval_dataset([(video_10, 0)], views="10by3")


def test_empty_source_is_rejected():
    with pytest.raises(ValueError, match="no video"):
        pipeline.train_dataset([])
