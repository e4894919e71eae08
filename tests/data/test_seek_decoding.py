"""Seek decoding gives exactly the frames of a full decode, for less work.

Each video is encoded here with PyAV (different codecs, containers and GOP
sizes); the reference is a plain PyAV decode of every frame. Clips read by
`read_video` (which seeks to the keyframe before each clip and stops after
it) must equal the reference frame for frame, and `DecodeStats` must show
that the work is bounded by the clip's span plus one GOP.
"""

import numpy as np
import pytest

from keras_nonlocal.data import decoding
from keras_nonlocal.data import multiview
from keras_nonlocal.data import sampling
from tests.data import videos

# (file name, codec, pixel format, encoder options, nominal GOP size); the
# tests use the longest GOP measured in the file.
STREAMS = [
    ("mpeg4_gop5_b2.mkv", "mpeg4", "yuv420p", {"g": "5", "bf": "2"}, 5),
    ("mpeg4_gop12.avi", "mpeg4", "yuv420p", {"g": "12", "bf": "0"}, 12),
    ("mpeg2_gop9_b2.mp4", "mpeg2video", "yuv420p", {"g": "9", "bf": "2"}, 9),
    ("h264_gop16_b3.mp4", "libx264", "yuv420p", {"g": "16", "bf": "3", "sc_threshold": "0"}, 16),
    ("h264_gop10.ts", "libx264", "yuv420p", {"g": "10", "bf": "2", "sc_threshold": "0"}, 10),
    ("ffv1_intra.mkv", "ffv1", "bgr0", {"g": "1"}, 1),
]
NUM_FRAMES = 90


@pytest.fixture(scope="module", params=STREAMS, ids=[s[0] for s in STREAMS])
def stream(request, tmp_path_factory):
    name, codec, pix_fmt, options, gop = request.param
    path = tmp_path_factory.mktemp("seek") / name
    try:
        videos.write_video(path, videos.moving_frames(NUM_FRAMES), codec, pix_fmt, options=options)
    except Exception as e:  # an FFmpeg build without this encoder
        pytest.skip(f"{codec} unavailable: {e}")
    keys = videos.keyframe_indices(path)
    measured = max(np.diff(keys + [NUM_FRAMES]))  # the longest GOP
    return str(path), int(measured), videos.full_decode(path)


def test_the_reference_has_every_frame(stream):
    path, gop, reference = stream
    assert len(reference) == NUM_FRAMES
    assert decoding.frame_count(path) == NUM_FRAMES
    keys = videos.keyframe_indices(path)
    assert keys[0] == 0
    assert (gop == 1) == path.endswith("ffv1_intra.mkv")  # real GOPs elsewhere


@pytest.mark.parametrize("num_frames,stride", [(8, 2), (4, 8), (16, 1)])
def test_every_clip_position_equals_the_full_decode(stream, num_frames, stride):
    path, _, reference = stream
    decoding.clear_index_cache()
    stats = decoding.DecodeStats()
    for start in range(0, NUM_FRAMES, 7):
        indices = sampling.clip_indices(NUM_FRAMES, num_frames, stride, start)
        clip = decoding.read_video(path, indices, stats=stats)
        np.testing.assert_array_equal(clip, reference[indices], err_msg=f"start {start}")
    assert stats.full_decodes == 0
    assert stats.packets_indexed == NUM_FRAMES  # indexed once, then cached


def test_clip_at_the_very_end_and_clip_across_a_keyframe(stream):
    path, _, reference = stream
    keys = videos.keyframe_indices(path)
    key = next((k for k in keys if k >= 20), keys[-1])  # not the first keyframe
    across = np.arange(max(key - 3, 0), min(key + 3, NUM_FRAMES))
    end = np.arange(NUM_FRAMES - 6, NUM_FRAMES)
    for indices in (across, end, end[::-1], np.array([NUM_FRAMES - 1]), np.array([0])):
        clip = decoding.read_video(path, indices)
        np.testing.assert_array_equal(clip, reference[indices])


def test_eval_and_looped_clips_equal_the_full_decode(stream):
    path, _, reference = stream
    indices = sampling.eval_clip_indices(NUM_FRAMES, 8, 8, num_clips=10)  # loops past the end
    np.testing.assert_array_equal(decoding.read_video(path, indices), reference[indices])
    seen = []
    clip = decoding.read_frames(
        path, lambda n: seen.append(n) or sampling.train_clip_indices(n, 8, 4, rng=3)
    )
    assert seen == [NUM_FRAMES]
    np.testing.assert_array_equal(clip, reference[sampling.train_clip_indices(NUM_FRAMES, 8, 4, rng=3)])


