"""Tiny generated videos whose pixels say which frame and pixel they are.

Frame `k`, pixel `(y, x)` holds R = `frame_level(k)`, G = 5 x, B = 7 y. With
the lossless FFV1 codec in RGB (`bgr0`) the decoded values are exact, so a
clip tells its frame indices (`frame_ids`) and crop offsets exactly.
"""

import numpy as np
import pytest

HEIGHT, WIDTH = 32, 40


def frame_level(k):
    return 10 + 4 * np.asarray(k)


def frame_image(k, height=HEIGHT, width=WIDTH):
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0] = frame_level(k)
    image[..., 1] = 5 * np.arange(width)[None, :]
    image[..., 2] = 7 * np.arange(height)[:, None]
    return image


def write_video(path, frames, codec="ffv1", pix_fmt="bgr0", rate=25, options=None, pts=None):
    """Encodes `frames` with PyAV; `options` go to the encoder (e.g. GOP
    size `{"g": "12", "bf": "2"}`), `pts` gives each frame's timestamp in
    units of 1/`rate` (default 0, 1, 2, ...)."""
    av = pytest.importorskip("av")
    frames = np.asarray(frames, np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = pix_fmt
        if options:
            stream.options = dict(options)
        for k, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if pts is not None:
                frame.pts = int(pts[k])
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return str(path)


def coded_frames(num_frames, height=HEIGHT, width=WIDTH):
    return np.stack([frame_image(k, height, width) for k in range(num_frames)])


def write_coded_video(path, num_frames, height=HEIGHT, width=WIDTH):
    """An exact (lossless) video of `num_frames` coded frames."""
    return write_video(path, coded_frames(num_frames, height, width))


def frame_ids(clip):
    """Frame index of every frame of a uint8 or [0, 255] clip (T, H, W, 3)."""
    levels = np.asarray(clip, np.float64)[..., 0].mean(axis=(-1, -2))
    ids = np.round((levels - 10) / 4).astype(int)
    assert np.allclose(frame_level(ids), levels, atol=1.0), levels
    return ids


def denormalize(clip):
    return np.asarray(clip, np.float64) * 57.375 + 114.75


def moving_frames(num_frames, height=48, width=64):
    """Frames that differ everywhere from one to the next (for lossy codecs)."""
    yy, xx = np.mgrid[0:height, 0:width]
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for k in range(num_frames):
        frames[k, ..., 0] = (xx * 4 + 3 * k) % 256
        frames[k, ..., 1] = (yy * 5 + 7 * k) % 256
        frames[k, ..., 2] = (11 * k) % 256
        frames[k, 8:24, k % (width - 16) : k % (width - 16) + 16] = 255
    return frames


def full_decode(path):
    """Every frame of a video, decoded by PyAV alone (the reference)."""
    import av

    with av.open(str(path)) as container:
        return np.stack(
            [f.to_ndarray(format="rgb24") for f in container.decode(container.streams.video[0])]
        )


def keyframe_indices(path):
    """Frame indices (presentation order) of the keyframes of a video."""
    import av

    with av.open(str(path)) as container:
        packets = [
            (p.pts, p.is_keyframe) for p in container.demux(container.streams.video[0]) if p.size
        ]
    order = sorted(pts for pts, _ in packets)
    return sorted(order.index(pts) for pts, key in packets if key)
