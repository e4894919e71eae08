"""The official training recipes, as data.

Every number comes from the official Caffe2 code,
`facebookresearch/video-nonlocal-net`: the solver settings from
`configs/DBG_kinetics_resnet_8gpu_c2d_nonlocal_400k.yaml` (and its `_affine_`
and `4gpu_..._300k` siblings), the clip length, stride and dropout from the
scripts that call them (`scripts/run_i3d_nlnet_400k_32f.sh`,
`scripts/run_i3d_nlnet_400k.sh`, `scripts/run_i3d_nlnet_affine_400k_128f.sh`,
`scripts/run_i3d_baseline_300k_4gpu.sh`), the defaults they do not override
from `lib/core/config.py`. A new recipe is a new row of `RECIPES`.
"""

import dataclasses
import math

DEFAULT_RECIPE = "kinetics400_32x2"


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A training recipe: solver, schedule, clips and regularisation.

    Steps are optimizer iterations (one global batch each), as in the official
    `SOLVER.MAX_ITER`; a `keras.Model.fit` "epoch" of the trainer is
    `checkpoint_every` steps.

    Args:
        name: the recipe's name.
        base_lr: learning rate of the first step of the schedule
            (`SOLVER.BASE_LR`), for `batch_size` clips per step.
        lr_step_sizes: length of each constant-rate stage, in steps
            (`SOLVER.STEP_SIZES`).
        lr_factors: learning rate of each stage relative to `base_lr`
            (`SOLVER.LRS`, policy `steps_with_relative_lrs`); one more entry
            than `lr_step_sizes` is allowed (the official configs list one
            that `max_steps` never reaches).
        max_steps: total training steps (`SOLVER.MAX_ITER`).
        momentum: SGD momentum (`SOLVER.MOMENTUM`).
        nesterov: Nesterov momentum (`SOLVER.NESTEROV`).
        scale_momentum: rescale the momentum buffer when the rate changes
            (`SOLVER.SCALE_MOMENTUM`); see `optimizer.MomentumSGD`.
        weight_decay: L2 coefficient added to the gradient of every weight
            that is not a BatchNorm scale/shift (`SOLVER.WEIGHT_DECAY`).
        bn_weight_decay: L2 coefficient of BatchNorm gamma/beta
            (`SOLVER.WEIGHT_DECAY_BN`: 0 in the Kinetics configs).
        warmup: linear warm-up on (`SOLVER.WARMUP.WARMUP_ON`; off in the
            Kinetics configs).
        warmup_start_lr: learning rate at step 0 of the warm-up.
        warmup_steps: warm-up length (`SOLVER.WARMUP.WARMUP_END_ITER`).
        batch_size: global batch, summed over all replicas
            (`TRAIN.BATCH_SIZE`).
        num_frames: clip length T (`TRAIN.VIDEO_LENGTH`).
        stride: temporal stride S (`TRAIN.SAMPLE_RATE`).
        crop_size: training crop (`TRAIN.CROP_SIZE`).
        scale_range: short-side scale jitter (`TRAIN.JITTER_SCALES`).
        dropout_rate: dropout before the classifier (`TRAIN.DROPOUT_RATE`).
        zero_init_residual: the last BN of each residual block starts with
            gamma 0 (`MODEL.BN_INIT_GAMMA: 0.0`); only matters for layers that
            pretrained weights do not cover.
        freeze_bn: every BatchNorm normalises with its moving statistics,
            which stay fixed, while its gamma and beta are still trained, as
            the official `AffineNd` trains `_s` and `_b` (`MODEL.USE_AFFINE`,
            the long-clip fine-tuning recipes); see
            `model_factory.freeze_batch_norm`.
        checkpoint_every: steps between backups and checkpoints
            (`CHECKPOINT.CHECKPOINT_PERIOD`).
        eval_every: steps between validation runs (`TRAIN.EVAL_PERIOD`).
        test_views: the test protocol, clips x crops (`TEST.NUM_TEST_CLIPS`
            30 with `USE_MULTI_CROP`: 10 clips x 3 crops).
        test_scale: short side of test frames (`TEST.SCALE`).
        input_setting: the model's stem setting (`"32x2"`, `"8x8"`,
            `"128x1"`, `"32x4"`) matching the clips.
        source: where the numbers come from.

    Example:

    >>> recipe = get_recipe("kinetics400_32x2")
    >>> recipe.base_lr, recipe.batch_size, recipe.max_steps
    (0.01, 64, 400000)
    >>> recipe.replace(batch_size=16).scaled_lr
    0.0025
    """

    name: str = DEFAULT_RECIPE
    base_lr: float = 0.01
    lr_step_sizes: tuple = (150000, 150000, 100000)
    lr_factors: tuple = (1.0, 0.1, 0.01, 0.001)
    max_steps: int = 400000
    momentum: float = 0.9
    nesterov: bool = True
    scale_momentum: bool = True
    weight_decay: float = 1e-4
    bn_weight_decay: float = 0.0
    warmup: bool = False
    warmup_start_lr: float = 0.001
    warmup_steps: int = 2000
    batch_size: int = 64
    num_frames: int = 32
    stride: int = 2
    crop_size: int = 224
    scale_range: tuple = (256, 320)
    dropout_rate: float = 0.5
    zero_init_residual: bool = True
    freeze_bn: bool = False
    checkpoint_every: int = 10000
    eval_every: int = 20000
    test_views: str = "10x3"
    test_scale: int = 256
    input_setting: str = "32x2"
    source: str = ""
    # The batch that `base_lr` was tuned for; `scaled_lr` keeps lr / batch
    # constant when `batch_size` changes (linear scaling: the official 4-GPU
    # and affine configs halve / quarter both).
    reference_batch_size: int = 64

    def __post_init__(self):
        object.__setattr__(self, "lr_step_sizes", tuple(int(s) for s in self.lr_step_sizes))
        object.__setattr__(self, "lr_factors", tuple(float(f) for f in self.lr_factors))
        object.__setattr__(self, "scale_range", tuple(int(s) for s in self.scale_range))
        _check_positive("base_lr", self.base_lr)
        _check_int("max_steps", self.max_steps)
        _check_int("batch_size", self.batch_size)
        _check_int("num_frames", self.num_frames)
        _check_int("stride", self.stride)
        _check_int("crop_size", self.crop_size)
        _check_int("checkpoint_every", self.checkpoint_every)
        _check_int("eval_every", self.eval_every)
        _check_int("reference_batch_size", self.reference_batch_size)
        if not self.lr_factors or len(self.lr_factors) not in (
            len(self.lr_step_sizes), len(self.lr_step_sizes) + 1
        ):
            raise ValueError(
                "`lr_factors` must give one factor per stage of `lr_step_sizes` "
                f"(optionally one more). Received: lr_step_sizes={self.lr_step_sizes}, "
                f"lr_factors={self.lr_factors}"
            )
        if any(s < 1 for s in self.lr_step_sizes):
            raise ValueError(
                f"`lr_step_sizes` must be positive. Received: lr_step_sizes={self.lr_step_sizes}"
            )
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"`momentum` must be in [0, 1). Received: momentum={self.momentum!r}")
        for name in ("weight_decay", "bn_weight_decay"):
            if getattr(self, name) < 0:
                raise ValueError(f"`{name}` must be >= 0. Received: {name}={getattr(self, name)!r}")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(
                f"`dropout_rate` must be in [0, 1). Received: dropout_rate={self.dropout_rate!r}"
            )
        if self.warmup:
            _check_int("warmup_steps", self.warmup_steps)
            _check_positive("warmup_start_lr", self.warmup_start_lr)
        if len(self.scale_range) != 2 or not 1 <= self.scale_range[0] <= self.scale_range[1]:
            raise ValueError(
                "`scale_range` must be a pair (min, max) with 1 <= min <= max. "
                f"Received: scale_range={self.scale_range}"
            )

    @property
    def lr_boundaries(self):
        """Steps at which the learning rate changes (cumulative step sizes)."""
        bounds, total = [], 0
        for size in self.lr_step_sizes:
            total += size
            bounds.append(total)
        return tuple(bounds)

    @property
    def scaled_lr(self):
        """`base_lr` scaled linearly to `batch_size` (`reference_batch_size` → `base_lr`)."""
        return self.base_lr * self.batch_size / self.reference_batch_size

    @property
    def epochs(self):
        """Number of `fit` epochs: `max_steps / checkpoint_every`, rounded up."""
        return math.ceil(self.max_steps / self.checkpoint_every)

    def replace(self, **changes):
        """A copy with some fields changed (and checked again).

        Args:
            **changes: field names and their new values.

        Returns:
            A new `Recipe`.
        """
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"Unknown recipe field(s) {unknown}. Fields: {field_names()}")
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """The recipe as a JSON-ready dict."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, config):
        """Builds a recipe from `to_dict()`'s output."""
        return cls(**config)

    @classmethod
    def from_args(cls, args):
        """A recipe from parsed command-line arguments.

        Starts from `RECIPES[args.recipe]` and overrides every field whose
        argument (same name, see `add_recipe_arguments`) is not `None`.

        Args:
            args: an `argparse.Namespace` (or any object with attributes).

        Returns:
            A `Recipe`.

        Example:

        >>> import argparse
        >>> parser = argparse.ArgumentParser()
        >>> _ = add_recipe_arguments(parser)
        >>> args = parser.parse_args(["--batch-size", "8", "--warmup"])
        >>> recipe = Recipe.from_args(args)
        >>> recipe.batch_size, recipe.warmup, recipe.base_lr
        (8, True, 0.01)
        """
        recipe = get_recipe(getattr(args, "recipe", None) or DEFAULT_RECIPE)
        changes = {}
        for field in dataclasses.fields(cls):
            if field.name in ("name", "source"):
                continue
            value = getattr(args, field.name, None)
            if value is not None:
                changes[field.name] = tuple(value) if isinstance(value, list) else value
        if getattr(args, "scale_lr", False) and "base_lr" not in changes:
            changes["base_lr"] = recipe.replace(**changes).scaled_lr
        return recipe.replace(**changes)


