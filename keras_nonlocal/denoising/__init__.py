from keras_nonlocal.denoising.models import DENOISER_CONFIGS
from keras_nonlocal.denoising.models import DenoiserConfig
from keras_nonlocal.denoising.models import NLDenoiser
from keras_nonlocal.denoising.models import build_denoiser
