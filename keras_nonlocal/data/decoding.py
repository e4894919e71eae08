"""Reading frames: PyAV for video files, images for frame folders, HDF5.

Three kinds of input give RGB uint8 frames of shape `(H, W, 3)`:

- a video file of any container, codec, frame rate and size, decoded with
  PyAV (`av`, which ships its own FFmpeg; `pip install av`);
- a folder of frame images (JPEG/PNG/BMP/GIF), in natural file-name order;
- an HDF5 file holding pre-decoded frames, a `(N, H, W, 3)` uint8 dataset
  (default name `"frames"`), read with tensorflow-io where it loads and with
  h5py otherwise.

tensorflow-io is probed once, at import: `TFIO_AVAILABLE` says whether it
loaded, `TFIO_ERROR` says why not. Its last release (0.37.1) is built for
TensorFlow 2.17 and fails with newer TensorFlow ("undefined symbol"); its
FFmpeg video ops also need `libavformat.so.58`, which current distributions
no longer ship, so video files always go through PyAV.
"""

import collections
import dataclasses
import importlib
import itertools
import os
import re
import threading

import numpy as np
import tensorflow as tf

VIDEO_EXTENSIONS = (
    ".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv",
    ".wmv", ".3gp", ".ogv", ".ts",
)  # fmt: skip
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
HDF5_EXTENSIONS = (".h5", ".hdf5")
HDF5_FRAMES_KEY = "frames"

TFIO_SUPPORTED_TENSORFLOW = "2.17"


class VideoDecodeError(IOError):
    """Raised when a video, frame folder or HDF5 file cannot be read."""


def _probe_tfio():
    """Imports tensorflow-io and forces its native library to load."""
    try:
        tfio = importlib.import_module("tensorflow_io")
    except ImportError as e:
        return None, (
            f"tensorflow-io is not installed ({e}). It is optional: install "
            f"`tensorflow-io` next to TensorFlow {TFIO_SUPPORTED_TENSORFLOW}.x "
            "to read HDF5 frames with it; h5py is used meanwhile."
        )
    except Exception as e:  # a broken install can fail in many ways
        return None, _tfio_load_message(e)
    try:
        # `import tensorflow_io` loads its kernels lazily; resolving one op
        # loads libtensorflow_io.so, which is where a TensorFlow ABI mismatch
        # shows up.
        core_ops = importlib.import_module("tensorflow_io.python.ops").core_ops
        core_ops.io_hdf5_readable_info  # noqa: B018
        tfio.IODataset.from_hdf5  # noqa: B018
        tfio.IOTensor.from_hdf5  # noqa: B018
    except Exception as e:
        return None, _tfio_load_message(e)
    return tfio, ""


def _tfio_load_message(error):
    version = "unknown"
    try:
        from importlib import metadata

        version = metadata.version("tensorflow-io")
    except Exception:
        pass
    return (
        f"tensorflow-io {version} is installed but cannot load its native "
        f"library with TensorFlow {tf.__version__}: "
        f"{type(error).__name__}: {str(error).strip()[:300]}. tensorflow-io "
        f"0.37.1, its last release, is built for TensorFlow "
        f"{TFIO_SUPPORTED_TENSORFLOW}.x; use an environment pinned to it "
        "(see .ci/tfio_env.sh). h5py is used for HDF5 frames meanwhile, and "
        "PyAV for video files."
    )


_TFIO, TFIO_ERROR = _probe_tfio()
TFIO_AVAILABLE = _TFIO is not None


def _require_av():
    try:
        return importlib.import_module("av")
    except ImportError as e:
        raise ImportError(
            "Decoding video files needs PyAV: `pip install av` (or "
            f"`pip install keras-nonlocal[video]`). Import failed with: {e}"
        ) from e


def _natural_key(name):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def list_frame_images(directory):
    """Lists the frame images of a folder in natural order.

    `frame_2.jpg` sorts before `frame_10.jpg`. Files with other extensions are
    ignored.

    Args:
        directory: path to a folder of frame images.

    Returns:
        A list of file paths.

    Example:

    >>> paths = list_frame_images("videos/abseiling/clip_0001")  # doctest: +SKIP
    """
    names = [
        n
        for n in os.listdir(directory)
        if n.lower().endswith(IMAGE_EXTENSIONS)
        and os.path.isfile(os.path.join(directory, n))
    ]
    return [os.path.join(directory, n) for n in sorted(names, key=_natural_key)]


