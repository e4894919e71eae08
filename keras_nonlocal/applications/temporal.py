"""Temporal kernel patterns (C2D, I3D) as data.

An official video ResNet differs from its 2D parent only in which convolutions
get a temporal extent. The pattern says, for the stem and for every residual
block, whether the kernel is inflated; the inflation says which convolution of
the bottleneck carries the temporal kernel.

The official code (`obtain_arc` in `resnet_video.py`) writes one flag list per
stage. Those lists are periodic, so a pattern here is one short cycle per
stage, repeated over the stage's blocks: the same row serves ResNet-50, -101
and any custom depth.
"""

import dataclasses

# Inflation name -> which bottleneck convolution gets the temporal kernel.
# "3x1x1": the official code and the paper's I3D_{3x1x1}: the first 1x1
# (branch2a) becomes 3x1x1. "3x3x3": the paper's I3D_{3x3x3}: the 3x3 (branch2b)
# becomes 3x3x3.
INFLATIONS = {"3x1x1": "branch2a", "3x3x3": "branch2b"}


@dataclasses.dataclass(frozen=True)
class TemporalPattern:
    """Where a video ResNet has temporal kernels.

    Args:
        stem_radius: temporal radius `u` of `conv1`; its kernel is
            `(1 + 2u, 7, 7)` and its temporal padding `u`.
        stages: one cycle of flags per stage (res2, res3, ...). Block `i` of a
            stage is inflated when `cycle[i % len(cycle)]` is 1; an inflated
            block's kernel has temporal size `1 + 2 * block_radius`.
        block_radius: temporal radius of an inflated block's kernel (1 for
            the official size-3 kernels).

    Example:

    >>> TemporalPattern(stem_radius=2, stages=((1,), (1, 0), (1, 0), (0, 1))).flags((3, 4, 6, 3))
    ((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0))
    """

    stem_radius: int = 0
    stages: tuple = ((0,), (0,), (0,), (0,))
    block_radius: int = 1

    def flags(self, depths):
        """Per-block inflation flags for the given stage depths.

        Args:
            depths: number of residual blocks per stage.

        Returns:
            A tuple with one tuple of 0/1 flags per stage.
        """
        if len(depths) != len(self.stages):
            raise ValueError(
                f"The temporal pattern has {len(self.stages)} stage cycles but the "
                f"network has {len(depths)} stages (depths={tuple(depths)}); give "
                "one cycle per stage."
            )
        return tuple(
            tuple(int(cycle[i % len(cycle)]) for i in range(depth))
            for cycle, depth in zip(self.stages, depths)
        )

    def kernel_sizes(self, depths):
        """Temporal kernel size of the inflated convolution of every block.

        Args:
            depths: number of residual blocks per stage.

        Returns:
            A tuple with one tuple of kernel sizes (1 or `1 + 2 * block_radius`)
            per stage.
        """
        return tuple(
            tuple(1 + 2 * self.block_radius * f for f in stage)
            for stage in self.flags(depths)
        )


# One row per architecture. I3D's cycles reproduce the official lists:
# res2 [1,1,1], res3 [1,0,1,0], res4 [1,0,1,0,1,0] (R101: 1,0,... over 23),
# res5 [0,1,0]; conv1 is 5x7x7.
TEMPORAL_PATTERNS = {
    "c2d": TemporalPattern(stem_radius=0, stages=((0,), (0,), (0,), (0,))),
    "i3d": TemporalPattern(stem_radius=2, stages=((1,), (1, 0), (1, 0), (0, 1))),
}


def get_temporal_pattern(pattern, num_stages=4):
    """Resolves a temporal pattern argument.

    Args:
        pattern: a name in `TEMPORAL_PATTERNS` (`"c2d"`, `"i3d"`), a
            `TemporalPattern`, or a dict of its fields.
        num_stages: number of stages the network has; a named pattern with
            four cycles is only valid for four stages.

    Returns:
        A `TemporalPattern`.
    """
    if isinstance(pattern, TemporalPattern):
        resolved = pattern
    elif isinstance(pattern, dict):
        resolved = TemporalPattern(
            **{k: (tuple(tuple(c) for c in v) if k == "stages" else v) for k, v in pattern.items()}
        )
    elif isinstance(pattern, str) and pattern in TEMPORAL_PATTERNS:
        resolved = TEMPORAL_PATTERNS[pattern]
    else:
        raise ValueError(
            "`temporal_pattern` must be one of "
            f"{sorted(TEMPORAL_PATTERNS)}, a TemporalPattern or a dict of its "
            f"fields. Received: temporal_pattern={pattern!r}"
        )
    if len(resolved.stages) != num_stages:
        raise ValueError(
            f"`temporal_pattern` has {len(resolved.stages)} stage cycles but the "
            f"network has {num_stages} stages. Received: temporal_pattern={pattern!r}"
        )
    return resolved


def get_inflation(inflation):
    """Validates an inflation name and returns the branch it inflates.

    Args:
        inflation: `"3x1x1"` (official) or `"3x3x3"`.

    Returns:
        `"branch2a"` or `"branch2b"`.
    """
    if inflation not in INFLATIONS:
        raise ValueError(
            f"`inflation` must be one of {sorted(INFLATIONS)}. "
            f"Received: inflation={inflation!r}"
        )
    return INFLATIONS[inflation]
