"""Pictures of attention maps: the paper's Figure 3 for clips, overlays for images.

A clip is drawn as a row of frames per query: the query's cell outlined in
its frame, arrows from it to the `top_k` keys of largest weight (thicker for
larger weights), or the weights as a heat overlay on every frame. An image
gets the overlay with the query marked. Weights of the dot product and the
concatenation are not a distribution (they may be negative and sum to far
less than 1): they are drawn as they are, and the title says so.
"""

import os

import numpy as np

ARROWS, HEAT = "arrows", "heat"
STYLES = (ARROWS, HEAT)
# Keys weighing less than this fraction of the query's largest weight are not
# drawn: a softmax that put all its mass on one key would otherwise still get
# `top_k - 1` arrows to keys of weight 1e-20.
MIN_DRAWN_FRACTION = 0.01


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def displayable(pixels):
    """Pixels as a float image in [0, 1] for display.

    uint8 images are divided by 255; other arrays are stretched from their
    minimum to their maximum (normalised model inputs, feature arrays).

    Args:
        pixels: an array `(..., H, W, C)` or `(..., H, W)`.

    Returns:
        float32 array of the same shape, in [0, 1]; one channel is dropped to
        `(..., H, W)`.

    Example:

    >>> displayable(np.array([[0, 255]], "uint8")).tolist()
    [[0.0, 1.0]]
    """
    pixels = np.asarray(pixels)
    if pixels.dtype == np.uint8:
        out = pixels.astype("float32") / 255.0
    else:
        low, high = float(np.min(pixels)), float(np.max(pixels))
        out = (pixels.astype("float32") - low) / (high - low if high > low else 1.0)
    if out.ndim >= 3 and out.shape[-1] == 1:
        out = out[..., 0]
    return out


def _caption(attention_map):
    kind = (
        "softmax weights (sum 1)"
        if attention_map.is_distribution
        else f"unnormalised weights /M (sum {attention_map.weights.sum():.3g}; not a distribution)"
    )
    return f"{attention_map.block_name}: {kind}"


def _frames_to_show(attention_map, num_frames, top_k, max_frames):
    if num_frames <= max_frames:
        return list(range(num_frames))
    wanted = [attention_map.query[0][0]]
    wanted += [int(center[0]) for center, _ in attention_map.top_keys(top_k)]
    chosen = list(dict.fromkeys(wanted))[:max_frames]
    for t in np.linspace(0, num_frames - 1, max_frames).round().astype(int):
        if len(chosen) >= max_frames:
            break
        if int(t) not in chosen:
            chosen.append(int(t))
    return sorted(chosen)


def _outline(ax, cell, color="red"):
    import matplotlib.patches as patches

    (y0, y1), (x0, x1) = cell
    ax.add_patch(
        patches.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=color, linewidth=2)
    )


def _heat_limits(attention_map):
    # From the painted map, not the weights: where a windowed block's key and
    # its mirror copy cover the same pixels, their weights add up.
    heat = attention_map.heatmap()
    if attention_map.is_distribution or heat.min() >= 0:
        return "magma", 0.0, float(heat.max()) or 1.0
    bound = float(np.abs(heat).max()) or 1.0
    return "coolwarm", -bound, bound


def _drawn_keys(attention_map, top_k):
    """The `top_k` strongest keys, without those under MIN_DRAWN_FRACTION of the best."""
    top = attention_map.top_keys(top_k)
    best = max(abs(w) for _, w in top) or 1.0
    return [(c, w) for c, w in top if abs(w) >= MIN_DRAWN_FRACTION * best], best


def _check_style(style, top_k):
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}; received style={style!r}.")
    if not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be an integer >= 1; received top_k={top_k!r}.")