def _resolve_indices(num_frames, indices):
    if num_frames < 1:
        raise VideoDecodeError("no frames could be decoded")
    if indices is None:
        return np.arange(num_frames, dtype="int64")
    if callable(indices):
        indices = indices(num_frames)
    indices = np.asarray(indices, dtype="int64")
    if indices.size and (indices.min() < 0 or indices.max() >= num_frames):
        raise ValueError(
            f"Frame indices must lie in [0, {num_frames - 1}]. Received "
            f"indices from {indices.min()} to {indices.max()}."
        )
    return indices


def _gather(indices, read_one, frame_shape=None):
    """Reads each distinct index once and places it wherever it is needed."""
    unique, inverse = np.unique(indices.ravel(), return_inverse=True)
    frames = [read_one(int(i)) for i in unique]
    shape = frame_shape or (frames[0].shape if frames else (0, 0, 3))
    stacked = np.stack(frames) if frames else np.zeros((0,) + shape, "uint8")
    return stacked[inverse].reshape(indices.shape + stacked.shape[1:])


class DecodeStats:
    """Counts the decoding work of `read_video` calls.

    Pass one to `read_video` / `read_frames` (as `stats=`) to see what
    reading a clip cost: a clip read by seeking decodes at most the frames
    from the keyframe before it to its last frame, whatever the length of
    the video.

    Attributes:
        frames_decoded: frames the decoder produced (converted to RGB or not).
        frames_converted: frames converted to RGB (the frames returned).
        seeks: seeks to a keyframe.
        packets_indexed: packets read (not decoded) to index a video's
            frame timestamps; cached per file, so a second read adds none.
        full_decodes: reads that decoded the stream from its first frame
            because it cannot be seeked exactly (see `read_video`).

    Example:

    >>> stats = DecodeStats()
    >>> clip = read_video("long.mp4", [9000, 9002], stats=stats)  # doctest: +SKIP
    >>> stats.frames_decoded <= 2 + 250  # the clip and at most one GOP  # doctest: +SKIP
    True
    """

    _FIELDS = (
        "frames_decoded", "frames_converted", "seeks", "packets_indexed",
        "full_decodes",
    )  # fmt: skip

    def __init__(self):
        self._lock = threading.Lock()
        for name in self._FIELDS:
            setattr(self, name, 0)

    def add(self, **counts):
        """Adds counts to the named fields (thread-safe)."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + int(value))

    def as_dict(self):
        """The counts as a dict."""
        return {name: getattr(self, name) for name in self._FIELDS}

    def __repr__(self):
        fields = ", ".join(f"{k}={v}" for k, v in self.as_dict().items())
        return f"DecodeStats({fields})"


class _Stats:
    """Local tallies, added to a `DecodeStats` (if any) once."""

    def __init__(self):
        self.decoded = self.converted = self.seeks = self.indexed = self.full = 0

    def flush(self, stats):
        if stats is not None:
            stats.add(
                frames_decoded=self.decoded, frames_converted=self.converted,
                seeks=self.seeks, packets_indexed=self.indexed,
                full_decodes=self.full,
            )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class _VideoIndex:
    """What decoding a video by seeking needs, from one pass over its packets.

    `pts[i]` is the timestamp of frame `i` of a full decode (the packets'
    timestamps in presentation order); `key_frame[k]` is the frame index of
    the k-th keyframe and `key_seek[k]` the timestamp to seek to for it.
    `seekable` is False when the packets do not pin the frames down exactly;
    such videos are decoded from their start (`num_frames` is then counted by
    decoding).
    """

    num_frames: int
    width: int
    height: int
    seekable: bool
    pts: np.ndarray = None
    key_frame: np.ndarray = None
    key_seek: np.ndarray = None


class _SeekMismatch(Exception):
    """The decoder's output did not match the packet index."""


# Indexes of recently read videos, keyed by (path, size, mtime): training
# reads the same videos every epoch. Bounded by the frames they describe.
_INDEX_CACHE = collections.OrderedDict()
_INDEX_CACHE_FRAMES = 0
_INDEX_CACHE_MAX_FRAMES = 2_000_000  # about 48 MB of int64 arrays
_INDEX_LOCK = threading.Lock()


