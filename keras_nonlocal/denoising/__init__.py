"""Image denoising with non-local blocks: models, presets, training input and training.

Modules:
    models: `DenoiserConfig`, the named architectures (`DENOISER_CONFIGS`),
        `build_denoiser` / `NLDenoiser`.
    presets: `DENOISER_PRESETS` (trained models, their files and SHA-256) and
        `load_denoiser`.
    patches: random noisy/clean patches (tf.data on TensorFlow, a
        `keras.utils.PyDataset` elsewhere) and `load_images`.
    training: `train_denoiser` (resumable, TensorBoard, distribution).

Models take noisy images `(batch, H, W, C)` on the 0–255 scale and return the
denoised images on the same scale. Nothing here imports TensorFlow unless the
TensorFlow backend or the tf.data pipeline is used.
"""

from keras_nonlocal.denoising.models import DENOISER_CONFIGS
from keras_nonlocal.denoising.models import CropToReference
from keras_nonlocal.denoising.models import DenoiserConfig
from keras_nonlocal.denoising.models import NLDenoiser
from keras_nonlocal.denoising.models import PixelShuffle
from keras_nonlocal.denoising.models import PixelUnshuffle
from keras_nonlocal.denoising.models import Scale
from keras_nonlocal.denoising.models import build_denoiser
from keras_nonlocal.denoising.models import get_config
from keras_nonlocal.denoising.patches import PatchSequence
from keras_nonlocal.denoising.patches import load_images
from keras_nonlocal.denoising.patches import patch_dataset
from keras_nonlocal.denoising.patches import sample_batch
from keras_nonlocal.denoising.patches import tf_patch_dataset
from keras_nonlocal.denoising.presets import DENOISER_PRESETS
from keras_nonlocal.denoising.presets import load_denoiser
from keras_nonlocal.denoising.presets import preset_for_sigma
from keras_nonlocal.denoising.training import BLIND_SIGMA_RANGE
from keras_nonlocal.denoising.training import DenoiserTrainingRun
from keras_nonlocal.denoising.training import ValidationPSNR
from keras_nonlocal.denoising.training import train_denoiser

__all__ = [
    "BLIND_SIGMA_RANGE",
    "CropToReference",
    "DENOISER_CONFIGS",
    "DENOISER_PRESETS",
    "DenoiserConfig",
    "DenoiserTrainingRun",
    "NLDenoiser",
    "PatchSequence",
    "PixelShuffle",
    "PixelUnshuffle",
    "Scale",
    "ValidationPSNR",
    "build_denoiser",
    "get_config",
    "load_denoiser",
    "load_images",
    "patch_dataset",
    "preset_for_sigma",
    "sample_batch",
    "tf_patch_dataset",
    "train_denoiser",
]
