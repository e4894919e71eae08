"""Backbone sizes the search can use, as data: one row per size.

Each row is a set of `keras_nonlocal.applications.NonLocalResNet` arguments
(everything but the non-local placement, which the search chooses) plus the
clip shape it is meant for. `"tiny"` fits the built-in long-range digits on a
CPU in seconds per trial; `"small"` keeps ResNet-50's stage depths at 1/8 of
its widths; `"r50"` and `"r101"` are the official C2D backbones for real
videos (`--data list.csv`).
"""

import dataclasses

from keras_nonlocal.applications import InputSetting

# Keeps time untouched in the stem and after res2: the built-in clips are
# only 4 frames long, and a C2D backbone then never mixes frames, so only the
# non-local blocks can relate two frames.
NO_TEMPORAL_POOLING = InputSetting(
    "no_temporal_pooling",
    frames=4,
    sampling_rate=1,
    conv1_temporal_stride=1,
    pool1_size=(1, 3, 3),
    pool1_strides=(1, 2, 2),
    pool2_size=None,
)


@dataclasses.dataclass(frozen=True)
class Backbone:
    """One backbone size for the search.

    Args:
        name: the size's name (`--backbone`).
        depths: residual blocks per stage (res2..res5).
        widths: bottleneck widths per stage.
        input_shape: the clip shape `(frames, height, width, 3)` it is meant
            for (the built-in data, or the default crop of real videos).
        builder_kwargs: further `NonLocalResNet` arguments (stem, temporal
            pattern, input setting, ...), as a tuple of `(key, value)` pairs.
        description: one line for `--help` and the docs.

    Example:

    >>> BACKBONES["tiny"].depths
    (2, 2, 2, 2)
    """

    name: str
    depths: tuple
    widths: tuple
    input_shape: tuple
    builder_kwargs: tuple = ()
    description: str = ""

    def kwargs(self):
        """The `NonLocalResNet` arguments of this backbone (a new dict).

        Returns:
            A dict with `depths`, `widths` and `builder_kwargs`.
        """
        return dict(self.builder_kwargs, depths=self.depths, widths=self.widths)


_TINY_STEM = (
    ("stem_strides", 2),
    ("stem_pool", False),
    ("temporal_pattern", "c2d"),
    ("input_setting", NO_TEMPORAL_POOLING),
)

BACKBONES = {
    "tiny": Backbone(
        "tiny",
        depths=(2, 2, 2, 2),
        widths=(4, 8, 16, 32),
        input_shape=(4, 32, 32, 3),
        builder_kwargs=(("stem_filters", 8),) + _TINY_STEM,
        description="C2D, 2 blocks per stage, widths 4..32, 4x32x32 clips (built-in data, CPU)",
    ),
    "small": Backbone(
        "small",
        depths=(3, 4, 6, 3),
        widths=(8, 16, 32, 64),
        input_shape=(4, 32, 32, 3),
        builder_kwargs=(("stem_filters", 8),) + _TINY_STEM,
        description="C2D with ResNet-50 depths (3, 4, 6, 3) at 1/8 width (all block counts)",
    ),
    "r50": Backbone(
        "r50",
        depths=(3, 4, 6, 3),
        widths=(64, 128, 256, 512),
        input_shape=(8, 224, 224, 3),
        builder_kwargs=(("temporal_pattern", "c2d"), ("input_setting", "8x8")),
        description="official C2D ResNet-50, 8x8 input setting (real videos)",
    ),
    "r101": Backbone(
        "r101",
        depths=(3, 4, 23, 3),
        widths=(64, 128, 256, 512),
        input_shape=(8, 224, 224, 3),
        builder_kwargs=(("temporal_pattern", "c2d"), ("input_setting", "8x8")),
        description="official C2D ResNet-101, 8x8 input setting (real videos)",
    ),
}


def get_backbone(backbone):
    """Resolves a backbone argument.

    Args:
        backbone: a name in `BACKBONES` (`"tiny"`, `"small"`, `"r50"`,
            `"r101"`) or a `Backbone`.

    Returns:
        A `Backbone`.

    Example:

    >>> get_backbone("r50").depths
    (3, 4, 6, 3)
    """
    if isinstance(backbone, Backbone):
        return backbone
    if isinstance(backbone, str) and backbone in BACKBONES:
        return BACKBONES[backbone]
    raise ValueError(
        f"`backbone` must be one of {sorted(BACKBONES)} or a Backbone. Received: backbone={backbone!r}"
    )
