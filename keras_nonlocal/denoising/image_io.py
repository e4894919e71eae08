"""Reading and writing the images the denoiser works on.

Every image reaches the model as float32 pixels of shape `(H, W, C)` on the
0–255 scale, whatever its file held, and goes back to the file's own format:

| file | read as | written back as |
|---|---|---|
| PNG, JPEG (8-bit) | `uint8` / 1 | `uint8`, rounded and clipped |
| PNG (16-bit grayscale), TIFF (8- or 16-bit) | `uint16` · 255 / 65535 | `uint16`, rounded and clipped |
| `.npy` float array, `(H, W)` or `(H, W, C)` | as is (0–255 scale), as float32 | the same float dtype and shape, not clipped |

Grayscale files have `C = 1`, colour files `C = 3`. An alpha channel is kept
aside, untouched, and written back with the result. Palette and bilevel PNGs
are read as RGB(A) / grayscale and written back as such. A JPEG is written with
quality 95 (JPEG is lossy), keeping its EXIF data; ICC profiles are kept.

PNG and JPEG go through Pillow, TIFF through tifffile (both come with
scikit-image: `pip install keras-nonlocal[denoise]`).
"""

import dataclasses
import os
import struct

import numpy as np

# file suffix -> format name
FORMATS = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".npy": "npy",
}

_SCALE = {np.dtype("uint8"): 1.0, np.dtype("uint16"): 255.0 / 65535.0}
_JPEG_QUALITY = 95


class ImageReadError(OSError):
    """An image file that cannot be read, or holds what the denoiser cannot take."""


@dataclasses.dataclass
class Image:
    """An image as the denoiser sees it, with what is needed to write it back.

    Attributes:
        pixels: float32 array `(H, W, C)` on the 0–255 scale, `C` 1 or 3
            (the colour channels only).
        dtype: the file's sample type: `uint8`, `uint16`, or the float
            dtype of a `.npy` array.
        format: `"png"`, `"jpeg"`, `"tiff"` or `"npy"`.
        has_channel_axis: whether the file's array had a channel axis
            (`(H, W, 1)` or `(H, W, 3)`) rather than being `(H, W)`.
        alpha: the alpha channel `(H, W)` in the file's dtype, or `None`.
        metadata: what the writer carries over (ICC profile, EXIF).
    """

    pixels: np.ndarray
    dtype: np.dtype
    format: str
    has_channel_axis: bool = True
    alpha: np.ndarray | None = None
    metadata: dict = dataclasses.field(default_factory=dict)

    @property
    def channels(self):
        """The number of colour channels, 1 or 3."""
        return int(self.pixels.shape[-1])


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    """What `probe_image` learns from a file's header.

    Attributes:
        height: rows.
        width: columns.
        channels: colour channels (1 or 3; alpha not counted).
        dtype: the file's sample type.
        format: `"png"`, `"jpeg"`, `"tiff"` or `"npy"`.
    """

    height: int
    width: int
    channels: int
    dtype: np.dtype
    format: str


def image_format(path):
    """The format a file is read and written in, from its suffix.

    Args:
        path: a file name.

    Returns:
        `"png"`, `"jpeg"`, `"tiff"` or `"npy"`.

    Raises:
        ValueError: for any other suffix.

    Example:

    >>> image_format("photos/cat.JPG")
    'jpeg'
    """
    suffix = os.path.splitext(str(path))[1].lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"{path}: unsupported image type {suffix or '(no suffix)'!r}; "
            f"expected one of {', '.join(sorted(FORMATS))}"
        )
    return FORMATS[suffix]


def probe_image(path):
    """Checks that a file can be read, from its header, without decoding it.

    Args:
        path: a PNG, JPEG, TIFF or `.npy` file.

    Returns:
        An `ImageInfo`.

    Raises:
        ValueError: for an unsupported suffix.
        ImageReadError: when the file is missing, unreadable, or holds
            something the denoiser does not take (e.g. a multi-page TIFF,
            a 16-bit colour PNG, an integer `.npy` array).
    """
    fmt = image_format(path)
    _check_file(path)
    try:
        if fmt == "npy":
            array = np.load(path, mmap_mode="r", allow_pickle=False)
            height, width, channels, _ = _npy_layout(path, array.shape, array.dtype)
            return ImageInfo(height, width, channels, array.dtype, fmt)
        if fmt == "tiff":
            shape, dtype, _, _ = _tiff_layout(path)
            return ImageInfo(shape[0], shape[1], _colour_channels(shape), dtype, fmt)
        from PIL import Image as PILImage

        _refuse_16bit_colour_png(path, fmt)
        with PILImage.open(path) as im:
            mode = _pil_target_mode(path, im)
            channels = 1 if mode in ("L", "LA", "I;16") else 3
            dtype = np.dtype("uint16") if mode == "I;16" else np.dtype("uint8")
            return ImageInfo(im.height, im.width, channels, dtype, fmt)
    except ImageReadError:
        raise
    except Exception as e:  # the readers' own errors: name the file
        raise ImageReadError(f"{path}: cannot read {fmt.upper()} image: {_reason(e)}") from e


