"""Named models, `keras.applications` style: thin wrappers over the zoo table.

Each wrapper is `get_model(<zoo name>, ...)` with the usual
`keras.applications` arguments spelled out; any other `NonLocalResNet`
argument (`input_setting`, `inflation`, `nonlocal_placement`,
`nonlocal_mode`, ...) passes through `**kwargs`.
"""

from keras_nonlocal.applications.registry import get_model

_DOC = """Instantiates the {title} architecture ({input}).

    Reference:
    - [Non-local Neural Networks](https://arxiv.org/abs/1711.07971) (CVPR 2018)

    {details}

    Args:
        include_top: whether to include the classifier `pred`.
        weights: `None` (random initialisation), {presets}or the path / URL
            of a weights file.
        input_tensor: optional Keras tensor to use as the model's input.
        input_shape: input shape without batch{shape_note}. With
            `include_top=False` any size may be `None`.
        pooling: with `include_top=False`: `None`, `"avg"` or `"max"`.
        classes: number of classes.
        classifier_activation: activation of the classifier (`None` for
            logits); only `None` or `"softmax"` with pretrained weights.
        name: model name.
        dropout_rate: dropout before the classifier.
        **kwargs: any other `NonLocalResNet` argument.

    Returns:
        A `keras.Model`.

    Example:

    >>> model = {fn}(weights=None)  # doctest: +SKIP
"""

_VIDEO_NOTE = (
    ", default `(frames, 224, 224, 3)` with the frames of the input setting: "
    "`input_setting=None` takes the setting of the checkpoint `weights` names, "
    "else `\"32x2\"` (paper, 32 frames); `\"8x8\"` has 8"
)
_IMAGE_NOTE = ", default `(224, 224, 3)`"


def _video_doc(fn, title, details, presets):
    return _DOC.format(
        fn=fn, title=title, input="videos `(batch, frames, height, width, 3)`",
        details=details, presets=presets, shape_note=_VIDEO_NOTE,
    )


def _image_doc(fn, title, details):
    return _DOC.format(
        fn=fn, title=title, input="images `(batch, height, width, 3)`",
        details=details, presets='`"imagenet"` (the official Caffe2 ResNet), ',
        shape_note=_IMAGE_NOTE,
    )


_K400 = ('`"kinetics400"` (official: the checkpoint of the input setting), an '
         'official checkpoint name, `"imagenet"` (2D init), ')
_IN = '`"imagenet"` (2D init), '
_C2D = "C2D: the ResNet with 1×k×k kernels; conv1 is 1×7×7."
_I3D = ("I3D: conv1 is 5×7×7; one block in two has a 3×1×1 kernel on its first "
        "1×1 convolution (`inflation=\"3x3x3\"`: on the 3×3).")
_NL = "Non-local blocks after res3 blocks 1, 3 and res4 blocks {res4} (official)."


def _wrapper(zoo_name, default_classes, default_dropout):
    def model_fn(include_top=True, weights=None, input_tensor=None, input_shape=None,
                 pooling=None, classes=default_classes, classifier_activation="softmax",
                 name=zoo_name, dropout_rate=default_dropout, **kwargs):
        return get_model(
            zoo_name, include_top=include_top, weights=weights, input_tensor=input_tensor,
            input_shape=input_shape, pooling=pooling, classes=classes,
            classifier_activation=classifier_activation, name=name,
            dropout_rate=dropout_rate, **kwargs,
        )
    return model_fn


def _named(fn_name, zoo_name, doc, video=True):
    fn = _wrapper(zoo_name, 400 if video else 1000, 0.5 if video else 0.0)
    fn.__name__ = fn.__qualname__ = fn_name
    fn.__doc__ = doc
    fn.__module__ = __name__
    return fn


C2D50 = _named("C2D50", "c2d_r50", _video_doc("C2D50", "C2D ResNet-50", _C2D, _K400))
C2D101 = _named("C2D101", "c2d_r101", _video_doc("C2D101", "C2D ResNet-101", _C2D, _IN))
NLC2D50 = _named("NLC2D50", "nl_c2d_r50", _video_doc(
    "NLC2D50", "non-local C2D ResNet-50", _C2D + " " + _NL.format(res4="1, 3, 5"), _K400))
NLC2D101 = _named("NLC2D101", "nl_c2d_r101", _video_doc(
    "NLC2D101", "non-local C2D ResNet-101", _C2D + " " + _NL.format(res4="6, 13, 20"), _IN))
I3D50 = _named("I3D50", "i3d_r50", _video_doc("I3D50", "I3D ResNet-50", _I3D, _K400))
I3D101 = _named("I3D101", "i3d_r101", _video_doc("I3D101", "I3D ResNet-101", _I3D, _IN))
NLI3D50 = _named("NLI3D50", "nl_i3d_r50", _video_doc(
    "NLI3D50", "non-local I3D ResNet-50", _I3D + " " + _NL.format(res4="1, 3, 5"), _K400))
NLI3D101 = _named("NLI3D101", "nl_i3d_r101", _video_doc(
    "NLI3D101", "non-local I3D ResNet-101", _I3D + " " + _NL.format(res4="6, 13, 20"), _IN))
NLResNet50 = _named("NLResNet50", "nl_resnet50", _image_doc(
    "NLResNet50", "non-local ResNet-50",
    "The official Caffe2 ResNet-50 with one non-local block before the last block "
    "of res4 (`nonlocal_placement=None` gives the plain ResNet)."), video=False)
NLResNet101 = _named("NLResNet101", "nl_resnet101", _image_doc(
    "NLResNet101", "non-local ResNet-101",
    "The official Caffe2 ResNet-101 with one non-local block before the last block "
    "of res4 (`nonlocal_placement=None` gives the plain ResNet)."), video=False)
