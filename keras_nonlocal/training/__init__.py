"""Training and evaluation: the paper's recipe, distribution, multi-view testing.

Modules:
    recipe: the official solver / schedule / clip settings as a dataclass.
    schedule: step learning rate with linear warm-up.
    optimizer: SGD with momentum and the official L2 weight decay.
    strategy: `tf.distribute` strategy by name (`default`, `mirrored`,
        `multi_worker`).
    model_factory: zoo models ready to train or fine-tune with a new head.
    trainer: `train`, with backups every checkpoint period, checkpoints,
        TensorBoard and CSV logs.
    evaluation: multi-view scores to top-1/top-5, per-class accuracy, a
        confusion matrix PNG and a JSON report.
"""

from keras_nonlocal.training.callbacks import LearningRateLogger
from keras_nonlocal.training.callbacks import StepRecorder
from keras_nonlocal.training.callbacks import StopAtStep
from keras_nonlocal.training.callbacks import read_events
from keras_nonlocal.training.evaluation import EvaluationReport
from keras_nonlocal.training.evaluation import confusion_matrix
from keras_nonlocal.training.evaluation import evaluate
from keras_nonlocal.training.evaluation import plot_confusion_matrix
from keras_nonlocal.training.evaluation import score_videos
from keras_nonlocal.training.evaluation import summarize_scores
from keras_nonlocal.training.model_factory import build_model
from keras_nonlocal.training.model_factory import freeze_batch_norm
from keras_nonlocal.training.optimizer import MomentumSGD
from keras_nonlocal.training.optimizer import build_optimizer
from keras_nonlocal.training.recipe import DEFAULT_RECIPE
from keras_nonlocal.training.recipe import RECIPES
from keras_nonlocal.training.recipe import Recipe
from keras_nonlocal.training.recipe import add_recipe_arguments
from keras_nonlocal.training.recipe import get_recipe
from keras_nonlocal.training.schedule import StepWarmupSchedule
from keras_nonlocal.training.strategy import STRATEGIES
from keras_nonlocal.training.strategy import get_strategy
from keras_nonlocal.training.strategy import is_chief
from keras_nonlocal.training.strategy import worker_info
from keras_nonlocal.training.trainer import TrainingRun
from keras_nonlocal.training.trainer import compile_model
from keras_nonlocal.training.trainer import train

__all__ = [
    "DEFAULT_RECIPE",
    "EvaluationReport",
    "LearningRateLogger",
    "MomentumSGD",
    "RECIPES",
    "Recipe",
    "STRATEGIES",
    "StepRecorder",
    "StepWarmupSchedule",
    "StopAtStep",
    "TrainingRun",
    "add_recipe_arguments",
    "build_model",
    "build_optimizer",
    "compile_model",
    "confusion_matrix",
    "evaluate",
    "freeze_batch_norm",
    "get_recipe",
    "get_strategy",
    "is_chief",
    "plot_confusion_matrix",
    "read_events",
    "score_videos",
    "summarize_scores",
    "train",
    "worker_info",
]
