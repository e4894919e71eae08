"""Zoo models ready to train: the recipe's clips, dropout, BN, and a new head.

Fine-tuning from `weights="kinetics400"` or `"imagenet"` onto another label
set loads the pretrained backbone (`include_top=False`) and puts a fresh
official head on it (`pool5` average, dropout, `pred` ~ N(0, 0.01)). When the
class count matches the preset (400 for Kinetics) the pretrained head is kept.
"""

import os

import keras

from keras_nonlocal.applications import get_model
from keras_nonlocal.applications import list_models
from keras_nonlocal.applications.heads import classification_head
from keras_nonlocal.weights import PRESET_CLASSES


def freeze_batch_norm(model):
    """Freezes every BatchNorm of a model (the official "affine" fine-tuning).

    A Keras `BatchNormalization` with `trainable=False` runs in inference
    mode: it uses and keeps its moving statistics, and its gamma/beta stop
    training too, the fixed per-channel affine of the official long-clip
    recipes (`MODEL.USE_AFFINE`).

    Args:
        model: a `keras.Model`.

    Returns:
        The number of layers frozen.
    """
    count = 0
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
            count += 1
    return count


def _all_layers(layer):
    for sub in getattr(layer, "_flatten_layers", lambda **_: [])(include_self=False, recursive=True):
        yield sub


def build_model(
    model_name,
    classes,
    recipe,
    weights=None,
    input_shape=None,
    logits=False,
    **model_kwargs,
):
    """Builds a zoo model for training with a recipe.

    Args:
        model_name: a zoo name (`keras_nonlocal.applications.list_models()`).
        classes: number of classes of the new task.
        recipe: a `Recipe`: clip length, crop, dropout, input setting,
            `zero_init_residual`, `freeze_bn`.
        weights: `None`, `"kinetics400"`, `"imagenet"`, or a path to a
            `.weights.h5` / official `.pkl`. A preset with another class count
            gets a new head; a `.weights.h5` file is loaded by layer, skipping
            the classifier when its shape differs.
        input_shape: input shape without batch; defaults to
            `(num_frames, crop_size, crop_size, 3)` for video models and
            `(crop_size, crop_size, 3)` for image models.
        logits: end in logits instead of softmax.
        **model_kwargs: further `NonLocalResNet` arguments (tiny test models:
            `depths`, `widths`, `stem_filters`, ...).

    Returns:
        A `keras.Model`.

    Example:

    >>> from keras_nonlocal.training import get_recipe
    >>> recipe = get_recipe("kinetics400_8x8").replace(num_frames=4, crop_size=32)
    >>> model = build_model("i3d_r50", classes=5, recipe=recipe,
    ...     depths=(1, 1, 1, 1), widths=(4, 4, 4, 4), stem_filters=4)
    >>> model.output_shape
    (None, 5)
    """
    if model_name not in list_models():
        raise ValueError(
            f"Unknown model name {model_name!r}. Available: {', '.join(list_models())}."
        )
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"`classes` must be an integer >= 1. Received: classes={classes!r}")
    video = not model_name.startswith(("resnet", "nl_resnet"))
    if input_shape is None:
        size = recipe.crop_size
        input_shape = (recipe.num_frames, size, size, 3) if video else (size, size, 3)
    kwargs = dict(
        input_shape=tuple(input_shape),
        dropout_rate=recipe.dropout_rate,
        zero_init_residual=recipe.zero_init_residual,
        classifier_activation=None if logits else "softmax",
    )
    if video:
        kwargs["input_setting"] = recipe.input_setting
    kwargs.update(model_kwargs)

    weights_file = None
    if weights is not None and os.fspath(weights).endswith(".weights.h5"):
        weights_file, weights = os.fspath(weights), None
        if not os.path.isfile(weights_file):
            raise ValueError(f"`weights` file not found. Received: weights={weights_file!r}")

    keep_head = weights is None or PRESET_CLASSES.get(os.fspath(weights)) in (None, classes)
    if keep_head:
        model = get_model(model_name, weights=weights, classes=classes, **kwargs)
    else:
        dropout = kwargs.pop("dropout_rate")
        activation = kwargs.pop("classifier_activation")
        backbone = get_model(
            model_name, weights=weights, include_top=False, pooling=None, **kwargs
        )
        outputs = classification_head(backbone.output, classes, activation, dropout)
        model = keras.Model(backbone.inputs, outputs, name=backbone.name)
    if weights_file is not None:
        model.load_weights(weights_file, skip_mismatch=True)
    if recipe.freeze_bn:
        freeze_batch_norm(model)
    return model