def _cache_key(path):
    info = os.stat(path)
    return (os.path.abspath(path), info.st_size, info.st_mtime_ns)


def _cached_index(key):
    with _INDEX_LOCK:
        index = _INDEX_CACHE.get(key)
        if index is not None:
            _INDEX_CACHE.move_to_end(key)
        return index


def _store_index(key, index):
    global _INDEX_CACHE_FRAMES
    size = index.num_frames if index.seekable else 1
    with _INDEX_LOCK:
        old = _INDEX_CACHE.pop(key, None)
        if old is not None:
            _INDEX_CACHE_FRAMES -= old.num_frames if old.seekable else 1
        _INDEX_CACHE[key] = index
        _INDEX_CACHE_FRAMES += size
        while _INDEX_CACHE_FRAMES > _INDEX_CACHE_MAX_FRAMES and len(_INDEX_CACHE) > 1:
            _, dropped = _INDEX_CACHE.popitem(last=False)
            _INDEX_CACHE_FRAMES -= dropped.num_frames if dropped.seekable else 1


def clear_index_cache():
    """Forgets the frame indexes of the videos read so far.

    `read_video` indexes each video file once (one pass over its packets,
    nothing decoded) and keeps the index while the file's size and
    modification time stay the same; this empties that cache.

    Example:

    >>> clear_index_cache()
    """
    global _INDEX_CACHE_FRAMES
    with _INDEX_LOCK:
        _INDEX_CACHE.clear()
        _INDEX_CACHE_FRAMES = 0


def _build_index(container, stream, tally):
    """One pass over the packets, decoding only until the first frame."""
    pts, keys, key_seek = [], [], []
    seekable = True
    first_pts = None
    first_frame = None
    for packet in container.demux(stream):
        if packet.size == 0:  # the flush packets at the end
            if first_frame is None:
                first_frame = _first(packet.decode(), tally)
            continue
        tally.indexed += 1
        if first_frame is None:
            first_frame = _first(packet.decode(), tally)
        if packet.pts is None or packet.is_corrupt or packet.is_discard:
            seekable = False
            continue
        if first_pts is None:
            first_pts = packet.pts
            # A stream must start at a keyframe that comes first on screen:
            # otherwise a full decode drops or garbles its leading frames.
            seekable = seekable and packet.is_keyframe
        elif packet.pts < first_pts:
            seekable = False
        pts.append(packet.pts)
        if packet.is_keyframe:
            keys.append(packet.pts)
            key_seek.append(packet.pts if packet.dts is None else packet.dts)
    if first_frame is None:
        raise VideoDecodeError("no frames could be decoded")
    width, height = first_frame
    pts = np.asarray(pts, np.int64)
    order = np.argsort(pts, kind="stable")
    pts = pts[order]
    if not seekable or not len(pts) or np.any(np.diff(pts) == 0):
        return _VideoIndex(0, width, height, False)
    keys = np.asarray(keys, np.int64)
    key_frame = np.searchsorted(pts, keys)
    order = np.argsort(key_frame, kind="stable")
    return _VideoIndex(
        len(pts), width, height, True, pts, key_frame[order],
        np.asarray(key_seek, np.int64)[order],
    )  # fmt: skip


def _first(frames, tally):
    for frame in frames:
        tally.decoded += 1
        return frame.width, frame.height
    return None


def _open_video(path):
    av = _require_av()
    container = av.open(path)
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(f"{path}: no video stream")
    return container, container.streams.video[0]


def _video_index(path, tally):
    """The video's index, from the cache or from one pass over its packets."""
    key = _cache_key(path)
    index = _cached_index(key)
    if index is not None:
        return index
    container, stream = _open_video(path)
    with container:
        index = _build_index(container, stream, tally)
    if not index.seekable:
        # Count the frames once by decoding; cached like the index.
        container, stream = _open_video(path)
        with container:
            stream.thread_type = "AUTO"
            count = 0
            for _ in container.decode(stream):
                count += 1
            tally.decoded += count
            tally.full += 1
        if count < 1:
            raise VideoDecodeError("no frames could be decoded")
        index = dataclasses.replace(index, num_frames=count)
    _store_index(key, index)
    return index


def _to_rgb(frame, index, tally):
    if (frame.width, frame.height) != (index.width, index.height):
        frame = frame.reformat(width=index.width, height=index.height)
    tally.converted += 1
    return frame.to_ndarray(format="rgb24")


