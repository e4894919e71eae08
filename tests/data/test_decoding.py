import numpy as np
import pytest
import tensorflow as tf

from keras_nonlocal.data import decoding
from tests.data import videos


def test_lossless_video_decodes_to_the_exact_frames(video_60):
    frames = decoding.read_video(video_60)
    np.testing.assert_array_equal(frames, videos.coded_frames(60))


def test_read_video_returns_requested_indices_in_order_with_repeats(video_60):
    clip = decoding.read_video(video_60, indices=[[5, 3], [5, 59]])
    assert clip.shape == (2, 2, 32, 40, 3)
    np.testing.assert_array_equal(videos.frame_ids(clip.reshape(4, 32, 40, 3)), [5, 3, 5, 59])


def test_read_video_passes_the_frame_count_to_a_callable(video_10):
    seen = []
    clip = decoding.read_video(video_10, lambda n: seen.append(n) or [n - 1])
    assert seen == [10]
    assert videos.frame_ids(clip).tolist() == [9]


def test_out_of_range_index_is_a_clear_error(video_10):
    with pytest.raises(ValueError, match=r"\[0, 9\]"):
        decoding.read_video(video_10, [10])


def test_h264_moving_square_identifies_each_frame(tmp_path):
    """A lossy codec: a white square moving 1 pixel per frame."""
    frames = np.zeros((24, 32, 40, 3), np.uint8)
    for k in range(24):
        frames[k, 12:20, k : k + 8] = 255
    try:
        path = videos.write_video(tmp_path / "square.mp4", frames, "libx264", "yuv420p")
    except Exception as e:  # an FFmpeg build without libx264
        pytest.skip(f"libx264 unavailable: {e}")
    decoded = decoding.read_video(path, indices=[0, 7, 23])
    columns = decoded[:, 16, :, 0].astype(int) > 128
    assert [int(np.argmax(c)) for c in columns] == [0, 7, 23]


def test_any_frame_rate_and_size(tmp_path):
    frames = videos.coded_frames(7, height=18, width=26)
    path = videos.write_video(tmp_path / "odd.mkv", frames, rate=7)
    np.testing.assert_array_equal(decoding.read_video(path), frames)


def test_corrupt_file_raises_video_decode_error(corrupt_video):
    with pytest.raises(decoding.VideoDecodeError, match="corrupt.mp4"):
        decoding.read_frames(corrupt_video)


def test_missing_file_raises_video_decode_error(tmp_path):
    with pytest.raises(decoding.VideoDecodeError, match="no such file"):
        decoding.read_frames(tmp_path / "missing.mp4")