def _check_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"`{name}` must be a positive number. Received: {name}={value!r}")


def field_names():
    """Names of the `Recipe` fields."""
    return [f.name for f in dataclasses.fields(Recipe)]


_CONFIG_8GPU = "configs/DBG_kinetics_resnet_8gpu_c2d_nonlocal_400k.yaml"
_CONFIG_AFFINE = "configs/DBG_kinetics_resnet_8gpu_c2d_nonlocal_affine_400k.yaml"
_CONFIG_4GPU = "configs/DBG_kinetics_resnet_4gpu_c2d_nonlocal_300k.yaml"

RECIPES = {
    # The paper's main setting: 32 frames every 2, from ImageNet (8 GPUs x 8 clips).
    "kinetics400_32x2": Recipe(
        name="kinetics400_32x2",
        source=f"scripts/run_i3d_nlnet_400k_32f.sh + {_CONFIG_8GPU}",
    ),
    # The fast 8x8 setting: the 8-GPU config's own clip length and stride.
    "kinetics400_8x8": Recipe(
        name="kinetics400_8x8",
        num_frames=8,
        stride=8,
        input_setting="8x8",
        source=f"scripts/run_i3d_nlnet_400k.sh + {_CONFIG_8GPU}",
    ),
    # 8x8 on 4 GPUs: half the batch and rate, 300k steps, no scale jitter, no dropout.
    "kinetics400_8x8_4gpu": Recipe(
        name="kinetics400_8x8_4gpu",
        base_lr=0.005,
        lr_step_sizes=(150000, 100000, 50000),
        max_steps=300000,
        batch_size=32,
        reference_batch_size=32,
        num_frames=8,
        stride=8,
        scale_range=(256, 256),
        dropout_rate=0.0,
        input_setting="8x8",
        source=f"scripts/run_i3d_baseline_300k_4gpu.sh + {_CONFIG_4GPU}",
    ),
    # Long clips fine-tuned from a 32x2 model with frozen BN ("affine").
    "kinetics400_affine_32x4": Recipe(
        name="kinetics400_affine_32x4",
        base_lr=0.0025,
        batch_size=16,
        reference_batch_size=16,
        num_frames=32,
        stride=4,
        freeze_bn=True,
        input_setting="32x4",
        source=f"scripts/run_i3d_nlnet_affine_400k.sh + {_CONFIG_AFFINE}",
    ),
    "kinetics400_affine_128x1": Recipe(
        name="kinetics400_affine_128x1",
        base_lr=0.0025,
        batch_size=16,
        reference_batch_size=16,
        num_frames=128,
        stride=1,
        freeze_bn=True,
        input_setting="128x1",
        source=f"scripts/run_i3d_nlnet_affine_400k_128f.sh + {_CONFIG_AFFINE}",
    ),
}


