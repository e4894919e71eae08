"""Input normalisation of the official models (`MODEL.MEAN`, `MODEL.STD`)."""

import numpy as np
from keras import ops

# The official Caffe2 models were trained on RGB frames in [0, 255] normalised
# with one mean and one standard deviation for all three channels.
MEAN = 114.75
STD = 57.375


def preprocess_input(x, data_format=None):
    """Normalises RGB pixels in [0, 255] the way the official models expect.

    Computes `(x - 114.75) / 57.375` for every channel, as the official
    `video-nonlocal-net` data loader does. The channel order is RGB and is not
    changed, so `data_format` only exists for `keras.applications` symmetry.

    Args:
        x: a NumPy array or tensor of RGB pixel values in `[0, 255]`, of any
            rank (images or videos).
        data_format: ignored; accepted for API compatibility.

    Returns:
        The normalised array, float32 for NumPy input, a tensor otherwise.

    Example:

    >>> import numpy as np
    >>> preprocess_input(np.array([114.75, 172.125]))
    array([0., 1.], dtype=float32)
    """
    del data_format
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return ((np.asarray(x, dtype="float32") - MEAN) / STD).astype("float32")
    x = ops.cast(x, "float32")
    return (x - MEAN) / STD
