"""Pretrained weight presets, as data: which official file serves which model.

`keras_nonlocal.weights.load_weights` reads this table. Keys are the registry
names of `keras_nonlocal.applications.list_models()`.

- `"kinetics400"`: the official Kinetics-400 checkpoints (Caffe2 pickles),
  one per input setting (see `input_settings.py`). The long-clip `128x1` and
  `32x4` models were fine-tuned with frozen BatchNorm: their backbone (and
  non-local) normalisation is stored in the `"affine"` layout (`_bn_s`, `_bn_b`
  only) and the non-local blocks of res3 attend within groups of 4 frames
  (`build_kwargs`).
- `"imagenet"`: the 2D ImageNet ResNet used to initialise every video model,
  a member of the `pretrained_model.tar.gz` archive (2-D kernels, to be
  inflated for video models).

The official code and models are released under CC-BY-NC 4.0.
"""

# The hosts of these files are `keras_nonlocal.weights.sources.BASE_URLS`.
IMAGENET_ARCHIVE = "pretrained_model.tar.gz"

# Classes of each preset's `pred` layer.
PRESET_CLASSES = {"kinetics400": 400, "imagenet": 1000}

_R50_IMAGENET = {"archive": IMAGENET_ARCHIVE, "member": "r50_pretrain_c2_model_iter450450_clean.pkl"}
_R101_IMAGENET = {"archive": IMAGENET_ARCHIVE, "member": "r101_pretrain_c2_model_iter450450_clean.pkl"}
_LONG_CLIP_NL = {"nonlocal_stage_kwargs": {3: {"group_size": 4}}}


def _k400(file, top1, top5, layout="bn", build_kwargs=None):
    return {
        "file": file,
        "top1": top1,
        "top5": top5,
        "layout": layout,
        "build_kwargs": build_kwargs or {},
    }


# model name -> preset -> (for kinetics400: input setting ->) source.
WEIGHT_PRESETS = {
    "c2d_r50": {
        "kinetics400": {
            "32x2": _k400("c2d_baseline_32x2_IN_pretrain_400k.pkl", 72.0, 90.0),
            "8x8": _k400("c2d_baseline_8x8_IN_pretrain_400k.pkl", 71.9, 90.0),
        },
        "imagenet": _R50_IMAGENET,
    },
    "nl_c2d_r50": {
        "kinetics400": {
            "32x2": _k400("c2d_nonlocal_32x2_IN_pretrain_400k.pkl", 73.9, 91.0),
            "8x8": _k400("c2d_nonlocal_8x8_IN_pretrain_400k.pkl", 74.4, 91.4),
        },
        "imagenet": _R50_IMAGENET,
    },
    "i3d_r50": {
        "kinetics400": {
            "32x2": _k400("i3d_baseline_32x2_IN_pretrain_400k.pkl", 73.6, 90.8),
            "8x8": _k400("i3d_baseline_8x8_IN_pretrain_400k.pkl", 73.4, 90.9),
            "128x1": _k400("i3d_baseline_128x1_I3D_pretrain_400k.pkl", 75.2, 92.0, layout="affine"),
            "32x4": _k400("i3d_baseline_32x4_I3D_pretrain_400k.pkl", 75.5, 92.0, layout="affine"),
        },
        "imagenet": _R50_IMAGENET,
    },
    "nl_i3d_r50": {
        "kinetics400": {
            "32x2": _k400("i3d_nonlocal_32x2_IN_pretrain_400k.pkl", 74.9, 91.6),
            "8x8": _k400("i3d_nonlocal_8x8_IN_pretrain_400k.pkl", 74.7, 91.6),
            "128x1": _k400("i3d_nonlocal_128x1_I3D_pretrain_400k.pkl", 76.5, 92.7,
                           layout="affine", build_kwargs=_LONG_CLIP_NL),
            "32x4": _k400("i3d_nonlocal_32x4_I3D_pretrain_400k.pkl", 76.5, 92.6,
                          layout="affine", build_kwargs=_LONG_CLIP_NL),
        },
        "imagenet": _R50_IMAGENET,
    },
    "i3d_3x3x3_r50": {"imagenet": _R50_IMAGENET},
    "c2d_r101": {"imagenet": _R101_IMAGENET},
    "nl_c2d_r101": {"imagenet": _R101_IMAGENET},
    "i3d_r101": {"imagenet": _R101_IMAGENET},
    "nl_i3d_r101": {"imagenet": _R101_IMAGENET},
    "i3d_3x3x3_r101": {"imagenet": _R101_IMAGENET},
    "resnet50": {"imagenet": _R50_IMAGENET},
    "resnet101": {"imagenet": _R101_IMAGENET},
    "nl_resnet50": {"imagenet": _R50_IMAGENET},
    "nl_resnet101": {"imagenet": _R101_IMAGENET},
}

# Further official Kinetics checkpoints of i3d_r50 in the 8x8 setting (other
# schedules), for users who name them as a file.
EXTRA_CHECKPOINTS = {
    "i3d_r50": {
        "i3d_baseline_8x8_IN_pretrain_300k.pkl": (73.2, 90.8),
        "i3d_baseline_8x8_IN_pretrain_600k_4gpu.pkl": (73.0, 90.4),
        "i3d_baseline_8x8_IN_pretrain_300k_4gpu.pkl": (72.0, 90.1),
    }
}


def available_presets(model_name):
    """Names of the weight presets a zoo model has.

    Args:
        model_name: a registry name, e.g. `"nl_i3d_r50"`.

    Returns:
        A sorted list such as `["imagenet", "kinetics400"]` (empty for an
        unknown model).
    """
    return sorted(WEIGHT_PRESETS.get(model_name, {}))


def preset_source(model_name, preset, input_setting=None):
    """The official file for a model, a preset and (Kinetics) an input setting.

    Args:
        model_name: a registry name.
        preset: `"kinetics400"` or `"imagenet"`.
        input_setting: for `"kinetics400"`, the input setting name
            (`"32x2"`, `"8x8"`, `"128x1"`, `"32x4"`).

    Returns:
        A dict: `{"file", "top1", "top5", "layout", "build_kwargs"}` for
        Kinetics, `{"archive", "member"}` for ImageNet.

    Raises:
        ValueError: if the model has no such preset (or setting).
    """
    presets = WEIGHT_PRESETS.get(model_name, {})
    if preset not in presets:
        raise ValueError(
            f"Model {model_name!r} has no {preset!r} weights; available: "
            f"{available_presets(model_name) or 'none'}."
        )
    source = presets[preset]
    if preset != "kinetics400":
        return source
    if input_setting not in source:
        raise ValueError(
            f"Model {model_name!r} has {preset!r} weights for the input settings "
            f"{sorted(source)}, not for input_setting={input_setting!r}."
        )
    return source[input_setting]


def infer_input_setting(model):
    """Recovers the input setting name of a built video model from its layers.

    The paper settings halve time in `pool1`, the fast ones do not; the number
    of input frames tells the short-clip setting from the long-clip one.

    Args:
        model: a video model built by this package.

    Returns:
        `"32x2"`, `"128x1"`, `"8x8"` or `"32x4"`, or `None` for an image model
        or a custom stem.
    """
    try:
        pool1 = model.get_layer("pool1")
    except ValueError:
        return None
    strides = tuple(pool1.strides)
    if len(strides) != 3:
        return None
    frames = model.input_shape[1]
    if strides[0] == 2:
        return "128x1" if frames == 128 else "32x2"
    return "32x4" if frames == 32 else "8x8"
