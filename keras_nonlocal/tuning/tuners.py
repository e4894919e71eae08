"""The tuners: random search, Bayesian optimisation, Hyperband, grid, as data.

Each tuner is keras-tuner's own oracle and tuner, with three additions:

- reference configurations first: the hypermodel's `initial_values` (the
  baseline and the paper's single block) are the first candidates of random
  search, of Bayesian optimisation's initial points and of Hyperband's first
  bracket, so every leaderboard has them;
- the search space is discovered by declaring hyperparameters, without
  building one model per conditional branch;
- a trial log: one JSON line per trial start and end (`trial_log.jsonl` in the
  project folder), written by whichever process runs the trial, so a resumed
  or distributed search can be checked for repeated trials.

`overwrite=False` (the default) reloads a search from `directory/project_name`:
finished trials are kept and not run again; a trial that was running when the
process stopped is run again.
"""

import contextlib
import json
import os
import time

import keras_tuner
from keras_tuner.oracles import BayesianOptimizationOracle
from keras_tuner.oracles import GridSearchOracle
from keras_tuner.oracles import HyperbandOracle
from keras_tuner.oracles import RandomSearchOracle

TRIAL_LOG = "trial_log.jsonl"

# --tuner name -> one-line description.
TUNERS = {
    "random": "random search over the space (keras_tuner.RandomSearch)",
    "bayesian": "Gaussian-process Bayesian optimisation (keras_tuner.BayesianOptimization)",
    "hyperband": "Hyperband: many short trials, the best trained longer (keras_tuner.Hyperband)",
    "grid": "every configuration of the space in order (keras_tuner.GridSearch)",
}


def _same_values(wanted, values):
    return all(values.get(k) == v for k, v in wanted.items()) and values.get("nl_blocks") is not None


class _InitialValuesOracle:
    """Oracle mixin: hands out `initial_values` before sampled values.

    Through the oracle's public `populate_space`: the oracle proposes as
    usual (keeping its own bookkeeping: Hyperband's brackets and epochs,
    Bayesian optimisation's count of initial points), and while a reference
    configuration has no trial yet it takes the place of a newly sampled
    one. Hyperband's promotions (values carrying `tuner/trial_id`) are kept.
    """

    initial_values = ()

    def populate_space(self, trial_id):
        result = super().populate_space(trial_id)
        values = result.get("values")
        # keras-tuner's statuses are strings (`TrialStatus.RUNNING == "RUNNING"`).
        if result.get("status") != "RUNNING" or values is None or "tuner/trial_id" in values:
            return result
        for wanted in self.initial_values:
            if not any(_same_values(wanted, t.hyperparameters.values) for t in self.trials.values()):
                # Hyperband's own `tuner/...` entries (epochs, bracket, round) stay.
                tuner_values = {k: v for k, v in values.items() if k.startswith("tuner/")}
                return dict(result, values={**dict(wanted), **tuner_values})
        return result


class _RandomOracle(_InitialValuesOracle, RandomSearchOracle):
    pass


class _BayesianOracle(_InitialValuesOracle, BayesianOptimizationOracle):
    pass


class _HyperbandOracle(_InitialValuesOracle, HyperbandOracle):
    def __init__(self, *args, max_trials=None, **kwargs):
        super().__init__(*args, **kwargs)
        # HyperbandOracle takes no `max_trials`; the Oracle attribute is honoured.
        self.max_trials = max_trials


