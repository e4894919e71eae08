"""The model zoo: C2D / I3D / non-local ResNets for video, NL-ResNets for images.

One general builder (`NonLocalResNet`), named `keras.applications`-style
wrappers (`NLI3D50`, ...), a registry (`get_model`, `list_models`), the
official input normalisation (`preprocess_input`) and Kinetics-400 decoding
(`decode_predictions`).
"""

from keras_nonlocal.applications.builder import NonLocalResNet
from keras_nonlocal.applications.input_settings import INPUT_SETTINGS
from keras_nonlocal.applications.input_settings import InputSetting
from keras_nonlocal.applications.kinetics import decode_predictions
from keras_nonlocal.applications.kinetics import kinetics400_class_names
from keras_nonlocal.applications.models import C2D50
from keras_nonlocal.applications.models import C2D101
from keras_nonlocal.applications.models import I3D50
from keras_nonlocal.applications.models import I3D101
from keras_nonlocal.applications.models import NLC2D50
from keras_nonlocal.applications.models import NLC2D101
from keras_nonlocal.applications.models import NLI3D50
from keras_nonlocal.applications.models import NLI3D101
from keras_nonlocal.applications.models import NLResNet50
from keras_nonlocal.applications.models import NLResNet101
from keras_nonlocal.applications.placement import PLACEMENT_PRESETS
from keras_nonlocal.applications.placement import resolve_placement
from keras_nonlocal.applications.preprocessing import preprocess_input
from keras_nonlocal.applications.registry import MODEL_CONFIGS
from keras_nonlocal.applications.registry import get_model
from keras_nonlocal.applications.registry import list_models
from keras_nonlocal.applications.temporal import TEMPORAL_PATTERNS
from keras_nonlocal.applications.temporal import TemporalPattern

__all__ = [
    "C2D50",
    "C2D101",
    "I3D50",
    "I3D101",
    "INPUT_SETTINGS",
    "InputSetting",
    "MODEL_CONFIGS",
    "NLC2D50",
    "NLC2D101",
    "NLI3D50",
    "NLI3D101",
    "NLResNet50",
    "NLResNet101",
    "NonLocalResNet",
    "PLACEMENT_PRESETS",
    "TEMPORAL_PATTERNS",
    "TemporalPattern",
    "decode_predictions",
    "get_model",
    "kinetics400_class_names",
    "list_models",
    "preprocess_input",
    "resolve_placement",
]
