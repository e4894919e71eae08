"""The search space over non-local block placement, count and variant.

A configuration answers, in this order (each question only asked when the
previous answers make it meaningful, with keras-tuner conditional scopes):

| hyperparameter           | asked when                   | values                                      |
|--------------------------|------------------------------|---------------------------------------------|
| `nl_blocks`              | always                       | `"0"` (baseline), `"1"`, `"2"`, `"5"`, `"10"`, `"every_other"`, those that fit |
| `nl_stage`               | `nl_blocks == "1"`           | the allowed stages, e.g. `"res4"`            |
| `nl_index_res{s}`        | ... and `nl_stage == "res{s}"` | block indices `0 .. depth - 1` of that stage |
| `nl_stages_{n}`          | `nl_blocks == n` (2, 5, 10)   | runs of consecutive allowed stages that hold `n` blocks, e.g. `"res3+res4"` |
| `nl_align_{n}`           | ... and the run has spare blocks | `"late"` or `"early"`                     |
| `nl_stages_every_other`  | `nl_blocks == "every_other"` | runs of allowed stages, all of depth >= 2    |
| `nl_mode`                | `nl_blocks != "0"`           | the four pairwise functions                  |
| `nl_attention_axes`      | `nl_blocks != "0"`           | `"spacetime"`, `"space"`, `"time"`          |
| `nl_sub_sample`          | ... and axes attend over space | `True`, `False` (pooling keys over space; a no-op for `"time"`) |

`n` blocks over a run of stages are shared out in proportion to the stages'
depths (at least one per stage) and spread evenly inside each stage: `"late"`
ends on each stage's last block, `"early"` starts on its first. On ResNet-50,
5 blocks over res3+res4 "late" is the paper's res3 {1, 3} + res4 {1, 3, 5},
and 10 blocks is every block of res3 and res4. `"every_other"` puts a block
after blocks 1, 3, 5, ... of each stage of the run (the official rule).

So every sampled configuration is valid: no count larger than the stages can
hold, no block index outside its stage, no pairwise function on the
baseline, no sub-sampling switch where it would change nothing.
"""

import dataclasses
import math

from keras_nonlocal.layers import MODES

