"""The one general builder: `NonLocalResNet`.

Every zoo model (C2D, I3D, their non-local versions, the image NL-ResNets) is
this function with a row of arguments; see `models.py` for the named ones.
"""

import keras

from keras_nonlocal import weights as weights_package
from keras_nonlocal.applications import validation
from keras_nonlocal.applications.conv_bn import BN_EPSILON
from keras_nonlocal.applications.conv_bn import BN_MOMENTUM
from keras_nonlocal.applications.heads import classification_head
from keras_nonlocal.applications.heads import pooling_head
from keras_nonlocal.applications.input_settings import DEFAULT_INPUT_SETTING
from keras_nonlocal.applications.input_settings import get_input_setting
from keras_nonlocal.applications.placement import resolve_placement
from keras_nonlocal.applications.stages import res_stage
from keras_nonlocal.applications.stem import stem
from keras_nonlocal.applications.temporal import get_inflation
from keras_nonlocal.applications.temporal import get_temporal_pattern
from keras_nonlocal.layers import MODES
from keras_nonlocal.layers import NonLocalBlock

FIRST_STAGE = 2  # the official stage numbering: res2 .. res5

# NonLocalBlock arguments the builder sets itself.
_RESERVED_NONLOCAL_KWARGS = ("name", "mode", "sub_sample", "attention_axes")


def _check_depths_widths(depths, widths, stage_strides, expansion):
    depths, widths, stage_strides = tuple(depths), tuple(widths), tuple(stage_strides)
    if not depths or not all(isinstance(d, int) and d >= 1 for d in depths):
        raise ValueError(
            f"`depths` must be a non-empty tuple of integers >= 1. Received: depths={depths}"
        )
    if len(widths) != len(depths) or not all(isinstance(w, int) and w >= 1 for w in widths):
        raise ValueError(
            f"`widths` must give one integer >= 1 per stage ({len(depths)} stages). "
            f"Received: widths={widths}"
        )
    if len(stage_strides) != len(depths) or not all(s in (1, 2) for s in stage_strides):
        raise ValueError(
            f"`stage_strides` must give one stride (1 or 2) per stage ({len(depths)} "
            f"stages). Received: stage_strides={stage_strides}"
        )
    if not isinstance(expansion, int) or expansion < 1:
        raise ValueError(f"`expansion` must be an integer >= 1. Received: expansion={expansion}")
    return depths, widths, stage_strides


def _resolve_input_setting(input_setting, weights, model_name, include_top, classes, video):
    """The input setting to build with (`None` for images), `weights` checked.

    A setting that is given must be the checkpoint's; one that is not follows
    the checkpoint `weights` names, else is the documented default (never the
    number of frames).
    """
    given = None
    if video and input_setting is not None:
        given = get_input_setting(input_setting)
    row = weights_package.validate_weights_argument(
        weights, include_top=include_top, classes=classes, model_name=model_name,
        input_setting=given.name if given else None,
        default_input_setting=DEFAULT_INPUT_SETTING, video=video,
    )
    if not video:
        return None
    if given is not None:
        return given
    if row is not None and row.input_setting is not None:
        return get_input_setting(row.input_setting)
    return get_input_setting(DEFAULT_INPUT_SETTING)


def _check_nonlocal_kwargs(kwargs, argument):
    if kwargs is None:
        return {}
    if not isinstance(kwargs, dict):
        raise ValueError(f"`{argument}` must be a dict of NonLocalBlock arguments. Received: {kwargs!r}")
    reserved = sorted(set(kwargs) & set(_RESERVED_NONLOCAL_KWARGS))
    if reserved:
        raise ValueError(
            f"`{argument}` cannot set {reserved}: use the builder's `nonlocal_mode`, "
            "`nonlocal_sub_sample` and `nonlocal_attention_axes` arguments "
            "(names follow the official blobs)."
        )
    return dict(kwargs)


def _check_nonlocal_choices(mode, attention_axes):
    if mode not in MODES:
        raise ValueError(
            f"Unknown mode={mode!r} for `nonlocal_mode`. Expected one of {', '.join(MODES)}."
        )
    if attention_axes not in ("spacetime", "space", "time"):
        raise ValueError(
            "`nonlocal_attention_axes` must be 'spacetime', 'space' or 'time'. "
            f"Received: nonlocal_attention_axes={attention_axes!r}"
        )