def read_image(path):
    """Reads an image for the denoiser.

    Args:
        path: a PNG, JPEG, TIFF or `.npy` file.

    Returns:
        An `Image`: float32 pixels `(H, W, C)` on the 0–255 scale and what
        is needed to write the result back in the file's format.

    Raises:
        ValueError: for an unsupported suffix.
        ImageReadError: when the file is missing, unreadable, or holds
            something the denoiser does not take.

    Example:

    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "ramp.npy")
    >>> np.save(path, np.linspace(0, 255, 12, dtype="float32").reshape(3, 4))
    >>> image = read_image(path)
    >>> image.pixels.shape, image.format
    ((3, 4, 1), 'npy')
    """
    fmt = image_format(path)
    _check_file(path)
    try:
        if fmt == "npy":
            return _read_npy(path)
        if fmt == "tiff":
            return _read_tiff(path)
        return _read_pil(path, fmt)
    except (ImageReadError, MemoryError):
        raise
    except Exception as e:
        raise ImageReadError(f"{path}: cannot read {fmt.upper()} image: {_reason(e)}") from e


def write_image(path, image):
    """Writes an image in its own format: the inverse of `read_image`.

    `image.pixels` (float, 0–255 scale) is scaled back to the file's sample
    type: rounded and clipped for 8- and 16-bit files, kept as it is (in the
    original float dtype) for `.npy`.

    Args:
        path: where to write; its suffix must match `image.format`.
        image: an `Image`, as `read_image` returns it, usually with new
            pixels (`dataclasses.replace(image, pixels=denoised)`).

    Raises:
        ValueError: when the suffix does not match the format, or the
            pixels are not `(H, W, C)` with the image's channel count.

    Example:

    >>> import dataclasses, numpy as np, os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> np.save(os.path.join(folder, "a.npy"), np.full((2, 2), 100.0, "float32"))
    >>> image = read_image(os.path.join(folder, "a.npy"))
    >>> write_image(os.path.join(folder, "b.npy"), dataclasses.replace(image, pixels=image.pixels + 1))
    >>> np.load(os.path.join(folder, "b.npy"))
    array([[101., 101.],
           [101., 101.]], dtype=float32)
    """
    fmt = image_format(path)
    if fmt != image.format:
        raise ValueError(f"{path}: cannot write a {image.format.upper()} image as {fmt.upper()}")
    pixels = np.asarray(image.pixels)
    if pixels.ndim != 3 or pixels.shape[-1] not in (1, 3):
        raise ValueError(f"{path}: pixels must be (H, W, 1) or (H, W, 3); received shape {pixels.shape}")
    if image.alpha is not None and image.alpha.shape != pixels.shape[:2]:
        raise ValueError(
            f"{path}: the alpha channel is {image.alpha.shape[0]}x{image.alpha.shape[1]} "
            f"but the pixels are {pixels.shape[0]}x{pixels.shape[1]}"
        )
    if fmt == "npy":
        array = pixels.astype(image.dtype, copy=False)
        np.save(path, array if image.has_channel_axis else array[..., 0])
        return
    samples = to_samples(pixels, image.dtype)
    if image.alpha is not None:
        samples = np.concatenate([samples, image.alpha.astype(image.dtype)[..., None]], axis=-1)
    if fmt == "tiff":
        _write_tiff(path, samples, image)
    else:
        _write_pil(path, samples, image)


