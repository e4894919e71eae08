"""Inflating 2-D ImageNet kernels into 3-D video kernels.

The paper (Sec. 4, "Inflation") and the official loader initialise a
`t × k × k` kernel from a pretrained `k × k` kernel by repeating it `t` times
along time and dividing by `t`: on a clip of identical frames the inflated
network computes what the 2-D one computes on one frame.
"""

import numpy as np


def inflate_kernel(kernel, temporal_size):
    """Inflates a Caffe2 2-D conv kernel to 3-D.

    Args:
        kernel: array of shape `(out, in, h, w)` (the Caffe2 layout).
        temporal_size: the temporal kernel size `t` of the 3-D layer.

    Returns:
        Array of shape `(out, in, t, h, w)`, every temporal slice equal to
        `kernel / t`.

    Example:

    >>> import numpy as np
    >>> inflate_kernel(np.ones((8, 3, 7, 7)), 5).shape
    (8, 3, 5, 7, 7)
    """
    kernel = np.asarray(kernel)
    if kernel.ndim != 4:
        raise ValueError(
            f"inflate_kernel expects a 2-D conv kernel (out, in, h, w); "
            f"received shape {kernel.shape}."
        )
    if int(temporal_size) < 1:
        raise ValueError(f"temporal_size must be >= 1; received {temporal_size!r}.")
    t = int(temporal_size)
    return np.repeat(kernel[:, :, None], t, axis=2) / np.float32(t)