def test_frames_decoded_are_bounded_by_the_clip_and_one_gop(stream):
    path, gop, reference = stream
    decoding.read_video(path, [0])  # index it (cached)
    for start in (3, 37, 61, NUM_FRAMES - 10):
        stats = decoding.DecodeStats()
        indices = sampling.clip_indices(NUM_FRAMES, 5, 2, start)
        decoding.read_frames(path, indices, stats=stats)
        span = int(indices.max() - indices.min() + 1)
        assert stats.frames_converted == 5
        assert stats.packets_indexed == 0
        assert stats.frames_decoded <= span + gop, (start, stats)


def test_full_decode_option_gives_the_same_clips(stream):
    path, _, reference = stream
    stats = decoding.DecodeStats()
    indices = np.array([[40, 2], [89, 40]])
    np.testing.assert_array_equal(
        decoding.read_video(path, indices, stats=stats, seek=False), reference[indices]
    )
    assert stats.full_decodes == 1 and stats.seeks == 0
    assert stats.frames_decoded == 90  # decoded up to the last frame needed


def test_decoding_work_does_not_grow_with_the_video_length(tmp_path):
    """A clip of a 1500-frame video costs what it costs in a 150-frame one."""
    frames = videos.moving_frames(1500, height=32, width=48)
    short = videos.write_video(tmp_path / "short.mkv", frames[:150], "mpeg4", "yuv420p", options={"g": "25"})
    long = videos.write_video(tmp_path / "long.mkv", frames, "mpeg4", "yuv420p", options={"g": "25"})
    work = {}
    for name, path in (("short", short), ("long", long)):
        decoding.read_video(path, [0])
        stats = decoding.DecodeStats()
        n = decoding.frame_count(path)
        for start in sampling.eval_clip_starts(n, 3):
            decoding.read_video(path, sampling.clip_indices(n, 8, 4, int(start) + 30), stats=stats)
        work[name] = stats.frames_decoded
    span = 7 * 4 + 1
    assert work["long"] <= 3 * (span + 25)  # three clips, each its span and a GOP
    assert work["long"] <= work["short"] + 3 * 25  # only where clips meet the GOPs differs


def test_variable_frame_rate_follows_the_timestamps(tmp_path):
    """Frames with irregular timestamps: index i is still the i-th frame shown."""
    pts = np.cumsum([0] + [1, 3, 1, 1, 7, 2, 1, 1, 5] * 8)[:60]
    path = videos.write_video(
        tmp_path / "vfr.mkv", videos.moving_frames(60), "mpeg4", "yuv420p",
        options={"g": "6", "bf": "0"}, pts=pts,
    )  # fmt: skip
    reference = videos.full_decode(path)
    assert len(reference) == 60
    for start in (0, 13, 29, 52):
        indices = np.arange(start, min(start + 8, 60))
        np.testing.assert_array_equal(decoding.read_video(path, indices), reference[indices])


def test_a_misleading_index_falls_back_to_decoding_from_the_start(tmp_path, monkeypatch):
    """If decoded timestamps disagree with the packets, nothing wrong is returned."""
    path = videos.write_video(
        tmp_path / "v.mkv", videos.moving_frames(40), "mpeg4", "yuv420p", options={"g": "8"}
    )
    reference = videos.full_decode(path)
    decoding.clear_index_cache()
    index = decoding._video_index(path, decoding._Stats())
    tampered = index.pts.copy()
    tampered[20:] += 1  # frames from 20 on would be misplaced
    decoding._store_index(decoding._cache_key(path), decoding.dataclasses.replace(index, pts=tampered))
    stats = decoding.DecodeStats()
    indices = np.arange(22, 30)
    np.testing.assert_array_equal(decoding.read_video(path, indices, stats=stats), reference[indices])
    assert stats.full_decodes == 1
    again = decoding.DecodeStats()
    decoding.read_video(path, indices, stats=again)
    assert again.full_decodes == 1 and again.seeks == 0  # remembered


def test_predict_video_reads_one_clip_at_a_time(tmp_path, monkeypatch):
    """predict_video never holds more than one clip's frames."""
    path = videos.write_video(
        tmp_path / "v.mkv", videos.moving_frames(200), "mpeg4", "yuv420p", options={"g": "10"}
    )
    reads = []
    real = decoding.read_frames

    def spy(p, indices=None, **kwargs):
        clip = real(p, indices, **kwargs)
        reads.append(clip.shape)
        return clip

    monkeypatch.setattr(decoding, "read_frames", spy)

    class Model:
        input_shape = (None, 4, 32, 32, 3)

        def predict_on_batch(self, views):
            return np.tile(np.asarray(views).mean(axis=(1, 2, 3, 4))[:, None], (1, 3))

    scores = multiview.predict_video(path, Model(), stride=2, views="5x3", progress=False)
    assert scores.shape == (3,)
    assert reads == [(4, 48, 64, 3)] * 5