def _decode_from_start(container, stream, index, needed, store, tally):
    """Decodes from the first frame and stops after the last needed one."""
    last = int(needed[-1])
    wanted = set(int(i) for i in needed)
    found = 0
    tally.full += 1
    for position, frame in enumerate(container.decode(stream)):
        tally.decoded += 1
        if position in wanted:
            store(position, _to_rgb(frame, index, tally))
            found += 1
        if position >= last:
            break
    if found != len(wanted):
        raise VideoDecodeError(
            f"the stream ended before frame {last} (it held {index.num_frames} "
            "frames when counted)"
        )


def _seek(container, stream, index, k, tally):
    """Seeks to keyframe `k` and returns a packet iterator starting there.

    Demuxers differ in the timestamp they seek by (MP4 by presentation
    time, others by decoding time), so the keyframe's pts is tried first and
    its dts second; a seek that lands on an earlier keyframe only costs
    decoding, one that lands after it is refused.
    """
    key_pts = int(index.pts[index.key_frame[k]])
    for target in dict.fromkeys((key_pts, int(index.key_seek[k]))):
        container.seek(target, stream=stream, backward=True)
        tally.seeks += 1
        packets = container.demux(stream)
        for first in packets:
            if first.size:
                break
        else:
            continue
        if first.pts is not None and first.pts <= key_pts:
            return itertools.chain([first], packets)
    raise _SeekMismatch(f"no seek reaches the keyframe at pts {key_pts}")


def _decode_by_seeking(container, stream, index, needed, store, tally):
    """Seeks to the keyframe before each run of needed frames, decodes
    forward, and stops after the run's last frame."""
    pos = 0
    while pos < len(needed):
        target = int(needed[pos])
        k = int(np.searchsorted(index.key_frame, target, side="right")) - 1
        if k < 0:
            raise _SeekMismatch(f"no keyframe before frame {target}")
        key = int(index.key_frame[k])
        packets = _seek(container, stream, index, k, tally)
        expected = key  # the next frame index the decoder must produce
        for packet in packets:
            for frame in packet.decode():
                tally.decoded += 1
                if frame.pts is None:
                    raise _SeekMismatch("a decoded frame has no timestamp")
                if frame.pts < index.pts[key]:
                    continue  # before the keyframe on screen: not needed
                j = int(np.searchsorted(index.pts, frame.pts))
                if j != expected or j >= len(index.pts) or index.pts[j] != frame.pts:
                    raise _SeekMismatch(
                        f"decoded frame {j} (pts {frame.pts}), expected frame {expected}"
                    )
                expected += 1
                if pos < len(needed) and needed[pos] == j:
                    store(j, _to_rgb(frame, index, tally))
                    pos += 1
            if pos == len(needed):
                break
            # Seek again when a keyframe lies between here and the next
            # needed frame: cheaper than decoding the frames in between.
            k_next = int(np.searchsorted(index.key_frame, needed[pos], side="right")) - 1
            if index.key_frame[k_next] > expected:
                break
        else:
            if pos < len(needed):
                raise _SeekMismatch(f"the stream ended before frame {int(needed[pos])}")


