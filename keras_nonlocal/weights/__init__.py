"""Pretrained weights: download, cache, safe checkpoint reading, conversion.

The entry point is `load_weights(model, weights, ...)`, which every builder of
`keras_nonlocal.applications` calls for its `weights=` argument. The pieces:

- `presets`: every fact about the official files (names, models, input
  settings, layouts, accuracies, hosts), as one table.
- `sources`: the download hosts, with a mirror from the environment.
- `cache` / `download`: the cache under `$KERAS_HOME/models/keras_nonlocal`,
  atomic downloads with host fallback; no official SHA-256 exists, so each
  file's hash is recorded on first use and verified on every later use.
- `safe_pickle` / `checkpoint`: reading the official Python-2 pickles without
  executing anything.
- `mapping` / `inflation`: official blob <-> Keras weight, with verification.

The official checkpoints are released under CC-BY-NC 4.0; weights converted
from them inherit that licence.
"""

from keras_nonlocal.weights.cache import cache_root
from keras_nonlocal.weights.checkpoint import Checkpoint
from keras_nonlocal.weights.checkpoint import CheckpointFormatError
from keras_nonlocal.weights.checkpoint import read_checkpoint
from keras_nonlocal.weights.download import WeightsDownloadError
from keras_nonlocal.weights.inflation import inflate_kernel
from keras_nonlocal.weights.loading import WeightsIntegrityError
from keras_nonlocal.weights.loading import convert_checkpoint
from keras_nonlocal.weights.loading import fetch_official_checkpoint
from keras_nonlocal.weights.loading import load_weights
from keras_nonlocal.weights.loading import validate_weights_argument
from keras_nonlocal.weights.mapping import OFFICIAL_BN_EPSILON
from keras_nonlocal.weights.mapping import CheckpointMismatchError
from keras_nonlocal.weights.mapping import MappingReport
from keras_nonlocal.weights.mapping import NonLocalLayoutError
from keras_nonlocal.weights.mapping import apply_mapping
from keras_nonlocal.weights.mapping import plan_mapping
from keras_nonlocal.weights.mapping import verify as verify_mapping
from keras_nonlocal.weights.safe_pickle import UnsafePickleError
from keras_nonlocal.weights.safe_pickle import safe_load
from keras_nonlocal.weights.safe_pickle import safe_loads
from keras_nonlocal.weights.presets import CHECKPOINTS
from keras_nonlocal.weights.presets import OFFICIAL_CHECKPOINTS
from keras_nonlocal.weights.presets import PRESET_CLASSES
from keras_nonlocal.weights.presets import OfficialCheckpoint
from keras_nonlocal.weights.presets import official_checkpoint

__all__ = [
    "CHECKPOINTS",
    "Checkpoint",
    "CheckpointFormatError",
    "CheckpointMismatchError",
    "MappingReport",
    "NonLocalLayoutError",
    "OFFICIAL_BN_EPSILON",
    "OFFICIAL_CHECKPOINTS",
    "OfficialCheckpoint",
    "PRESET_CLASSES",
    "UnsafePickleError",
    "WeightsDownloadError",
    "WeightsIntegrityError",
    "apply_mapping",
    "cache_root",
    "convert_checkpoint",
    "fetch_official_checkpoint",
    "inflate_kernel",
    "load_weights",
    "official_checkpoint",
    "plan_mapping",
    "read_checkpoint",
    "safe_load",
    "safe_loads",
    "validate_weights_argument",
    "verify_mapping",
]