def get_recipe(name):
    """A recipe by name.

    Args:
        name: a key of `RECIPES`, or a `Recipe` (returned as is).

    Returns:
        A `Recipe`.

    Example:

    >>> get_recipe("kinetics400_8x8").num_frames
    8
    """
    if isinstance(name, Recipe):
        return name
    if name not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}. Available: {', '.join(RECIPES)}.")
    return RECIPES[name]


def _bool(text):
    lowered = str(text).lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true/false, got {text!r}")


def add_recipe_arguments(parser):
    """Adds one flag per recipe field to an `argparse` parser.

    Every flag defaults to `None`, meaning "the recipe's value";
    `Recipe.from_args` applies the ones given.

    Args:
        parser: an `argparse.ArgumentParser` or argument group.
    """
    group = parser.add_argument_group("recipe (defaults: the official scripts)")
    group.add_argument("--recipe", default=DEFAULT_RECIPE, choices=sorted(RECIPES),
                       help=f"official recipe to start from (default: {DEFAULT_RECIPE})")
    group.add_argument("--base-lr", type=float, help="learning rate of the first stage (0.01)")
    group.add_argument("--scale-lr", action="store_true",
                       help="scale the recipe's base lr linearly with --batch-size")
    group.add_argument("--lr-step-sizes", type=int, nargs="+", metavar="STEPS",
                       help="length of each constant-lr stage (150000 150000 100000)")
    group.add_argument("--lr-factors", type=float, nargs="+", metavar="FACTOR",
                       help="lr of each stage relative to the base (1 0.1 0.01 0.001)")
    group.add_argument("--max-steps", type=int, help="training steps (400000)")
    group.add_argument("--momentum", type=float, help="SGD momentum (0.9)")
    group.add_argument("--nesterov", type=_bool, metavar="BOOL", help="Nesterov momentum (true)")
    group.add_argument("--scale-momentum", type=_bool, metavar="BOOL",
                       help="rescale momentum when the lr changes (true)")
    group.add_argument("--weight-decay", type=float, help="L2 on weights (1e-4)")
    group.add_argument("--bn-weight-decay", type=float, help="L2 on BN gamma/beta (0)")
    group.add_argument("--warmup", action="store_const", const=True, default=None,
                       help="linear warm-up from --warmup-start-lr (off)")
    group.add_argument("--warmup-start-lr", type=float, help="warm-up start lr (0.001)")
    group.add_argument("--warmup-steps", type=int, help="warm-up length (2000)")
    group.add_argument("--batch-size", type=int, help="global batch over all replicas (64)")
    group.add_argument("--num-frames", type=int, help="clip length T (32)")
    group.add_argument("--stride", type=int, help="temporal stride S (2)")
    group.add_argument("--crop-size", type=int, help="training crop (224)")
    group.add_argument("--scale-range", type=int, nargs=2, metavar=("MIN", "MAX"),
                       help="short-side scale jitter (256 320)")
    group.add_argument("--dropout-rate", type=float, help="dropout before the classifier (0.5)")
    group.add_argument("--zero-init-residual", type=_bool, metavar="BOOL",
                       help="last BN of each block starts at gamma 0 (true)")
    group.add_argument("--freeze-bn", action="store_const", const=True, default=None,
                       help="frozen BN statistics, trained gamma/beta (the affine recipes)")
    group.add_argument("--checkpoint-every", type=int, help="steps between backups/checkpoints (10000)")
    group.add_argument("--eval-every", type=int, help="steps between validations (20000)")
    group.add_argument("--input-setting", help="model stem setting: 32x2, 8x8, 128x1, 32x4")
    return group