def to_samples(pixels, dtype):
    """Float pixels on the 0–255 scale to 8- or 16-bit samples.

    Args:
        pixels: float array on the 0–255 scale.
        dtype: `uint8` or `uint16`.

    Returns:
        The samples, rounded to nearest and clipped to the type's range.

    Example:

    >>> to_samples(np.array([-3.0, 127.6, 255.0, 300.0]), "uint16")
    array([    0, 32793, 65535, 65535], dtype=uint16)
    """
    dtype = np.dtype(dtype)
    top = np.iinfo(dtype).max
    scaled = np.asarray(pixels, dtype=np.float64) / _SCALE[dtype]
    return np.clip(np.rint(scaled), 0, top).astype(dtype)


# -- reading ------------------------------------------------------------------


def _check_file(path):
    if not os.path.exists(path):
        raise ImageReadError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise ImageReadError(f"{path}: not a file")
    if not os.access(path, os.R_OK):
        raise ImageReadError(f"{path}: permission denied")


def _reason(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _from_samples(path, samples):
    dtype = np.dtype(f"uint{8 * samples.dtype.itemsize}") if samples.dtype.kind == "u" else samples.dtype
    if dtype not in _SCALE:
        raise ImageReadError(f"{path}: unsupported sample type {dtype}; expected 8- or 16-bit integers")
    return (samples.astype(np.float32) * np.float32(_SCALE[dtype])), dtype


def _npy_layout(path, shape, dtype):
    if not np.issubdtype(dtype, np.floating):
        raise ImageReadError(
            f"{path}: expected a float array on the 0–255 scale; received dtype {dtype} "
            "(save 8-bit images as PNG, or cast to float32)"
        )
    if len(shape) == 2:
        return shape[0], shape[1], 1, False
    if len(shape) == 3 and shape[-1] in (1, 3):
        return shape[0], shape[1], shape[-1], True
    raise ImageReadError(f"{path}: expected an array of shape (H, W), (H, W, 1) or (H, W, 3); received {shape}")


def _read_npy(path):
    array = np.load(path, allow_pickle=False)
    _, _, _, has_axis = _npy_layout(path, array.shape, array.dtype)
    if array.size == 0:
        raise ImageReadError(f"{path}: empty array of shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ImageReadError(f"{path}: the array holds NaN or infinite values")
    pixels = array.astype(np.float32)
    if not has_axis:
        pixels = pixels[..., None]
    return Image(pixels=pixels, dtype=array.dtype, format="npy", has_channel_axis=has_axis)


def _colour_channels(shape):
    return 1 if len(shape) == 2 or shape[-1] in (1, 2) else 3


def _tiff_layout(path):
    """(H, W[, S]) shape, dtype, planar flag and compression of a TIFF's image."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if not tif.series:
            raise ImageReadError(f"{path}: the TIFF holds no image")
        series = tif.series[0]
        shape, axes, dtype = tuple(series.shape), series.axes, np.dtype(series.dtype)
        if dtype.kind == "u":
            dtype = np.dtype(f"uint{8 * dtype.itemsize}")
        compressed = tif.pages[0].compression != 1
    if axes in ("YX", "YXS"):
        planar = False
    elif axes == "SYX":
        planar = True
        shape = shape[1:] + shape[:1]
    else:
        raise ImageReadError(
            f"{path}: expected one grayscale or RGB image; the TIFF holds axes {axes!r} "
            f"of shape {series.shape} (multi-page and volume TIFFs are not supported)"
        )
    if len(shape) == 3 and shape[-1] not in (1, 2, 3, 4):
        raise ImageReadError(f"{path}: expected 1 to 4 samples per pixel; the TIFF has {shape[-1]}")
    if dtype not in _SCALE:
        raise ImageReadError(
            f"{path}: expected an 8- or 16-bit TIFF; this one holds {dtype} samples "
            "(save float images as .npy on the 0–255 scale)"
        )
    return shape, dtype, planar, compressed


def _read_tiff(path):
    import tifffile

    shape, _, planar, compressed = _tiff_layout(path)
    with tifffile.TiffFile(path) as tif:
        samples = tif.series[0].asarray()
        icc = tif.pages[0].tags.get("InterColorProfile")
        icc = icc.value if icc is not None else None
    if planar:
        samples = np.moveaxis(samples, 0, -1)
    has_axis = samples.ndim == 3
    if not has_axis:
        samples = samples[..., None]
    alpha = None
    if samples.shape[-1] in (2, 4):
        samples, alpha = samples[..., :-1], samples[..., -1]
    pixels, dtype = _from_samples(path, samples)
    metadata = {"compressed": compressed}
    if icc is not None:
        metadata["icc_profile"] = bytes(icc)
    return Image(pixels, dtype, "tiff", has_channel_axis=has_axis, alpha=alpha, metadata=metadata)


def _refuse_16bit_colour_png(path, fmt):
    # Pillow reads 16-bit colour PNGs as 8 bits without a word: refuse them
    # rather than lose half of every sample.
    if fmt != "png":
        return
    with open(path, "rb") as f:
        head = f.read(33)
    if len(head) == 33 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        bit_depth, colour_type = struct.unpack(">BB", head[24:26])
        if bit_depth == 16 and colour_type != 0:
            raise ImageReadError(
                f"{path}: 16-bit colour PNGs are not supported (Pillow reads them as 8 bits); "
                "save it as a 16-bit TIFF"
            )


def _pil_target_mode(path, im):
    """The Pillow mode an image is converted to before it becomes an array."""
    mode = im.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return mode
    if mode.startswith("I;16") or mode == "I":  # "I": 16-bit PNGs in older Pillow
        return "I;16"
    if mode == "1":
        return "L"
    if mode in ("P", "PA"):
        return "RGBA" if (mode == "PA" or "transparency" in im.info) else "RGB"
    if mode == "La":
        return "LA"
    if mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa"):
        return "RGB"
    raise ImageReadError(f"{path}: unsupported image mode {mode!r}")


def _read_pil(path, fmt):
    from PIL import Image as PILImage

    _refuse_16bit_colour_png(path, fmt)
    with PILImage.open(path) as im:
        mode = _pil_target_mode(path, im)
        keep = ("icc_profile", "exif") if im.mode in ("L", "LA", "RGB", "RGBA", "P", "PA", "1") or mode == "I;16" else ("exif",)
        metadata = {k: im.info[k] for k in keep if im.info.get(k)}  # a CMYK profile would not fit RGB
        if mode == "I;16":
            samples = np.array(im)
            if samples.dtype != np.uint16:
                if samples.min() < 0 or samples.max() > 65535:
                    raise ImageReadError(f"{path}: 32-bit integer samples are not supported")
                samples = samples.astype(np.uint16)
        else:
            if im.mode != mode:
                im = im.convert(mode)
            samples = np.array(im)
    if samples.ndim == 2:
        samples = samples[..., None]
    alpha = None
    if samples.shape[-1] in (2, 4):
        samples, alpha = samples[..., :-1], samples[..., -1]
    pixels, dtype = _from_samples(path, samples)
    return Image(pixels, dtype, fmt, has_channel_axis=pixels.shape[-1] == 3, alpha=alpha, metadata=metadata)


# -- writing ------------------------------------------------------------------


def _write_tiff(path, samples, image):
    import tifffile

    if not image.has_channel_axis:
        samples = samples[..., 0]
    kwargs = {}
    if samples.ndim == 3 and samples.shape[-1] >= 3:
        kwargs["photometric"] = "rgb"
        if samples.shape[-1] == 4:
            kwargs["extrasamples"] = ("unassalpha",)
    else:
        kwargs["photometric"] = "minisblack"
        if samples.ndim == 3 and samples.shape[-1] == 2:
            kwargs["extrasamples"] = ("unassalpha",)
        elif samples.ndim == 3:
            kwargs["planarconfig"] = "contig"
    if image.metadata.get("compressed"):
        kwargs["compression"] = "zlib"
    if image.metadata.get("icc_profile"):
        kwargs["iccprofile"] = image.metadata["icc_profile"]
    tifffile.imwrite(path, samples, **kwargs)


def _write_pil(path, samples, image):
    from PIL import Image as PILImage

    if samples.shape[-1] == 1:
        samples = samples[..., 0]
    if samples.dtype == np.uint16:
        im = PILImage.frombytes("I;16", (samples.shape[1], samples.shape[0]), samples.astype("<u2").tobytes())
    else:
        im = PILImage.fromarray(samples)
    kwargs = {}
    if image.metadata.get("icc_profile"):
        kwargs["icc_profile"] = image.metadata["icc_profile"]
    if image.format == "jpeg":
        kwargs["quality"] = _JPEG_QUALITY
        if image.metadata.get("exif"):
            kwargs["exif"] = image.metadata["exif"]
    im.save(path, format="PNG" if image.format == "png" else "JPEG", **kwargs)
