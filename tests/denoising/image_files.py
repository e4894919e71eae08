"""Small test images on disk and tiny models for the denoising command tests."""

import struct
import zlib

import numpy as np


def textured(height, width, channels=1, seed=0):
    """A smooth gradient with some texture, uint8 `(H, W, C)`."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = 60 + 120 * (x / max(width - 1, 1)) + 40 * np.sin(y / 3.0)
    planes = [base + 20 * c + rng.normal(0, 6, base.shape) for c in range(channels)]
    return np.clip(np.rint(np.stack(planes, axis=-1)), 0, 255).astype(np.uint8)


def write_png(path, samples):
    """Writes uint8 or 16-bit grayscale samples with Pillow."""
    from PIL import Image

    samples = np.asarray(samples)
    if samples.ndim == 3 and samples.shape[-1] == 1:
        samples = samples[..., 0]
    if samples.dtype == np.uint16:
        image = Image.frombytes("I;16", (samples.shape[1], samples.shape[0]), samples.astype("<u2").tobytes())
    else:
        image = Image.fromarray(samples)
    image.save(path)
    return str(path)


def write_png16_colour(path, samples):
    """A 16-bit RGB PNG written by hand (Pillow cannot write one)."""
    samples = np.asarray(samples, dtype=">u2")
    height, width, _ = samples.shape

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + row.tobytes() for row in samples)
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


def scaling_model(channels=1, factor=0.5):
    """A Keras model that multiplies every channel by `factor` (a 1×1 conv)."""
    import keras

    inputs = keras.Input((None, None, channels))
    conv = keras.layers.Conv2D(channels, 1, use_bias=False)
    model = keras.Model(inputs, conv(inputs), name=f"scale_{factor:g}")
    conv.set_weights([np.eye(channels, dtype="float32").reshape(1, 1, channels, channels) * factor])
    return model


def residual_model(channels=1, seed=0):
    """A small randomly initialised residual CNN: x + conv(relu(conv(x)))."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, channels))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs / 255.0)
    noise = keras.layers.Conv2D(channels, 3, padding="same")(hidden)
    return keras.Model(inputs, inputs - noise, name="tiny_residual")
