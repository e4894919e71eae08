import dataclasses

import numpy as np
import pytest

from keras_nonlocal.denoising import image_io
from tests.denoising import image_files

pytest.importorskip("PIL")
tifffile = pytest.importorskip("tifffile")


def _raw(path):
    """The file's samples as another library reads them (independent of image_io)."""
    if str(path).endswith((".tif", ".tiff")):
        return tifffile.imread(path)
    from PIL import Image

    with Image.open(path) as im:
        return np.array(im)


def _round_trip(tmp_path, source, name):
    image = image_io.read_image(source)
    target = tmp_path / "out" / name
    target.parent.mkdir(exist_ok=True)
    image_io.write_image(str(target), image)
    return image, str(target)


def test_8bit_gray_png_reads_as_0_255_floats_and_writes_back_bit_exact(tmp_path):
    samples = image_files.textured(13, 17)
    source = image_files.write_png(tmp_path / "a.png", samples)
    image, target = _round_trip(tmp_path, source, "a.png")
    assert image.pixels.shape == (13, 17, 1) and image.pixels.dtype == np.float32
    assert image.dtype == np.uint8 and image.format == "png"
    np.testing.assert_array_equal(image.pixels[..., 0], samples[..., 0].astype(np.float32))
    out = _raw(target)
    assert out.dtype == np.uint8 and out.shape == (13, 17)
    np.testing.assert_array_equal(out, samples[..., 0])


def test_16bit_gray_png_is_scaled_to_0_255_and_back(tmp_path):
    samples = np.array([[0, 257, 65535], [1000, 30000, 65534]], dtype=np.uint16)
    source = image_files.write_png(tmp_path / "deep.png", samples)
    image, target = _round_trip(tmp_path, source, "deep.png")
    assert image.dtype == np.uint16
    np.testing.assert_allclose(image.pixels[..., 0], samples * (255.0 / 65535.0), rtol=1e-6)
    assert image.pixels[0, 1, 0] == pytest.approx(1.0) and image.pixels[0, 2, 0] == pytest.approx(255.0)
    out = _raw(target)
    assert out.dtype == np.uint16 and out.shape == samples.shape
    np.testing.assert_array_equal(out, samples)


def test_rgb_and_rgba_png_keep_alpha_aside(tmp_path):
    from PIL import Image

    rgba = np.concatenate([image_files.textured(9, 11, 3), np.full((9, 11, 1), 77, np.uint8)], axis=-1)
    source = str(tmp_path / "rgba.png")
    Image.fromarray(rgba, "RGBA").save(source)
    image = image_io.read_image(source)
    assert image.channels == 3 and image.alpha is not None
    np.testing.assert_array_equal(image.alpha, 77)
    image_io.write_image(str(tmp_path / "x.png"), dataclasses.replace(image, pixels=image.pixels + 1))
    out = _raw(tmp_path / "x.png")
    assert out.shape == (9, 11, 4)
    np.testing.assert_array_equal(out[..., 3], 77)
    np.testing.assert_array_equal(out[..., :3], np.minimum(rgba[..., :3].astype(int) + 1, 255))


def test_palette_png_is_read_as_rgb(tmp_path):
    from PIL import Image

    rgb = image_files.textured(8, 8, 3)
    source = str(tmp_path / "p.png")
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(source)
    image = image_io.read_image(source)
    assert image.channels == 3 and image.alpha is None and image.dtype == np.uint8


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
@pytest.mark.parametrize("channels", [1, 3])
def test_tiff_round_trips_8_and_16_bit_gray_and_rgb(tmp_path, dtype, channels):
    samples = (image_files.textured(10, 12, channels).astype(np.uint32) * (257 if dtype == "uint16" else 1)).astype(dtype)
    samples = samples[..., 0] if channels == 1 else samples
    source = str(tmp_path / "t.tif")
    tifffile.imwrite(source, samples, photometric="minisblack" if channels == 1 else "rgb")
    image, target = _round_trip(tmp_path, source, "t.tif")
    assert image.pixels.shape == (10, 12, channels) and image.dtype == np.dtype(dtype)
    assert image.pixels.max() <= 255.0
    out = _raw(target)
    assert out.dtype == np.dtype(dtype) and out.shape == samples.shape
    np.testing.assert_array_equal(out, samples)


def test_planar_tiff_is_read_as_height_width_channels(tmp_path):
    samples = image_files.textured(6, 7, 3)
    source = str(tmp_path / "planar.tiff")
    tifffile.imwrite(source, np.moveaxis(samples, -1, 0), photometric="rgb", planarconfig="separate")
    image = image_io.read_image(source)
    np.testing.assert_array_equal(image.pixels, samples.astype(np.float32))


def test_float_and_multi_page_tiffs_are_refused_with_the_file_named(tmp_path):
    floats = str(tmp_path / "float.tif")
    tifffile.imwrite(floats, np.zeros((4, 4), np.float32))
    with pytest.raises(image_io.ImageReadError, match=r"float\.tif.*8- or 16-bit"):
        image_io.read_image(floats)
    pages = str(tmp_path / "stack.tif")
    tifffile.imwrite(pages, np.zeros((3, 4, 4), np.uint8), photometric="minisblack")
    with pytest.raises(image_io.ImageReadError, match=r"stack\.tif.*multi-page"):
        image_io.probe_image(pages)


