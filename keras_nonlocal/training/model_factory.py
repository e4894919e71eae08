"""Zoo models ready to train: the recipe's clips, dropout, BN, and a new head.

Fine-tuning from `weights="kinetics400"` or `"imagenet"` onto another label
set loads the pretrained backbone (`include_top=False`) and puts a fresh
official head on it (`pool5` average, dropout, `pred` ~ N(0, 0.01)). When the
class count matches the preset (400 for Kinetics) the pretrained head is kept.
"""

import functools
import inspect
import os

import keras

from keras_nonlocal.applications import get_model
from keras_nonlocal.applications import list_models
from keras_nonlocal.applications.heads import classification_head
from keras_nonlocal.weights import PRESET_CLASSES
from keras_nonlocal.layers import NonLocalBlock


def freeze_batch_norm(model):
    """Fixes the BatchNorm statistics of a model; gamma and beta keep training.

    The official "affine" fine-tuning of the long clips (`MODEL.USE_AFFINE`,
    `AffineNd` in `lib/models/model_builder_video.py`) replaces every BN by a
    per-channel `x * _s + _b` whose `_s` and `_b` are trained parameters:
    only the statistics are frozen. Here every `BatchNormalization` keeps
    `trainable=True` (gamma and beta stay in `model.trainable_weights` and
    get gradients) and always runs in inference mode: it normalises with its
    moving mean and variance and never updates them, whatever `training`
    the model is called with. A `NonLocalBlock` is run in inference mode
    too, since its `training` argument only decides whether its output
    BatchNorm uses batch statistics.

    (Setting `trainable=False` instead would also put a Keras BatchNorm in
    inference mode, but it freezes gamma and beta with the statistics.)

    The change lives on the layer objects and is not saved with the model:
    call this again after rebuilding or reloading one (`build_model` and
    `train` do when `recipe.freeze_bn` is set). Calling it twice is harmless.

    Args:
        model: a `keras.Model`.

    Returns:
        The number of BatchNormalization layers whose statistics are frozen.

    Example:

    >>> import keras
    >>> inputs = keras.Input((4,))
    >>> model = keras.Model(inputs, keras.layers.BatchNormalization()(inputs))
    >>> freeze_batch_norm(model)
    1
    >>> len(model.trainable_weights)  # gamma and beta
    2
    """
    count = 0
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            _always_inference(layer)
            count += 1
        elif isinstance(layer, NonLocalBlock):
            _always_inference(layer)
    return count


def _always_inference(layer):
    """Makes `layer.call` ignore its `training` argument and use `False`."""
    if getattr(layer, "_keras_nonlocal_frozen_statistics", False):
        return
    call = layer.call
    if "training" not in inspect.signature(call).parameters:
        raise TypeError(
            f"Cannot freeze the statistics of layer {layer.name!r}: its `call` has no "
            "`training` argument."
        )

    @functools.wraps(call)
    def inference_call(*args, **kwargs):
        # Keras passes `training` by keyword (it refuses it positionally).
        kwargs["training"] = False
        return call(*args, **kwargs)

    layer.call = inference_call
    layer._keras_nonlocal_frozen_statistics = True


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
