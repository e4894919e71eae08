"""The official input settings (frames × sampling rate) as data.

The two official video backbones differ only in the stem's temporal
downsampling: the paper's `resnet_video_org.py` (32 frames at stride 2, or 128 ×
1 for long clips) halves time in `conv1` and again in `pool1`; the repository's
faster `resnet_video.py` (8 × 8, or 32 × 4 for long clips) keeps time in the stem.
Both then halve time once more in `pool2` after res2, so res2–res5 see the same
number of frames.

The long-clip settings (`128x1`, `32x4`) also change the non-local blocks, as
the official config they were trained from
(`configs/DBG_kinetics_resnet_8gpu_c2d_nonlocal_affine_400k.yaml`) does: no
normalisation after `out` (`NONLOCAL.USE_BN: False`, `out` initialised to zero)
and, in res3, attention within groups of 4 consecutive frames
(`add_nonlocal_group`). A new setting is a new row.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class InputSetting:
    """Temporal layout of a video ResNet's stem for one input setting.

    Args:
        name: the setting's name (`"32x2"`: 32 frames sampled every 2).
        frames: the number of input frames the setting is trained with.
        sampling_rate: the frame stride used when sampling clips (data only;
            the network does not depend on it).
        conv1_temporal_stride: temporal stride of `conv1`.
        pool1_size: `(t, h, w)` window of the `pool1` max pooling.
        pool1_strides: `(t, h, w)` strides of `pool1`.
        pool2_size: temporal window and stride of `pool2` (after res2), or
            `None` for no `pool2`.
        nonlocal_norm: the `norm` of the non-local blocks (`"batch_norm"`,
            or `None` for the long-clip models).
        nonlocal_group_sizes: `((stage, group_size), ...)`: stages whose
            non-local blocks attend within groups of frames.

    Example:

    >>> INPUT_SETTINGS["8x8"].conv1_temporal_stride
    1
    """

    name: str
    frames: int
    sampling_rate: int
    conv1_temporal_stride: int
    pool1_size: tuple = (1, 3, 3)
    pool1_strides: tuple = (1, 2, 2)
    pool2_size: int = 2
    nonlocal_norm: str | None = "batch_norm"
    nonlocal_group_sizes: tuple = ()

    def nonlocal_stage_kwargs(self):
        """`NonLocalBlock` arguments per stage that this setting implies.

        Returns:
            A dict `{stage: {"group_size": n}}`.

        Example:

        >>> INPUT_SETTINGS["32x4"].nonlocal_stage_kwargs()
        {3: {'group_size': 4}}
        """
        return {stage: {"group_size": size} for stage, size in self.nonlocal_group_sizes}

    def frames_after_stem(self, frames, stem_radius):
        """Frames leaving `pool1` for an input of `frames` frames.

        Args:
            frames: number of input frames.
            stem_radius: temporal radius of `conv1` (its padding).

        Returns:
            The number of frames entering res2 (may be < 1 for too few frames).
        """
        kernel = 1 + 2 * stem_radius
        t = (frames + 2 * stem_radius - kernel) // self.conv1_temporal_stride + 1
        return (t - self.pool1_size[0]) // self.pool1_strides[0] + 1

    def min_frames(self, stem_radius=0):
        """Smallest number of input frames the stem and `pool2` accept.

        Args:
            stem_radius: temporal radius of `conv1`.

        Returns:
            An int.
        """
        needed = self.pool2_size or 1
        frames = 1
        while self.frames_after_stem(frames, stem_radius) < needed:
            frames += 1
        return frames


_PAPER = dict(conv1_temporal_stride=2, pool1_size=(2, 3, 3), pool1_strides=(2, 2, 2))
_FAST = dict(conv1_temporal_stride=1, pool1_size=(1, 3, 3), pool1_strides=(1, 2, 2))
# The affine (frozen BN) long-clip config: no non-local normalisation, res3
# blocks on groups of 4 frames (`NONLOCAL.USE_BN: False`, `group_size=4`).
_LONG_CLIP = dict(nonlocal_norm=None, nonlocal_group_sizes=((3, 4),))

# The setting of a video model when neither `input_setting` nor a checkpoint
# gives one: the paper's.
DEFAULT_INPUT_SETTING = "32x2"

INPUT_SETTINGS = {
    # resnet_video_org.py: the paper's settings.
    "32x2": InputSetting("32x2", frames=32, sampling_rate=2, **_PAPER),
    "128x1": InputSetting("128x1", frames=128, sampling_rate=1, **_PAPER, **_LONG_CLIP),
    # resnet_video.py: the repository's faster settings.
    "8x8": InputSetting("8x8", frames=8, sampling_rate=8, **_FAST),
    "32x4": InputSetting("32x4", frames=32, sampling_rate=4, **_FAST, **_LONG_CLIP),
}


def get_input_setting(setting):
    """Resolves an input setting argument.

    Args:
        setting: a name in `INPUT_SETTINGS` (`"32x2"`, `"8x8"`, `"128x1"`,
            `"32x4"`) or an `InputSetting`.

    Returns:
        An `InputSetting`.
    """
    if isinstance(setting, InputSetting):
        return setting
    if isinstance(setting, str) and setting in INPUT_SETTINGS:
        return INPUT_SETTINGS[setting]
    raise ValueError(
        f"`input_setting` must be one of {sorted(INPUT_SETTINGS)} or an "
        f"InputSetting. Received: input_setting={setting!r}"
    )