def NonLocalResNet(
    depths=(3, 4, 6, 3),
    widths=(64, 128, 256, 512),
    *,
    video=True,
    temporal_pattern="c2d",
    inflation="3x1x1",
    input_setting=None,
    expansion=4,
    stem_filters=64,
    stem_kernel_size=7,
    stem_strides=2,
    stem_pool=True,
    stage_strides=(1, 2, 2, 2),
    nonlocal_placement=None,
    nonlocal_mode="embedded_gaussian",
    nonlocal_sub_sample=True,
    nonlocal_attention_axes="spacetime",
    nonlocal_kwargs=None,
    nonlocal_stage_kwargs=None,
    zero_init_residual=False,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=400,
    classifier_activation="softmax",
    dropout_rate=0.5,
    name="nonlocal_resnet",
    model_name=None,
):
    """Builds a (non-local) ResNet for videos or images, official layout.

    The backbone is the official Caffe2 one (`video-nonlocal-net`): stem
    `conv1`/`pool1`, bottleneck stages res2..res5 with the stride on the 3×3,
    `pool2` (time) after res2 on videos, and non-local blocks
    `nonlocal_conv{s}_{i}` after the residual blocks named by
    `nonlocal_placement`. Layer names are the official blob prefixes, so
    converted checkpoints load by name.

    Args:
        depths: residual blocks per stage (`(3, 4, 6, 3)`: ResNet-50,
            `(3, 4, 23, 3)`: ResNet-101).
        widths: bottleneck widths per stage; stage outputs are
            `expansion * width`.
        video: `True` for 5-D video input `(B, T, H, W, 3)` (Conv3D),
            `False` for 4-D images `(B, H, W, 3)` (Conv2D, same names).
        temporal_pattern: `"c2d"`, `"i3d"` or a `TemporalPattern`: which
            blocks get temporal kernels (videos).
        inflation: `"3x1x1"` (official: the temporal kernel sits on the first
            1×1 of the bottleneck) or `"3x3x3"` (on the 3×3).
        input_setting: `"32x2"` (paper), `"8x8"` (fast), `"128x1"`,
            `"32x4"`, or an `InputSetting`: the stem's temporal strides and
            pooling, and for the long-clip `"128x1"` and `"32x4"` the
            official non-local blocks without normalisation, grouped by 4
            frames in res3 (videos). `None` (default) follows the checkpoint
            that `weights` names, else `"32x2"`; a given setting must be the
            checkpoint's. The number of frames never chooses it.
        expansion: bottleneck expansion (4).
        stem_filters: channels of `conv1` (64).
        stem_kernel_size: spatial kernel of `conv1` (7).
        stem_strides: spatial stride of `conv1` (2).
        stem_pool: whether to apply `pool1`.
        stage_strides: spatial stride of the first block of each stage.
        nonlocal_placement: where non-local blocks go: `None` (none, the
            baseline), a preset (`"official"`, `"1_block"`, `"5_blocks"`,
            `"10_blocks"`, `"res2"`..`"res5"`, `"official_r101"`) or a dict
            `{stage: block indices or rule}`; see `placement.py`.
        nonlocal_mode: pairwise function of the blocks (`"embedded_gaussian"`,
            `"gaussian"`, `"dot_product"`, `"concatenation"`).
        nonlocal_sub_sample: max-pool keys and values (official: space by 2).
        nonlocal_attention_axes: `"spacetime"`, `"space"` or `"time"`.
        nonlocal_kwargs: further `NonLocalBlock` arguments for every block
            (e.g. `{"chunk_size": 1024}`).
        nonlocal_stage_kwargs: `{stage: kwargs}` overriding `nonlocal_kwargs`
            and the input setting's grouping per stage (e.g.
            `{3: {"group_size": 2}}`).
        zero_init_residual: initialise each block's last BN scale to 0.
        include_top: whether to include the `pred` classifier.
        weights: `None`, `"kinetics400"`, `"imagenet"`, an official
            checkpoint name, or a path/URL to a weights file (loaded by
            `keras_nonlocal.weights.load_weights`).
        input_tensor: optional Keras tensor to use as the model's input.
        input_shape: shape without batch, e.g. `(32, 224, 224, 3)`; frames,
            height and width may be `None` when `include_top=False`.
        pooling: with `include_top=False`: `None` (feature map), `"avg"` or
            `"max"` (global pooling).
        classes: number of classes of `pred`.
        classifier_activation: activation of the classifier; `None` returns
            logits.
        dropout_rate: dropout before `pred`.
        name: model name.
        model_name: the zoo name used to look up weight presets
            (`"nl_i3d_r50"`); the named models set it.

    Returns:
        A `keras.Model`.

    Example:

    >>> model = NonLocalResNet(
    ...     depths=(1, 1, 1, 1), widths=(8, 16, 32, 64), stem_filters=8,
    ...     temporal_pattern="i3d", input_setting="8x8",
    ...     nonlocal_placement={3: (0,)}, include_top=False, pooling="avg",
    ...     input_shape=(4, 64, 64, 3))
    >>> model.output_shape
    (None, 256)
    """
    # --- validation, before building anything
    depths, widths, stage_strides = _check_depths_widths(depths, widths, stage_strides, expansion)
    if not isinstance(include_top, bool):
        raise ValueError(f"`include_top` must be a boolean. Received: include_top={include_top!r}")
    if include_top:
        validation.validate_classifier_activation(classifier_activation, weights)
        if not isinstance(classes, int) or classes < 1:
            raise ValueError(f"`classes` must be an integer >= 1. Received: classes={classes!r}")
    else:
        validation.validate_pooling(pooling)
    if not 0 <= dropout_rate < 1:
        raise ValueError(f"`dropout_rate` must be in [0, 1). Received: dropout_rate={dropout_rate!r}")
    setting = _resolve_input_setting(
        input_setting, weights, model_name, include_top, classes if include_top else None, video
    )
    pattern = get_temporal_pattern(temporal_pattern, len(depths)) if video else None
    inflated_branch = get_inflation(inflation)
    placement = resolve_placement(nonlocal_placement, depths, FIRST_STAGE)
    if placement:
        _check_nonlocal_choices(nonlocal_mode, nonlocal_attention_axes)
    base_nl_kwargs = _check_nonlocal_kwargs(nonlocal_kwargs, "nonlocal_kwargs")
    stage_nl_kwargs = {}
    for stage, kwargs in (nonlocal_stage_kwargs or {}).items():
        stage_nl_kwargs[stage] = _check_nonlocal_kwargs(kwargs, f"nonlocal_stage_kwargs[{stage}]")
    # The setting shapes the blocks (the long-clip models attend in groups of 4
    # frames in res3, with no normalisation); the user's own settings still win.
    setting_nl_kwargs = {"norm": setting.nonlocal_norm} if video else {}
    for stage, kwargs in (setting.nonlocal_stage_kwargs() if video else {}).items():
        stage_nl_kwargs[stage] = {**kwargs, **stage_nl_kwargs.get(stage, {})}

    if video:
        default_shape = (setting.frames, 224, 224, 3)
        min_frames = setting.min_frames(pattern.stem_radius)
    else:
        default_shape, min_frames = (224, 224, 3), 1
    input_shape = validation.obtain_input_shape(
        input_shape if input_tensor is None or input_shape is not None else _tensor_shape(input_tensor),
        default_shape,
        min_size=32,
        min_frames=min_frames,
        require_static=include_top,
    )

    # --- graph
    if input_tensor is None:
        inputs = keras.layers.Input(shape=input_shape, name="data")
    elif not keras.backend.is_keras_tensor(input_tensor):
        inputs = keras.layers.Input(tensor=input_tensor, shape=input_shape, name="data")
    else:
        inputs = input_tensor

    def make_nonlocal(layer_name, stage):
        kwargs = {"bn_momentum": BN_MOMENTUM, "bn_epsilon": BN_EPSILON}
        kwargs.update(setting_nl_kwargs)
        kwargs.update(base_nl_kwargs)
        kwargs.update(stage_nl_kwargs.get(stage, {}))
        return NonLocalBlock(
            mode=nonlocal_mode,
            sub_sample=nonlocal_sub_sample,
            attention_axes=nonlocal_attention_axes,
            name=layer_name,
            **kwargs,
        )

    x = stem(
        inputs,
        setting=setting,
        temporal_radius=pattern.stem_radius if video else 0,
        filters=stem_filters,
        kernel_size=stem_kernel_size,
        strides=stem_strides,
        pool=stem_pool,
    )
    kernels = pattern.kernel_sizes(depths) if video else (None,) * len(depths)
    for index, (depth, width, strides) in enumerate(zip(depths, widths, stage_strides)):
        stage = FIRST_STAGE + index
        x = res_stage(
            x,
            stage,
            depth,
            width,
            width * expansion,
            strides,
            temporal_kernels=kernels[index],
            inflated_branch=inflated_branch,
            nonlocal_after=placement.get(stage, ()),
            nonlocal_block=make_nonlocal,
            zero_init_residual=zero_init_residual,
        )
        if video and stage == FIRST_STAGE and setting.pool2_size:
            x = keras.layers.MaxPooling3D(
                (setting.pool2_size, 1, 1), strides=(setting.pool2_size, 1, 1),
                padding="valid", name="pool2",
            )(x)

    if include_top:
        x = classification_head(x, classes, classifier_activation, dropout_rate)
    else:
        x = pooling_head(x, pooling)

    if input_tensor is not None:
        model_inputs = keras.utils.get_source_inputs(input_tensor)
    else:
        model_inputs = inputs
    model = keras.Model(model_inputs, x, name=name)

    if weights is not None:
        weights_package.load_weights(
            model,
            weights,
            model_name=model_name,
            include_top=include_top,
            classes=classes,
            input_setting=setting.name if setting else None,
        )
    return model


def _tensor_shape(tensor):
    shape = getattr(tensor, "shape", None)
    return None if shape is None else tuple(shape)[1:]
