"""Search non-local block placement with keras-tuner.

Modules:
    long_range_digits: the built-in long-range task (no download).
    backbones: backbone sizes as data (`tiny`, `small`, `r50`, `r101`).
    search_space: the conditional hyperparameters (placement, count, variant).
    hypermodel: `NonLocalHyperModel`.
    tuners: random search, Bayesian optimisation, Hyperband, grid.
    inputs: built-in data or videos from a list file.
    leaderboard, plots: the results table and picture.
    distributed: keras-tuner's chief/worker mode.
    tune_command: `keras-nonlocal tune`.

keras-tuner, matplotlib and scikit-learn are optional dependencies
(`pip install keras-nonlocal[tune]`); they are imported by the modules
that need them.
"""

from keras_nonlocal.tuning.backbones import BACKBONES
from keras_nonlocal.tuning.backbones import Backbone
from keras_nonlocal.tuning.backbones import get_backbone
from keras_nonlocal.tuning.search_space import BLOCK_COUNTS
from keras_nonlocal.tuning.search_space import Candidate
from keras_nonlocal.tuning.search_space import ResolvedSpace
from keras_nonlocal.tuning.search_space import SearchSpace

_LAZY = {
    "NonLocalHyperModel": "keras_nonlocal.tuning.hypermodel",
    "make_tuner": "keras_nonlocal.tuning.tuners",
    "parse_objective": "keras_nonlocal.tuning.tuners",
    "read_trial_log": "keras_nonlocal.tuning.tuners",
    "TUNERS": "keras_nonlocal.tuning.tuners",
    "load_data": "keras_nonlocal.tuning.long_range_digits",
    "load_trials": "keras_nonlocal.tuning.leaderboard",
    "leaderboard_rows": "keras_nonlocal.tuning.leaderboard",
    "write_leaderboard": "keras_nonlocal.tuning.leaderboard",
    "plot_leaderboard": "keras_nonlocal.tuning.plots",
    "run_local_cluster": "keras_nonlocal.tuning.distributed",
}

__all__ = [
    "BACKBONES",
    "BLOCK_COUNTS",
    "Backbone",
    "Candidate",
    "ResolvedSpace",
    "SearchSpace",
    "get_backbone",
    *sorted(_LAZY),
]


def __getattr__(name):
    # keras-tuner is optional: import it only when its part is used.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'keras_nonlocal.tuning' has no attribute {name!r}")