def test_frame_folder_reads_images_in_natural_order(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for k in range(12):
        data = tf.io.encode_png(videos.frame_image(k)).numpy()
        (folder / f"img_{k}.png").write_bytes(data)
    (folder / "notes.txt").write_text("not a frame")
    assert [p.rsplit("/", 1)[1] for p in decoding.list_frame_images(folder)][:3] == [
        "img_0.png", "img_1.png", "img_2.png",
    ]
    clip = decoding.read_frames(folder, indices=[2, 10, 11])
    np.testing.assert_array_equal(clip, videos.coded_frames(12)[[2, 10, 11]])


def test_empty_frame_folder_is_a_decode_error(tmp_path):
    with pytest.raises(decoding.VideoDecodeError, match="no frame images"):
        decoding.read_frames(tmp_path)


def test_hdf5_frames_read_with_h5py(tmp_path):
    frames = videos.coded_frames(9)
    path = decoding.write_hdf5_frames(str(tmp_path / "f.h5"), frames)
    clip = decoding.read_hdf5_frames(path, indices=[8, 0, 8], backend="h5py")
    np.testing.assert_array_equal(clip, frames[[8, 0, 8]])
    streamed = np.stack([f.numpy() for f in decoding.hdf5_frames_dataset(path, backend="h5py")])
    np.testing.assert_array_equal(streamed, frames)
    np.testing.assert_array_equal(decoding.read_frames(path), frames)


def test_hdf5_with_a_wrong_layout_is_a_decode_error(tmp_path):
    import h5py

    path = str(tmp_path / "bad.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("frames", data=np.zeros((3, 4), np.uint8))
    with pytest.raises(decoding.VideoDecodeError, match=r"\(N, H, W, 3\)"):
        decoding.read_frames(path)


def test_tfio_availability_flag_and_message_agree():
    assert isinstance(decoding.TFIO_AVAILABLE, bool)
    assert (decoding.TFIO_ERROR == "") == decoding.TFIO_AVAILABLE


@pytest.mark.skipif(decoding.TFIO_AVAILABLE, reason="tensorflow-io loads here")
def test_without_tfio_the_message_says_why_and_h5py_is_used(tmp_path):
    message = decoding.TFIO_ERROR
    assert "tensorflow-io" in message and "2.17" in message and "h5py" in message
    with pytest.raises(ImportError, match="backend='tfio'") as info:
        decoding.read_hdf5_frames(tmp_path / "x.h5", backend="tfio")
    assert message in str(info.value)
    path = decoding.write_hdf5_frames(str(tmp_path / "f.h5"), videos.coded_frames(3))
    np.testing.assert_array_equal(decoding.read_hdf5_frames(path), videos.coded_frames(3))


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="backend"):
        decoding.read_hdf5_frames("x.h5", backend="pandas")


@pytest.mark.tfio
def test_tfio_streams_hdf5_frames_like_h5py(tmp_path):
    pytest.importorskip("tensorflow_io")
    if not decoding.TFIO_AVAILABLE:
        pytest.skip(decoding.TFIO_ERROR)
    frames = videos.coded_frames(6)
    path = decoding.write_hdf5_frames(str(tmp_path / "f.h5"), frames)
    ds = decoding.hdf5_frames_dataset(path, backend="tfio")
    assert type(ds).__module__.startswith("tensorflow_io")
    np.testing.assert_array_equal(np.stack([f.numpy() for f in ds]), frames)
    clip = decoding.read_hdf5_frames(path, indices=[5, 1, 1], backend="tfio")
    np.testing.assert_array_equal(clip, frames[[5, 1, 1]])
    np.testing.assert_array_equal(decoding.read_frames(path, [3]), frames[[3]])


class _SliceRecorder:
    """Stands in for `tfio.IOTensor.from_hdf5(path)(dataset)`, reading
    slices with h5py and recording which ones were asked for."""

    def __init__(self, path, slices):
        self.path, self.slices = path, slices

    def __call__(self, dataset):
        assert dataset == "/frames"
        return self

    def __getitem__(self, key):
        import h5py

        self.slices.append((key.start, key.stop))
        with h5py.File(self.path, "r") as f:
            return f["frames"][key]


def _recording_tfio(monkeypatch, slices):
    class IOTensor:
        @staticmethod
        def from_hdf5(path):
            return _SliceRecorder(path, slices)

    monkeypatch.setattr(decoding, "_TFIO", type("tfio", (), {"IOTensor": IOTensor}))
    monkeypatch.setattr(decoding, "TFIO_AVAILABLE", True)


def test_tfio_path_reads_only_the_runs_of_needed_frames(tmp_path, monkeypatch):
    frames = videos.coded_frames(40)
    path = decoding.write_hdf5_frames(str(tmp_path / "f.h5"), frames)
    slices = []
    _recording_tfio(monkeypatch, slices)
    indices = np.array([[30, 31, 32, 5], [5, 6, 39, 31]])
    clip = decoding.read_hdf5_frames(path, indices, backend="tfio")
    np.testing.assert_array_equal(clip, frames[indices])
    assert slices == [(5, 7), (30, 33), (39, 40)]  # 7 of 40 frames read


@pytest.mark.tfio
def test_tfio_reads_only_needed_frames_for_real(tmp_path):
    pytest.importorskip("tensorflow_io")
    if not decoding.TFIO_AVAILABLE:
        pytest.skip(decoding.TFIO_ERROR)
    frames = videos.coded_frames(50)
    path = decoding.write_hdf5_frames(str(tmp_path / "f.h5"), frames)
    indices = np.array([[49, 0, 1, 2], [20, 22, 24, 49]])
    np.testing.assert_array_equal(decoding.read_hdf5_frames(path, indices, backend="tfio"), frames[indices])
    tensor = decoding._TFIO.IOTensor.from_hdf5(path)("/frames")
    np.testing.assert_array_equal(np.asarray(tensor[10:13]), frames[10:13])