def test_jpeg_reads_as_uint8_and_writes_a_close_jpeg(tmp_path):
    from PIL import Image

    rgb = image_files.textured(16, 24, 3)
    source = str(tmp_path / "photo.jpg")
    Image.fromarray(rgb).save(source, quality=95)
    image, target = _round_trip(tmp_path, source, "photo.jpg")
    assert image.format == "jpeg" and image.dtype == np.uint8 and image.pixels.shape == (16, 24, 3)
    out = _raw(target)
    assert out.dtype == np.uint8 and out.shape == (16, 24, 3)
    assert np.abs(out.astype(float) - image.pixels).mean() < 3  # lossy, quality 95


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("shape", [(5, 6), (5, 6, 1), (5, 6, 3)])
def test_npy_keeps_dtype_shape_and_unclipped_values(tmp_path, dtype, shape):
    array = (np.random.default_rng(0).normal(128, 80, shape)).astype(dtype)  # beyond [0, 255]
    source = str(tmp_path / "a.npy")
    np.save(source, array)
    image, target = _round_trip(tmp_path, source, "a.npy")
    assert image.pixels.shape == (5, 6, shape[2] if len(shape) == 3 else 1)
    out = np.load(target)
    assert out.dtype == np.dtype(dtype) and out.shape == shape
    # The denoiser works in float32: a float64 array comes back to float32 precision.
    np.testing.assert_allclose(out, array, rtol=1e-7 if dtype == "float64" else 0)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((4, 4), np.uint8), "float array"),
        (np.zeros((4, 4, 2), np.float32), r"\(H, W\)"),
        (np.zeros((2, 4, 4, 1), np.float32), r"\(H, W\)"),
        (np.array([[1.0, np.nan]], np.float32), "NaN"),
    ],
)
def test_bad_npy_arrays_are_refused(tmp_path, array, message):
    source = str(tmp_path / "bad.npy")
    np.save(source, array)
    with pytest.raises(image_io.ImageReadError, match=rf"bad\.npy.*{message}"):
        image_io.read_image(source)


def test_pickled_npy_is_refused_without_unpickling(tmp_path):
    source = str(tmp_path / "obj.npy")
    np.save(source, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(image_io.ImageReadError, match=r"obj\.npy"):
        image_io.read_image(source)


def test_16bit_colour_png_is_refused_rather_than_read_as_8_bits(tmp_path):
    source = image_files.write_png16_colour(tmp_path / "deep.png", np.full((3, 4, 3), 40000))
    with pytest.raises(image_io.ImageReadError, match=r"deep\.png.*16-bit colour.*TIFF"):
        image_io.read_image(source)
    with pytest.raises(image_io.ImageReadError, match="16-bit colour"):
        image_io.probe_image(source)


def test_missing_corrupt_and_unsupported_files_name_the_file(tmp_path):
    with pytest.raises(image_io.ImageReadError, match=r"nope\.png: no such file"):
        image_io.read_image(str(tmp_path / "nope.png"))
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"not a png at all")
    with pytest.raises(image_io.ImageReadError, match=r"corrupt\.png: cannot read PNG"):
        image_io.read_image(str(corrupt))
    with pytest.raises(image_io.ImageReadError, match=r"corrupt\.png"):
        image_io.probe_image(str(corrupt))
    with pytest.raises(ValueError, match=r"notes\.txt.*unsupported image type '\.txt'"):
        image_io.read_image(str(tmp_path / "notes.txt"))


@pytest.mark.parametrize("name, samples", [
    ("g.png", image_files.textured(7, 9)),
    ("c.png", image_files.textured(7, 9, 3)),
    ("d.png", np.full((7, 9), 300, np.uint16)),
])
def test_probe_agrees_with_read(tmp_path, name, samples):
    source = image_files.write_png(tmp_path / name, samples)
    info = image_io.probe_image(source)
    image = image_io.read_image(source)
    assert (info.height, info.width, info.channels) == image.pixels.shape
    assert info.dtype == image.dtype and info.format == image.format


def test_writing_checks_format_and_shape(tmp_path):
    image = image_io.Image(np.zeros((4, 4, 1), np.float32), np.dtype("uint8"), "png")
    with pytest.raises(ValueError, match="cannot write a PNG image as JPEG"):
        image_io.write_image(str(tmp_path / "x.jpg"), image)
    with pytest.raises(ValueError, match=r"\(H, W, 1\) or \(H, W, 3\)"):
        image_io.write_image(str(tmp_path / "x.png"), dataclasses.replace(image, pixels=np.zeros((4, 4, 2))))


def test_to_samples_rounds_and_clips():
    np.testing.assert_array_equal(
        image_io.to_samples(np.array([-0.6, 0.4, 0.5000001, 254.6, 255.4, 999.0]), "uint8"),
        [0, 0, 1, 255, 255, 255],
    )
    np.testing.assert_array_equal(image_io.to_samples(np.array([1.0, 255.0]), "uint16"), [257, 65535])


def test_cmyk_jpeg_is_read_as_rgb_and_written_as_rgb_jpeg(tmp_path):
    from PIL import Image

    source = str(tmp_path / "print.jpg")
    Image.fromarray(image_files.textured(12, 16, 3)).convert("CMYK").save(source)
    image, target = _round_trip(tmp_path, source, "print.jpg")
    assert image.channels == 3 and "icc_profile" not in image.metadata
    with Image.open(target) as im:
        assert im.mode == "RGB" and im.size == (16, 12)