def read_video(path, indices=None, stats=None, seek=True):
    """Decodes frames of a video file with PyAV, only as far as needed.

    Frame `i` is the `i`-th frame that a full decode of the stream would
    output, and the frames returned are exactly that decode's frames; but
    only the frames needed are decoded. The video's packets are read once
    (not decoded) to list every frame's timestamp and the keyframes; that
    index is cached per file. Then each run of requested frames is decoded
    by seeking to the keyframe before it, decoding forward, and stopping
    after its last frame, so a clip costs at most its span plus one GOP,
    whatever the video's length. Every decoded frame's timestamp is checked
    against the index.

    A stream whose packets do not pin the frames down (a packet without a
    timestamp, a corrupt or discarded packet, duplicate timestamps, a start
    that is not a keyframe) is decoded from its first frame instead, up to
    the last frame requested, keeping only the frames requested; so is a
    stream whose decoded timestamps turn out not to match its packets. Its
    frame count is found by decoding it once (cached).

    Frames whose size changes mid-stream are resized to the first frame's
    size.

    Args:
        path: path to a video file.
        indices: None for all frames; an int array of frame indices of any
            shape (repeats allowed); or a callable that receives the number
            of frames and returns such an array.
        stats: optional `DecodeStats` to add this call's work to.
        seek: False decodes from the first frame whatever the stream
            (the reference that seeking is tested against).

    Returns:
        A uint8 array of shape `indices.shape + (H, W, 3)`.

    Raises:
        VideoDecodeError: when the file cannot be opened, holds no video
            stream, or yields no frame.

    Example:

    >>> clip = read_video("clip.mp4", indices=[0, 2, 4])  # doctest: +SKIP
    >>> clip.shape  # doctest: +SKIP
    (3, 240, 320, 3)
    """
    path = os.fspath(path)
    av = _require_av()
    tally = _Stats()
    try:
        return _read_video(path, indices, tally, seek)
    except VideoDecodeError as e:
        if str(e).startswith(path):
            raise
        raise VideoDecodeError(f"{path}: {e}") from e
    except (av.error.FFmpegError, OSError) as e:
        raise VideoDecodeError(f"{path}: {type(e).__name__}: {e}") from e
    except (ValueError, TypeError) as e:  # bad `indices`
        raise type(e)(f"{path}: {e}") from None
    except Exception as e:  # codec errors of other kinds
        raise VideoDecodeError(f"{path}: {type(e).__name__}: {e}") from e
    finally:
        tally.flush(stats)


def _read_video(path, indices, tally, seek):
    index = _video_index(path, tally)
    indices = _resolve_indices(index.num_frames, indices)
    needed = np.unique(indices.ravel())
    if not needed.size:
        return np.zeros(indices.shape + (index.height, index.width, 3), np.uint8)
    # Each frame goes straight to its places in the output: no second copy.
    out = np.empty((indices.size, index.height, index.width, 3), np.uint8)
    flat = indices.ravel()
    order = np.argsort(flat, kind="stable")
    starts = np.searchsorted(flat[order], needed)
    ends = np.searchsorted(flat[order], needed, side="right")
    where = {int(f): order[a:b] for f, a, b in zip(needed, starts, ends)}

    def store(frame_index, rgb):
        out[where[frame_index]] = rgb

    done = False
    if seek and index.seekable:
        container, stream = _open_video(path)
        with container:
            stream.thread_type = "AUTO"
            try:
                _decode_by_seeking(container, stream, index, needed, store, tally)
                done = True
            except _SeekMismatch:
                # The packets misled us: decode this file from its start
                # from now on.
                _store_index(_cache_key(path), dataclasses.replace(index, seekable=False))
    if not done:
        container, stream = _open_video(path)
        with container:
            stream.thread_type = "AUTO"
            _decode_from_start(container, stream, index, needed, store, tally)
    return out.reshape(indices.shape + out.shape[1:])


