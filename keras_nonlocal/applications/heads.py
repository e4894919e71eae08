"""Heads: the Kinetics/ImageNet classifier (`pred`) and feature pooling."""

import keras


def _global_pool(x, kind, name):
    video = len(x.shape) == 5
    if kind == "avg":
        layer = keras.layers.GlobalAveragePooling3D if video else keras.layers.GlobalAveragePooling2D
    else:
        layer = keras.layers.GlobalMaxPooling3D if video else keras.layers.GlobalMaxPooling2D
    return layer(name=name)(x)


def classification_head(x, classes, classifier_activation="softmax", dropout_rate=0.0):
    """The official head: `pool5` average pooling, dropout, FC `pred`.

    The official `pool5` averages a `(T', 7, 7)` window, i.e. the whole res5
    output at the training size; a global average gives the same result there
    and also serves other input sizes. The classifier activation runs in
    float32 so that mixed precision keeps the probabilities accurate.

    Args:
        x: res5 output.
        classes: number of classes.
        classifier_activation: activation of the classifier (name, callable or
            `None`).
        dropout_rate: dropout before `pred` (0.5 in the official Kinetics
            recipe).

    Returns:
        The class scores, `(B, classes)`.
    """
    x = _global_pool(x, "avg", "pool5")
    if dropout_rate:
        x = keras.layers.Dropout(dropout_rate, name="pool5_dropout")(x)
    x = keras.layers.Dense(
        classes,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
        bias_initializer="zeros",
        name="pred",
    )(x)
    return keras.layers.Activation(
        classifier_activation or "linear", dtype="float32", name="pred_activation"
    )(x)


def pooling_head(x, pooling):
    """Feature pooling for `include_top=False`.

    Args:
        x: res5 output.
        pooling: `None` (return the 5-D/4-D feature map), `"avg"` or `"max"`.

    Returns:
        The pooled features.
    """
    if pooling is None:
        return x
    return _global_pool(x, pooling, f"{pooling}_pool")
