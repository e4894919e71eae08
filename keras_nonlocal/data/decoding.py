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

import importlib
import os
import re

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


def read_video(path, indices=None):
    """Decodes frames of a video file with PyAV.

    The whole stream is decoded (frame counts in container headers are often
    wrong), and only the requested frames are converted to RGB. Frames whose
    size changes mid-stream are resized to the first frame's size.

    Args:
        path: path to a video file.
        indices: None for all frames; an int array of frame indices of any
            shape (repeats allowed); or a callable that receives the number
            of decoded frames and returns such an array.

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
    av = _require_av()
    path = os.fspath(path)
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise VideoDecodeError(f"{path}: no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            decoded = list(container.decode(stream))
    except VideoDecodeError:
        raise
    except Exception as e:  # av.error.*, OSError, codec errors
        raise VideoDecodeError(f"{path}: {type(e).__name__}: {e}") from e
    if not decoded:
        raise VideoDecodeError(f"{path}: no frames could be decoded")
    width, height = decoded[0].width, decoded[0].height

    def read_one(i):
        frame = decoded[i]
        if (frame.width, frame.height) != (width, height):
            frame = frame.reformat(width=width, height=height)
        return frame.to_ndarray(format="rgb24")

    return _gather(_resolve_indices(len(decoded), indices), read_one)


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


def read_hdf5_frames(path, indices=None, dataset=HDF5_FRAMES_KEY, backend="auto"):
    """Reads pre-decoded frames from an HDF5 file.

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
            frames = np.stack(
                [f.numpy() for f in hdf5_frames_dataset(path, dataset, "tfio")]
            )
            return frames[indices]
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


def read_frames(path, indices=None):
    """Reads frames from any supported source, chosen by the path.

    A folder is read as frame images, a `.h5`/`.hdf5` file as pre-decoded
    frames, anything else as a video file with PyAV.

    Args:
        path: a video file, a folder of frame images, or an HDF5 file.
        indices: None for all frames, an int array of frame indices of any
            shape, or a callable `num_frames -> indices` (see `read_video`).

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
    return read_video(path, indices)