class _SearchMixin:
    """Tuner mixin: the trial log and one line per finished trial."""

    def _log(self, event, trial):
        record = {
            "event": event,
            "trial_id": trial.trial_id,
            "tuner_id": self.tuner_id,
            "pid": os.getpid(),
            "time": time.time(),
            "status": str(getattr(trial, "status", "")),
        }
        path = os.path.join(self.project_dir, TRIAL_LOG)
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def on_trial_begin(self, trial):
        self._log("begin", trial)
        super().on_trial_begin(trial)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self._log("end", trial)
        if getattr(self, "print_trials", False):
            self._print_trial(trial)

    def _print_trial(self, trial):
        describe = getattr(self.hypermodel, "resolved", None)
        values = trial.hyperparameters.values
        label = str(values)
        if describe is not None:
            candidate = describe.decode(values)
            label = f"{candidate.placement_label}, {candidate.variant_label}"
        objective = self.oracle.objective.name
        try:
            finished = self.oracle.get_trial(trial.trial_id)
        except Exception:  # noqa: BLE001 - reporting must not stop the search
            finished = trial
        metrics = finished.metrics
        score = metrics.get_best_value(objective) if metrics.exists(objective) else None
        seconds = ""
        if metrics.exists("fit_seconds"):
            seconds = f" ({metrics.get_last_value('fit_seconds'):.0f} s)"
        shown = "failed" if score is None else f"{objective} {score:.3f}"
        print(f"[{self.tuner_id}] trial {trial.trial_id}: {label}: {shown}{seconds}", flush=True)


class _Tuner(_SearchMixin, keras_tuner.Tuner):
    pass


class _HyperbandTuner(_SearchMixin, keras_tuner.Hyperband):
    """`keras_tuner.Hyperband` (epochs per round, weights carried to the next
    round) on a given oracle.

    `Hyperband.__init__` takes no oracle: it builds a `HyperbandOracle` and
    passes it to `Tuner.__init__`, and does nothing else (keras-tuner 1.4.0 to
    1.4.8). Ours (reference configurations first, `max_trials`) goes to
    `Tuner.__init__` directly. This skips a parent constructor because
    keras-tuner has no public way to give a built-in tuner its oracle (no
    upstream issue asks for one yet); `tests/tuning/test_tuners.py` fails,
    naming this class, when `Hyperband.__init__` starts doing more.
    """

    def __init__(self, oracle, hypermodel, **kwargs):
        keras_tuner.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)


def parse_objective(objective):
    """Turns `"val_accuracy"` or `"val_loss:min"` into a `keras_tuner.Objective`.

    Args:
        objective: a metric name the model reports (`"val_accuracy"`,
            `"val_loss"`, `"accuracy"`, `"loss"`), optionally followed by
            `":max"` or `":min"`.

    Returns:
        A `keras_tuner.Objective`.

    Example:

    >>> parse_objective("val_loss").direction
    'min'
    """
    known = {"val_accuracy": "max", "accuracy": "max", "val_loss": "min", "loss": "min"}
    name, _, direction = str(objective).partition(":")
    if name not in known:
        raise ValueError(
            f"Unknown objective {objective!r}. Expected one of {sorted(known)}, optionally "
            "with ':max' or ':min' (e.g. 'val_accuracy:max')."
        )
    direction = direction or known[name]
    if direction not in ("max", "min"):
        raise ValueError(
            f"The objective's direction must be 'max' or 'min'. Received: {objective!r}"
        )
    return keras_tuner.Objective(name, direction)


