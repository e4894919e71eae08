"""The tuners propose valid configurations; bad settings fail early."""

import keras_tuner
import pytest

from keras_nonlocal.tuning import ResolvedSpace
from keras_nonlocal.tuning import SearchSpace
from keras_nonlocal.tuning.tuners import make_tuner
from keras_nonlocal.tuning.tuners import parse_objective


class _SpaceOnly(keras_tuner.HyperModel):
    def __init__(self, depths=(2, 2, 2, 2)):
        super().__init__()
        self.resolved = ResolvedSpace(SearchSpace(), depths)
        self.initial_values = [{"nl_blocks": "0"}]

    def build(self, hp):
        self.resolved.declare(hp)


def drive(tuner, num, score):
    """Runs the oracle's loop with made-up results instead of training."""
    oracle = tuner.oracle
    trials = []
    for _ in range(num):
        trial = oracle.create_trial("tuner0")
        if trial.status != "RUNNING":
            break
        candidate = tuner.hypermodel.resolved.decode(trial.hyperparameters.values)
        oracle.update_trial(trial.trial_id, {"val_accuracy": score(candidate)})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
        trials.append((trial, candidate))
    return trials


@pytest.mark.parametrize("name", ["random", "bayesian", "hyperband"])
def test_tuners_start_with_the_baseline_and_propose_valid_configurations(tmp_path, name):
    hypermodel = _SpaceOnly()
    tuner = make_tuner(hypermodel, name, max_trials=6, max_epochs=4, directory=tmp_path,
                       project_name=name, initial_points=2, verbose=False)
    trials = drive(tuner, 6, lambda c: 0.5 + 0.1 * c.num_blocks)
    assert len(trials) == 6
    assert trials[0][1].blocks == "0"
    for trial, candidate in trials:
        assert candidate.blocks in hypermodel.resolved.blocks
        for stage, indices in candidate.placement.items():
            assert all(0 <= i < hypermodel.resolved.depth(stage) for i in indices)
    if name == "hyperband":
        assert all("tuner/epochs" in t.hyperparameters.values for t, _ in trials)


def test_grid_search_enumerates_a_small_space_once(tmp_path):
    class Small(_SpaceOnly):
        def __init__(self):
            super().__init__()
            self.resolved = ResolvedSpace(
                SearchSpace(blocks=("0", "1"), stages=("res4",), modes=("gaussian", "dot_product"),
                            attention_axes=("spacetime",), sub_sample=(True,)),
                (2, 2, 2, 2),
            )

    tuner = make_tuner(Small(), "grid", max_trials=None, directory=tmp_path, verbose=False)
    trials = drive(tuner, 20, lambda c: 0.5)
    labels = sorted((c.placement_label, c.mode or "") for _, c in trials)
    # baseline + 2 block indices x 2 modes, each once.
    assert labels == sorted([("none", ""), ("res4[0]", "dot_product"), ("res4[0]", "gaussian"),
                             ("res4[1]", "dot_product"), ("res4[1]", "gaussian")])


def test_unknown_tuner_and_bad_budgets_are_refused(tmp_path):
    hypermodel = _SpaceOnly()
    with pytest.raises(ValueError, match="Unknown tuner 'evolution'"):
        make_tuner(hypermodel, "evolution", directory=tmp_path)
    with pytest.raises(ValueError, match="max_trials"):
        make_tuner(hypermodel, "random", max_trials=0, directory=tmp_path)
    with pytest.raises(ValueError, match="max_epochs"):
        make_tuner(hypermodel, "hyperband", max_epochs=None, directory=tmp_path)
    with pytest.raises(ValueError, match="hyperband_factor"):
        make_tuner(hypermodel, "hyperband", max_epochs=4, hyperband_factor=1, directory=tmp_path)


def test_objectives():
    assert parse_objective("val_accuracy").direction == "max"
    assert parse_objective("val_loss").direction == "min"
    assert parse_objective("accuracy:min").direction == "min"
    with pytest.raises(ValueError, match="Unknown objective 'val_f1'"):
        parse_objective("val_f1")
    with pytest.raises(ValueError, match="direction"):
        parse_objective("val_loss:down")