def frame_count(path):
    """Number of frames of a video file, frame folder or HDF5 frames file.

    For a video file this is the number of frames a full decode outputs,
    found from its packets without decoding (see `read_video`).

    Args:
        path: a video file, a folder of frame images, or an HDF5 file.

    Returns:
        The number of frames, an int.

    Raises:
        VideoDecodeError: when the source cannot be read.

    Example:

    >>> frame_count("clip.mp4")  # doctest: +SKIP
    300
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        try:
            return len(list_frame_images(path))
        except OSError as e:
            raise VideoDecodeError(f"{path}: {e}") from e
    if not os.path.exists(path):
        raise VideoDecodeError(f"{path}: no such file or folder")
    if path.lower().endswith(HDF5_EXTENSIONS):
        return int(_hdf5_shape(path, HDF5_FRAMES_KEY)[0])
    _require_av()
    try:
        return _video_index(path, _Stats()).num_frames
    except VideoDecodeError as e:
        raise VideoDecodeError(f"{path}: {e}") from e
    except Exception as e:  # av.error.*, OSError, codec errors
        raise VideoDecodeError(f"{path}: {type(e).__name__}: {e}") from e


def read_frame_folder(directory, indices=None):
    """Reads frames from a folder of frame images.

    Args:
        directory: folder holding one image per frame (see
            `list_frame_images` for the order).
        indices: as in `read_video`.

    Returns:
        A uint8 array of shape `indices.shape + (H, W, 3)`.

    Raises:
        VideoDecodeError: when the folder holds no image, an image cannot be
            decoded, or the images differ in size.

    Example:

    >>> clip = read_frame_folder("frames/video_0001", indices=[0, 1])  # doctest: +SKIP
    """
    directory = os.fspath(directory)
    try:
        files = list_frame_images(directory)
    except OSError as e:
        raise VideoDecodeError(f"{directory}: {e}") from e
    if not files:
        raise VideoDecodeError(f"{directory}: no frame images")
    size = []

    def read_one(i):
        try:
            image = tf.io.decode_image(
                tf.io.read_file(files[i]), channels=3, expand_animations=False
            ).numpy()
        except Exception as e:
            raise VideoDecodeError(f"{files[i]}: {type(e).__name__}: {e}") from e
        if size and image.shape != size[0]:
            raise VideoDecodeError(
                f"{files[i]}: frame size {image.shape[:2]} differs from the "
                f"first frame's {size[0][:2]}"
            )
        size.append(image.shape)
        return image

    return _gather(_resolve_indices(len(files), indices), read_one)


def write_hdf5_frames(path, frames, dataset=HDF5_FRAMES_KEY):
    """Stores pre-decoded frames in an HDF5 file, one chunk per frame.

    Args:
        path: output `.h5` path.
        frames: uint8 array of shape `(N, H, W, 3)`.
        dataset: name of the HDF5 dataset.

    Returns:
        The path.

    Example:

    >>> write_hdf5_frames("clip.h5", read_video("clip.mp4"))  # doctest: +SKIP
    'clip.h5'
    """
    import h5py

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(
            "`frames` must be a uint8 array of shape (N, H, W, 3). Received: "
            f"dtype={frames.dtype}, shape={frames.shape}"
        )
    with h5py.File(path, "w") as f:
        f.create_dataset(dataset, data=frames, chunks=(1,) + frames.shape[1:])
    return path


def _check_backend(backend):
    if backend not in ("auto", "tfio", "h5py"):
        raise ValueError(
            "`backend` must be 'auto', 'tfio' or 'h5py'. "
            f"Received: backend={backend!r}"
        )
    if backend == "tfio" and not TFIO_AVAILABLE:
        raise ImportError(f"backend='tfio' was requested, but {TFIO_ERROR}")
    if backend == "auto":
        return "tfio" if TFIO_AVAILABLE else "h5py"
    return backend


def hdf5_frames_dataset(path, dataset=HDF5_FRAMES_KEY, backend="auto"):
    """Streams the frames of an HDF5 file as a `tf.data.Dataset`.

    With tensorflow-io this is `tfio.IODataset.from_hdf5`; otherwise a
    generator over h5py yields the same elements.

    Args:
        path: an HDF5 file holding a `(N, H, W, 3)` uint8 dataset.
        dataset: name of that dataset.
        backend: `"auto"` (tensorflow-io when `TFIO_AVAILABLE`, else h5py),
            `"tfio"` or `"h5py"`.

    Returns:
        A dataset of uint8 tensors of shape `(H, W, 3)`, in frame order.

    Example:

    >>> for frame in hdf5_frames_dataset("clip.h5").take(1):  # doctest: +SKIP
    ...     print(frame.shape)
    """
    backend = _check_backend(backend)
    path = os.fspath(path)
    if backend == "tfio":
        spec = tf.TensorSpec(_hdf5_shape(path, dataset)[1:], tf.uint8)
        return _TFIO.IODataset.from_hdf5(path, dataset="/" + dataset, spec=spec)
    import h5py

    shape = _hdf5_shape(path, dataset)

    def generate():
        with h5py.File(path, "r") as f:
            for frame in f[dataset]:
                yield frame

    return tf.data.Dataset.from_generator(
        generate, output_signature=tf.TensorSpec(shape[1:], tf.uint8)
    )


def _hdf5_shape(path, dataset):
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if dataset not in f:
                raise VideoDecodeError(f"{path}: no dataset {dataset!r}")
            shape = f[dataset].shape
    except VideoDecodeError:
        raise
    except Exception as e:
        raise VideoDecodeError(f"{path}: {type(e).__name__}: {e}") from e
    if len(shape) != 4 or shape[-1] != 3:
        raise VideoDecodeError(
            f"{path}: dataset {dataset!r} has shape {shape}, expected (N, H, W, 3)"
        )
    return shape


def _runs(sorted_unique):
    """Splits sorted distinct indices into runs of consecutive ones."""
    breaks = np.flatnonzero(np.diff(sorted_unique) != 1) + 1
    return np.split(sorted_unique, breaks)


def _read_hdf5_runs_tfio(path, dataset, indices, shape):
    """Reads only the needed frames with tensorflow-io: one slice of the
    `IOTensor` per run of consecutive frames (each slice reads that
    hyperslab of the file, nothing else)."""
    out = np.empty((indices.size,) + tuple(shape[1:]), np.uint8)
    if not indices.size:
        return out.reshape(indices.shape + tuple(shape[1:]))
    flat = indices.ravel()
    order = np.argsort(flat, kind="stable")
    needed, starts = np.unique(flat[order], return_index=True)
    ends = np.append(starts[1:], len(flat))
    where = dict(zip(needed.tolist(), (order[a:b] for a, b in zip(starts, ends))))
    frames = _TFIO.IOTensor.from_hdf5(path)("/" + dataset)
    for run in _runs(needed):
        block = np.asarray(frames[int(run[0]) : int(run[-1]) + 1])
        if block.shape != (len(run),) + tuple(shape[1:]):
            raise VideoDecodeError(
                f"{path}: tensorflow-io read frames {run[0]}..{run[-1]} as "
                f"shape {block.shape}"
            )
        for frame_index, frame in zip(run.tolist(), block):
            out[where[frame_index]] = frame
    return out.reshape(indices.shape + tuple(shape[1:]))


def read_hdf5_frames(path, indices=None, dataset=HDF5_FRAMES_KEY, backend="auto"):
    """Reads pre-decoded frames from an HDF5 file, only the frames needed.

    With h5py, the distinct requested frames are read in one selection; with
    tensorflow-io, each run of consecutive requested frames is one slice of
    `tfio.IOTensor.from_hdf5(path)("/" + dataset)`, which reads only that
    part of the file.

    Args:
        path: an HDF5 file holding a `(N, H, W, 3)` uint8 dataset.
        indices: as in `read_video`.
        dataset: name of the dataset.
        backend: `"auto"`, `"tfio"` or `"h5py"`, as in `hdf5_frames_dataset`.

    Returns:
        A uint8 array of shape `indices.shape + (H, W, 3)`.

    Example:

    >>> clip = read_hdf5_frames("clip.h5", indices=[0, 8, 16])  # doctest: +SKIP
    """
    backend = _check_backend(backend)
    path = os.fspath(path)
    shape = _hdf5_shape(path, dataset)
    indices = _resolve_indices(shape[0], indices)
    try:
        if backend == "tfio":
            return _read_hdf5_runs_tfio(path, dataset, indices, shape)
        import h5py

        unique, inverse = np.unique(indices.ravel(), return_inverse=True)
        with h5py.File(path, "r") as f:
            frames = f[dataset][unique] if unique.size else np.zeros(
                (0,) + shape[1:], "uint8"
            )
        return np.asarray(frames, "uint8")[inverse].reshape(
            indices.shape + tuple(shape[1:])
        )
    except (VideoDecodeError, ValueError):
        raise
    except Exception as e:
        raise VideoDecodeError(f"{path}: {type(e).__name__}: {e}") from e


def read_frames(path, indices=None, stats=None):
    """Reads frames from any supported source, chosen by the path.

    A folder is read as frame images, a `.h5`/`.hdf5` file as pre-decoded
    frames, anything else as a video file with PyAV.

    Args:
        path: a video file, a folder of frame images, or an HDF5 file.
        indices: None for all frames, an int array of frame indices of any
            shape, or a callable `num_frames -> indices` (see `read_video`).
        stats: optional `DecodeStats` that a video file's decoding work is
            added to (see `read_video`).

    Returns:
        A uint8 array of shape `indices.shape + (H, W, 3)`.

    Raises:
        VideoDecodeError: when the source cannot be read.

    Example:

    >>> from keras_nonlocal.data import sampling
    >>> clip = read_frames(  # doctest: +SKIP
    ...     "clip.mp4", lambda n: sampling.clip_indices(n, 8, 8, start=0))
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        return read_frame_folder(path, indices)
    if not os.path.exists(path):
        raise VideoDecodeError(f"{path}: no such file or folder")
    if path.lower().endswith(HDF5_EXTENSIONS):
        return read_hdf5_frames(path, indices)
    return read_video(path, indices, stats=stats)