def _check_positive(name, value, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1. Received: {name}={value!r}")


def make_tuner(
    hypermodel,
    tuner="random",
    objective="val_accuracy",
    max_trials=6,
    max_epochs=None,
    directory="results/tune",
    project_name="nonlocal_search",
    overwrite=False,
    seed=0,
    hyperband_factor=3,
    initial_points=None,
    executions_per_trial=1,
    initial_values=None,
    verbose=True,
):
    """Builds a keras-tuner tuner over a `NonLocalHyperModel`.

    Args:
        hypermodel: a `NonLocalHyperModel` (or any `keras_tuner.HyperModel`).
        tuner: `"random"`, `"bayesian"`, `"hyperband"` or `"grid"`.
        objective: see `parse_objective`, or a `keras_tuner.Objective`.
        max_trials: most trials of the search in total (a resumed search
            counts the trials it already has); `None` lets Hyperband and grid
            search run their whole schedule.
        max_epochs: Hyperband's most epochs per configuration (required for
            `"hyperband"`, ignored otherwise).
        directory: results folder.
        project_name: subfolder of `directory` for this search.
        overwrite: `False` resumes a search found in the folder; `True`
            deletes it first.
        seed: seed of the oracle.
        hyperband_factor: Hyperband's reduction factor (>= 2).
        initial_points: random points before Bayesian optimisation fits its
            Gaussian process (default: 3).
        executions_per_trial: models trained per trial (averaged).
        initial_values: configurations tried first; default: the
            hypermodel's `initial_values` (ignored by grid search).
        verbose: print one line per finished trial (placement, variant,
            objective, time).

    Returns:
        A `keras_tuner.Tuner`; call `search(x, y, validation_data=...,
        epochs=...)`.

    Example:

    >>> tuner = make_tuner(NonLocalHyperModel("tiny"), "random", max_trials=3)  # doctest: +SKIP
    >>> tuner.search(x, y, validation_data=(x_val, y_val), epochs=2)  # doctest: +SKIP
    """
    if tuner not in TUNERS:
        raise ValueError(f"Unknown tuner {tuner!r}. Expected one of {', '.join(TUNERS)}.")
    objective = objective if isinstance(objective, keras_tuner.Objective) else parse_objective(objective)
    _check_positive("max_trials", max_trials, allow_none=tuner in ("hyperband", "grid"))
    _check_positive("executions_per_trial", executions_per_trial)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"`seed` must be an integer. Received: seed={seed!r}")
    common = dict(
        objective=objective,
        seed=seed + 1,  # keras-tuner treats a seed of 0 as "no seed"
        max_consecutive_failed_trials=3,
    )
    if tuner == "random":
        oracle = _RandomOracle(max_trials=max_trials, **common)
    elif tuner == "bayesian":
        _check_positive("initial_points", initial_points, allow_none=True)
        oracle = _BayesianOracle(max_trials=max_trials, num_initial_points=initial_points or 3, **common)
    elif tuner == "hyperband":
        _check_positive("max_epochs", max_epochs)
        if isinstance(hyperband_factor, bool) or not isinstance(hyperband_factor, int) or hyperband_factor < 2:
            raise ValueError(
                f"`hyperband_factor` must be an integer >= 2. Received: hyperband_factor={hyperband_factor!r}"
            )
        oracle = _HyperbandOracle(
            max_epochs=max_epochs, factor=hyperband_factor, max_trials=max_trials, **common
        )
    else:
        oracle = GridSearchOracle(max_trials=max_trials, **common)
    if tuner != "grid":
        if initial_values is None:
            initial_values = getattr(hypermodel, "initial_values", ())
        oracle.initial_values = [dict(v) for v in initial_values]
    cls = _HyperbandTuner if tuner == "hyperband" else _Tuner
    # The tuner discovers the search space in its constructor, building the
    # hypermodel once per conditional branch; declaring the hyperparameters
    # is enough there (`NonLocalHyperModel.declaring_only`).
    declaring_only = getattr(hypermodel, "declaring_only", contextlib.nullcontext)
    with declaring_only():
        result = cls(
            oracle=oracle,
            hypermodel=hypermodel,
            directory=os.fspath(directory),
            project_name=project_name,
            overwrite=overwrite,
            executions_per_trial=executions_per_trial,
        )
    # keras-tuner's own display follows `search(verbose=...)`; ours is one
    # line per trial.
    result.print_trials = bool(verbose)
    return result


def read_trial_log(project_dir):
    """Reads the trial log of a search.

    Args:
        project_dir: `directory/project_name` of the search.

    Returns:
        A list of dicts (`event`, `trial_id`, `tuner_id`, `pid`, `time`,
        `status`), in the order written; empty if there is no log.

    Example:

    >>> [r["trial_id"] for r in read_trial_log("results/tune/nonlocal_search")
    ...  if r["event"] == "end"]  # doctest: +SKIP
    ['0', '1']
    """
    path = os.path.join(os.fspath(project_dir), TRIAL_LOG)
    if not os.path.exists(path):
        return []
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line cut short by a killed process
    return records
