"""The model zoo: every named model's defaults in one table, and `get_model`.

A row is the set of `NonLocalResNet` arguments that makes the model; calling
`get_model(name, **kwargs)` builds it, with `kwargs` overriding the row (any
builder argument: `input_setting`, `nonlocal_placement`, `weights`, ...).
"""

import argparse
import copy

from keras_nonlocal.applications.builder import NonLocalResNet

R50 = (3, 4, 6, 3)
R101 = (3, 4, 23, 3)

_VIDEO = dict(video=True, classes=400, dropout_rate=0.5, input_setting=None)
_IMAGE = dict(video=False, classes=1000, dropout_rate=0.0)

# name -> builder arguments. Video models take the input setting of the
# checkpoint they load (`input_setting=None`), else the paper's 32x2; pass
# input_setting="8x8" (or "32x4", "128x1") for another.
MODEL_CONFIGS = {
    "c2d_r50": dict(_VIDEO, depths=R50, temporal_pattern="c2d"),
    "nl_c2d_r50": dict(_VIDEO, depths=R50, temporal_pattern="c2d", nonlocal_placement="official"),
    "i3d_r50": dict(_VIDEO, depths=R50, temporal_pattern="i3d"),
    "nl_i3d_r50": dict(_VIDEO, depths=R50, temporal_pattern="i3d", nonlocal_placement="official"),
    "i3d_3x3x3_r50": dict(_VIDEO, depths=R50, temporal_pattern="i3d", inflation="3x3x3"),
    "c2d_r101": dict(_VIDEO, depths=R101, temporal_pattern="c2d"),
    "nl_c2d_r101": dict(_VIDEO, depths=R101, temporal_pattern="c2d", nonlocal_placement="official"),
    "i3d_r101": dict(_VIDEO, depths=R101, temporal_pattern="i3d"),
    "nl_i3d_r101": dict(_VIDEO, depths=R101, temporal_pattern="i3d", nonlocal_placement="official"),
    "i3d_3x3x3_r101": dict(_VIDEO, depths=R101, temporal_pattern="i3d", inflation="3x3x3"),
    # Image models: the same ResNet with 2D convolutions (the ImageNet network
    # the video models are inflated from). NL-ResNets put one block before the
    # last block of res4, the paper's setting for images (Sec. 6).
    "resnet50": dict(_IMAGE, depths=R50),
    "resnet101": dict(_IMAGE, depths=R101),
    "nl_resnet50": dict(_IMAGE, depths=R50, nonlocal_placement="1_block"),
    "nl_resnet101": dict(_IMAGE, depths=R101, nonlocal_placement="1_block"),
}


def list_models(video=None):
    """Names of the zoo models.

    Args:
        video: `True` for video models only, `False` for image models only,
            `None` for all.

    Returns:
        A list of names, in table order.

    Example:

    >>> "nl_i3d_r50" in list_models()
    True
    """
    return [
        name for name, config in MODEL_CONFIGS.items()
        if video is None or config["video"] == video
    ]


def model_config(name):
    """The builder arguments of a zoo model (a copy).

    Args:
        name: a name from `list_models()`.

    Returns:
        A dict of `NonLocalResNet` arguments.
    """
    if name not in MODEL_CONFIGS:
        raise ValueError(
            f"Unknown model name {name!r}. Available: {', '.join(MODEL_CONFIGS)}."
        )
    return copy.deepcopy(MODEL_CONFIGS[name])


def get_model(name, /, **kwargs):
    """Builds a zoo model by name.

    Args:
        name: a name from `list_models()`, e.g. `"nl_i3d_r50"`.
        **kwargs: `NonLocalResNet` arguments overriding the model's defaults
            (`include_top`, `weights`, `input_shape`, `input_setting`,
            `nonlocal_placement`, ...).

    Returns:
        A `keras.Model` named `name` unless `name=` is given in `kwargs`.

    Example:

    >>> model = get_model("nl_i3d_r50", input_setting="8x8", include_top=False,
    ...                   pooling="avg")  # doctest: +SKIP
    """
    config = model_config(name)
    config.update(kwargs)
    config.setdefault("name", name)
    config["model_name"] = name
    return NonLocalResNet(**config)


def zoo_model(text):
    """An argparse `type=` for `--model`: a name from the model zoo.

    Args:
        text: the flag's text.

    Returns:
        The name.

    Example:

    >>> zoo_model("nl_i3d_r50")
    'nl_i3d_r50'
    """
    names = list_models()
    if text not in names:
        raise argparse.ArgumentTypeError(
            f"unknown zoo model {text!r}; choose from {', '.join(names)}"
        )
    return text