BLOCK_COUNTS = ("0", "1", "2", "5", "10", "every_other")
STAGES = ("res2", "res3", "res4", "res5")
ATTENTION_AXES = ("spacetime", "space", "time")
ALIGNMENTS = ("late", "early")
FIRST_STAGE = 2


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """Which values each question of the search may take.

    Args:
        blocks: block counts, from `BLOCK_COUNTS` (`"0"` is the baseline).
            `None` (default): every count the backbone's stages can hold.
        stages: stages that may get blocks, from `STAGES`. `None`
            (default): every stage that can hold one.
        modes: pairwise functions, from `keras_nonlocal.layers.MODES`.
        attention_axes: from `ATTENTION_AXES`.
        sub_sample: allowed values of sub-sampling, a tuple of booleans.

    Example:

    >>> space = SearchSpace(blocks=("0", "1"), modes=("embedded_gaussian",))
    >>> space.blocks
    ('0', '1')
    """

    blocks: tuple = None
    stages: tuple = None
    modes: tuple = tuple(MODES)
    attention_axes: tuple = ATTENTION_AXES
    sub_sample: tuple = (True, False)

    def __post_init__(self):
        for name, allowed in (
            ("blocks", BLOCK_COUNTS),
            ("stages", STAGES),
            ("modes", tuple(MODES)),
            ("attention_axes", ATTENTION_AXES),
            ("sub_sample", (True, False)),
        ):
            if getattr(self, name) is None and name in ("blocks", "stages"):
                continue
            values = tuple(getattr(self, name))
            if not values:
                raise ValueError(f"`{name}` must not be empty. Expected values from {allowed}.")
            bad = [v for v in values if v not in allowed]
            if bad or len(set(values)) != len(values):
                raise ValueError(
                    f"`{name}` must be distinct values from {allowed}. Received: {name}={values!r}"
                )
            # Keep the canonical order, so equal spaces compare equal.
            object.__setattr__(self, name, tuple(v for v in allowed if v in values))

    def to_config(self):
        """A JSON-friendly dict of the space.

        Returns:
            A dict of lists.
        """
        return {
            f.name: None if getattr(self, f.name) is None else list(getattr(self, f.name))
            for f in dataclasses.fields(self)
        }


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One configuration of the search, as the builder needs it.

    Args:
        blocks: the `nl_blocks` answer (`"0"`, `"1"`, ..., `"every_other"`).
        placement: `{stage number: (block indices, ...)}`, only stages with
            blocks.
        mode: pairwise function, or `None` for the baseline.
        attention_axes: `"spacetime"`, `"space"`, `"time"` or `None`.
        sub_sample: whether keys and values are pooled, or `None`.

    Example:

    >>> Candidate("1", {4: (0,)}, "gaussian", "spacetime", True).placement_label
    'res4[0]'
    """

    blocks: str
    placement: dict
    mode: str = None
    attention_axes: str = None
    sub_sample: bool = None

    @property
    def num_blocks(self):
        """Number of non-local blocks."""
        return sum(len(v) for v in self.placement.values())

    @property
    def stages(self):
        """Names of the stages holding blocks, e.g. `("res3", "res4")`."""
        return tuple(f"res{s}" for s in sorted(self.placement))

    @property
    def placement_label(self):
        """`"res3[1,3] res4[1,3,5]"`, or `"none"` for the baseline."""
        if not self.placement:
            return "none"
        return " ".join(
            f"res{s}[{','.join(str(i) for i in idx)}]" for s, idx in sorted(self.placement.items())
        )

    @property
    def variant_label(self):
        """`"embedded_gaussian spacetime sub"`, or `"baseline"`."""
        if not self.placement:
            return "baseline"
        sub = {True: " sub", False: "", None: ""}[self.sub_sample]
        return f"{self.mode} {self.attention_axes}{sub}"


def _allocate(count, depths):
    """Shares `count` blocks over stages of `depths`, proportionally, >= 1 each."""
    total = sum(depths)
    alloc = [1] * len(depths)
    for _ in range(count - len(depths)):
        gaps = [
            (count * d / total - a if a < d else -math.inf, -i) for i, (d, a) in enumerate(zip(depths, alloc))
        ]
        alloc[-max(gaps)[1]] += 1
    return alloc


def _spread(num, depth, align):
    if align == "late":
        return tuple((j + 1) * depth // num - 1 for j in range(num))
    return tuple(-(-j * depth // num) for j in range(num))


def _runs(stages):
    """Runs of consecutive entries, e.g. (3, 4, 5) -> (3,), (3, 4), (3, 4, 5), (4,), ..."""
    return [tuple(stages[i:j]) for i in range(len(stages)) for j in range(i + 1, len(stages) + 1)]


def _run_name(run):
    return "+".join(f"res{s}" for s in run)


def _parse_run(name):
    return tuple(int(part[3:]) for part in name.split("+"))


class ResolvedSpace:
    """A `SearchSpace` made concrete for one backbone.

    Works out which counts fit, which stage runs can hold each count, and
    declares the keras-tuner hyperparameters (`declare`).

    Args:
        space: a `SearchSpace`.
        depths: residual blocks per stage (res2 first).
        eligible_stages: stage numbers that can hold a block at all (e.g.
            those whose feature map is at least 2×2); default: all.

    Example:

    >>> resolved = ResolvedSpace(SearchSpace(), (2, 2, 2, 2))
    >>> resolved.blocks
    ('0', '1', '2', '5', 'every_other')
    """

    def __init__(self, space, depths, eligible_stages=None):
        self.space = space
        self.depths = tuple(depths)
        num_stages = len(self.depths)
        all_stages = tuple(range(FIRST_STAGE, FIRST_STAGE + num_stages))
        eligible = all_stages if eligible_stages is None else tuple(eligible_stages)
        if space.stages is None:
            self.stages = eligible
        else:
            wanted = tuple(int(name[3:]) for name in space.stages)
            bad = [f"res{s}" for s in wanted if s not in eligible]
            if bad:
                raise ValueError(
                    f"stages={list(space.stages)}: {bad} cannot hold a non-local block on "
                    f"this backbone (stages res{FIRST_STAGE}..res{FIRST_STAGE + num_stages - 1}; "
                    f"those that can: {[f'res{s}' for s in eligible]}, the others are missing "
                    "or have feature maps smaller than 2x2)."
                )
            self.stages = wanted
        explicit = space.blocks is not None
        wanted_blocks = space.blocks if explicit else BLOCK_COUNTS
        nonzero = [b for b in wanted_blocks if b != "0"]
        if nonzero and not self.stages:
            if explicit:
                raise ValueError(
                    f"blocks={list(wanted_blocks)} asks for non-local blocks, but no stage of "
                    "this backbone can hold one. Use blocks=('0',)."
                )
            nonzero = []
        runs = _runs(self.stages)
        self.runs = {}
        self.align_runs = {}
        for count in nonzero:
            if count == "1":
                continue
            if count == "every_other":
                fits = [r for r in runs if all(self.depth(s) >= 2 for s in r)]
            else:
                n = int(count)
                fits = [r for r in runs if len(r) <= n <= sum(self.depth(s) for s in r)]
            if not fits and not explicit:
                continue
            if not fits:
                capacity = sum(self.depth(s) for s in self.stages)
                raise ValueError(
                    f"blocks={count!r} does not fit: the allowed stages "
                    f"{[f'res{s}' for s in self.stages]} of a backbone with depths "
                    f"{self.depths} hold {capacity} blocks"
                    + (" and need depth >= 2 for 'every_other'" if count == "every_other" else "")
                    + ". Remove it from `blocks` or allow more stages."
                )
            self.runs[count] = [_run_name(r) for r in fits]
            if count != "every_other":
                self.align_runs[count] = [
                    _run_name(r) for r in fits
                    if self._multi_placement(int(count), r, "late") != self._multi_placement(int(count), r, "early")
                ]
        self.blocks = tuple(
            b for b in wanted_blocks if b == "0" or b == "1" or b in self.runs
        )
        if not self.blocks:
            raise ValueError("The search space is empty: no block count fits this backbone.")

    def depth(self, stage):
        """Residual blocks of a stage number."""
        return self.depths[stage - FIRST_STAGE]

    def _multi_placement(self, count, run, align):
        alloc = _allocate(count, [self.depth(s) for s in run])
        return {s: _spread(a, self.depth(s), align) for s, a in zip(run, alloc)}

    @property
    def baseline_values(self):
        """The hyperparameter values of the baseline, or `None` if excluded."""
        return {"nl_blocks": "0"} if "0" in self.blocks else None

    def declare(self, hp):
        """Declares the hyperparameters on `hp` and reads the configuration.

        Args:
            hp: a `keras_tuner.HyperParameters`.

        Returns:
            A `Candidate`.
        """
        # Every scope is entered on every call (keras-tuner discovers the
        # conditional hyperparameters that way); inactive ones read as None.
        blocks = hp.Choice("nl_blocks", list(self.blocks))
        placement = {}
        if "1" in self.blocks:
            with hp.conditional_scope("nl_blocks", ["1"]):
                stage = hp.Choice("nl_stage", [f"res{s}" for s in self.stages])
                for number in self.stages:
                    with hp.conditional_scope("nl_stage", [f"res{number}"]):
                        depth = self.depth(number)
                        index = hp.Choice(
                            f"nl_index_res{number}", list(range(depth)), default=max(depth - 2, 0)
                        )
                    if blocks == "1" and stage == f"res{number}":
                        placement = {number: (index,)}
        for count, runs in self.runs.items():
            with hp.conditional_scope("nl_blocks", [count]):
                run_name = hp.Choice(f"nl_stages_{count}", runs)
                align = "late"
                if self.align_runs.get(count):
                    with hp.conditional_scope(f"nl_stages_{count}", self.align_runs[count]):
                        align = hp.Choice(f"nl_align_{count}", list(ALIGNMENTS)) or "late"
            if blocks == count:
                run = _parse_run(run_name)
                if count == "every_other":
                    placement = {s: tuple(range(1, self.depth(s), 2)) for s in run}
                else:
                    placement = self._multi_placement(int(count), run, align)
        nonzero = [b for b in self.blocks if b != "0"]
        mode = axes = sub_sample = None
        if nonzero:
            with hp.conditional_scope("nl_blocks", nonzero):
                mode = hp.Choice("nl_mode", list(self.space.modes))
                axes = hp.Choice("nl_attention_axes", list(self.space.attention_axes))
                spatial = [a for a in self.space.attention_axes if a != "time"]
                if len(self.space.sub_sample) > 1 and spatial:
                    with hp.conditional_scope("nl_attention_axes", spatial):
                        sub_sample = hp.Boolean("nl_sub_sample", default=True)
                else:
                    sub_sample = self.space.sub_sample[0]
        if not placement:
            return Candidate("0", {})
        if axes == "time":
            sub_sample = None  # sub-sampling pools space only: nothing to switch
        return Candidate(blocks, placement, mode, axes, sub_sample)

    def decode(self, values):
        """The `Candidate` of recorded hyperparameter values.

        Args:
            values: a dict of hyperparameter values (e.g. a trial's
                `hyperparameters.values`).

        Returns:
            A `Candidate`.
        """
        import keras_tuner

        hp = keras_tuner.HyperParameters()
        hp.values = dict(values)
        return self.declare(hp)