def plot_clip_attention(frames, maps, top_k=8, style=ARROWS, max_frames=8):
    """Draws the attention of clip queries as in the paper's Figure 3.

    Args:
        frames: the clip the model sees, `(T, H, W, C)` (uint8, or floats
            stretched for display).
        maps: `AttentionMap`s of that clip (`(t, y, x)` coordinates).
        top_k: arrows (or outlined keys) per query, at most; keys under
            `MIN_DRAWN_FRACTION` of the query's largest weight are left out.
        style: `"arrows"` (query to its `top_k` keys) or `"heat"` (the
            weights over every frame, the `top_k` keys outlined).
        max_frames: frames per row; longer clips show the query's frame, the
            frames of the top keys, and evenly spaced others.

    Returns:
        A `matplotlib.figure.Figure`.
    """
    _check_style(style, top_k)
    from matplotlib.patches import ConnectionPatch

    plt = _pyplot()
    frames = displayable(frames)
    num_frames = frames.shape[0]
    shown = [_frames_to_show(m, num_frames, top_k, max_frames) for m in maps]
    cols = max(len(s) for s in shown)
    fig, axes = plt.subplots(
        len(maps), cols, figsize=(2.2 * cols, 2.4 * len(maps)), squeeze=False
    )
    for row, (attention_map, frame_ids) in enumerate(zip(maps, shown)):
        heat = attention_map.heatmap() if style == HEAT else None
        cmap, vmin, vmax = _heat_limits(attention_map)
        for col in range(cols):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col >= len(frame_ids):
                ax.axis("off")
                continue
            t = frame_ids[col]
            ax.imshow(frames[t], cmap="gray" if frames.ndim == 3 else None, vmin=0, vmax=1)
            if heat is not None:
                ax.imshow(heat[t], cmap=cmap, vmin=vmin, vmax=vmax, alpha=0.55)
            ax.set_title(f"frame {t}", fontsize=8)
        query_t = attention_map.query[0][0]
        query_ax = axes[row, frame_ids.index(query_t)]
        _outline(query_ax, attention_map.query[1:])
        qy, qx = attention_map.query_center[1:]
        top, best = _drawn_keys(attention_map, top_k)
        for (kt, ky, kx), weight in top:
            kt = int(kt)
            if kt not in frame_ids:
                continue
            key_ax = axes[row, frame_ids.index(kt)]
            if style == ARROWS:
                arrow = ConnectionPatch(
                    xyA=(qx, qy), coordsA="data", axesA=query_ax,
                    xyB=(kx, ky), coordsB="data", axesB=key_ax,
                    arrowstyle="->", color="yellow" if weight >= 0 else "cyan",
                    linewidth=0.5 + 2.5 * abs(weight) / best, alpha=0.9,
                )
                fig.add_artist(arrow)
            else:
                half = np.asarray(attention_map.key_extent[1:]) / 2
                _outline(
                    key_ax,
                    ((ky - half[0] + 0.5, ky + half[0] + 0.5), (kx - half[1] + 0.5, kx + half[1] + 0.5)),
                    color="yellow",
                )
        axes[row, 0].set_ylabel(
            f"query t={query_t}\ny={attention_map.query[1][0]}, x={attention_map.query[2][0]}",
            fontsize=8,
        )
    fig.suptitle(
        f"{_caption(maps[0])}; top {top_k} keys (those under "
        f"{MIN_DRAWN_FRACTION:.0%} of the largest not drawn)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def plot_image_attention(image, maps, top_k=8, style=HEAT):
    """Draws the attention of image queries: one panel per query.

    Args:
        image: the image the model sees, `(H, W, C)` or `(H, W)`.
        maps: `AttentionMap`s of that image (`(y, x)` coordinates).
        top_k: keys outlined (heat) or pointed at (arrows) per query.
        style: `"heat"` (default) or `"arrows"`.

    Returns:
        A `matplotlib.figure.Figure`.
    """
    _check_style(style, top_k)
    plt = _pyplot()
    image = displayable(image)
    fig, axes = plt.subplots(1, len(maps), figsize=(3.2 * len(maps), 3.4), squeeze=False)
    for ax, attention_map in zip(axes[0], maps):
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
        cmap, vmin, vmax = _heat_limits(attention_map)
        if style == HEAT:
            ax.imshow(attention_map.heatmap(), cmap=cmap, vmin=vmin, vmax=vmax, alpha=0.55)
        _outline(ax, attention_map.query)
        qy, qx = attention_map.query_center
        for (ky, kx), weight in _drawn_keys(attention_map, top_k)[0]:
            if style == ARROWS:
                ax.annotate(
                    "", xy=(kx, ky), xytext=(qx, qy),
                    arrowprops=dict(arrowstyle="->", color="yellow" if weight >= 0 else "cyan"),
                )
            else:
                ax.plot([kx], [ky], marker="+", color="yellow", markersize=6)
        ax.set_title(f"query y={attention_map.query[0][0]}, x={attention_map.query[1][0]}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(_caption(maps[0]), fontsize=9)
    fig.tight_layout()
    return fig


def save_figure(fig, path):
    """Writes a figure (PNG, PDF, SVG by the file's suffix) and closes it.

    Args:
        fig: a `matplotlib.figure.Figure`.
        path: the output file.

    Returns:
        The path written.
    """
    plt = _pyplot()
    try:
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
    return os.fspath(path)


def _render_frame(frame, heat, cmap, vmin, vmax, cell=None):
    import matplotlib

    rgb = frame if frame.ndim == 3 else np.repeat(frame[..., None], 3, axis=-1)
    norm = matplotlib.colors.Normalize(vmin=vmin, vmax=vmax)
    colored = matplotlib.colormaps[cmap](norm(heat))[..., :3]
    out = 0.45 * rgb + 0.55 * colored
    if cell is not None:
        (y0, y1), (x0, x1) = cell
        out[y0:y1, [x0, x1 - 1]] = (1, 0, 0)
        out[[y0, y1 - 1], x0:x1] = (1, 0, 0)
    return (np.clip(out, 0, 1) * 255).astype("uint8")


def save_animation(frames, attention_map, path, fps=4):
    """Writes the heat overlay of one clip query as an animated GIF or MP4.

    Args:
        frames: the clip, `(T, H, W, C)`.
        attention_map: one `AttentionMap` of that clip.
        path: `.gif` (Pillow) or `.mp4` (PyAV).
        fps: frames per second.

    Returns:
        The path written.
    """
    frames = displayable(frames)
    cmap, vmin, vmax = _heat_limits(attention_map)
    heat = attention_map.heatmap()
    query_t = attention_map.query[0][0]
    rendered = [
        _render_frame(frame, heat[t], cmap, vmin, vmax, attention_map.query[1:] if t == query_t else None)
        for t, frame in enumerate(frames)
    ]
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix == ".gif":
        from PIL import Image

        images = [Image.fromarray(f) for f in rendered]
        images[0].save(
            path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0
        )
    elif suffix == ".mp4":
        import av

        height, width = rendered[0].shape[:2]
        with av.open(os.fspath(path), "w") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height = width - width % 2, height - height % 2
            stream.pix_fmt = "yuv420p"
            for image in rendered:
                frame = av.VideoFrame.from_ndarray(image[: stream.height, : stream.width], format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    else:
        raise ValueError(f"An animation is written as .gif or .mp4; received {path!r}.")
    return os.fspath(path)
