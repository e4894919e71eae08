"""Every sampled configuration is valid, and builds the model it describes."""

import keras
import keras_tuner
import pytest

from keras_nonlocal.layers import NonLocalBlock
from keras_nonlocal.tuning import ResolvedSpace
from keras_nonlocal.tuning import SearchSpace
from keras_nonlocal.tuning.hypermodel import NonLocalHyperModel
from keras_nonlocal.tuning.tuners import make_tuner

R50 = (3, 4, 6, 3)


class _SpaceOnly(keras_tuner.HyperModel):
    """Declares a resolved space without building models (for big backbones)."""

    def __init__(self, resolved):
        super().__init__()
        self.resolved = resolved
        self.initial_values = ()

    def build(self, hp):
        self.resolved.declare(hp)


def sample(hypermodel, directory, num):
    """`num` configurations drawn by keras-tuner's random oracle."""
    tuner = make_tuner(hypermodel, "random", max_trials=num, directory=directory,
                       project_name="space", seed=7, verbose=False)
    values = []
    for i in range(num):
        trial = tuner.oracle.create_trial(f"sampler{i}")
        if trial.status != "RUNNING":
            break
        values.append(dict(trial.hyperparameters.values))
    return values


def assert_valid(candidate, resolved):
    depths = {s: resolved.depth(s) for s in resolved.stages}
    assert candidate.blocks in resolved.blocks
    for stage, indices in candidate.placement.items():
        assert stage in resolved.stages
        assert indices and all(0 <= i < depths[stage] for i in indices)
        assert len(set(indices)) == len(indices)
    if candidate.blocks == "0":
        assert candidate.num_blocks == 0 and candidate.mode is None
        return
    if candidate.blocks == "every_other":
        assert all(idx == tuple(range(1, depths[s], 2)) for s, idx in candidate.placement.items())
    else:
        assert candidate.num_blocks == int(candidate.blocks)
    stages = sorted(candidate.placement)
    assert stages == list(range(stages[0], stages[-1] + 1)), "stages form one run"
    assert candidate.mode in resolved.space.modes
    assert candidate.attention_axes in resolved.space.attention_axes
    if candidate.attention_axes == "time":
        assert candidate.sub_sample is None
    else:
        assert candidate.sub_sample in resolved.space.sub_sample


def test_r50_samples_obey_the_constraints(tmp_path):
    resolved = ResolvedSpace(SearchSpace(), R50)
    assert resolved.blocks == ("0", "1", "2", "5", "10", "every_other")
    samples = sample(_SpaceOnly(resolved), tmp_path, 300)
    assert len(samples) >= 250
    counts = set()
    for values in samples:
        candidate = resolved.decode(values)
        assert_valid(candidate, resolved)
        counts.add(candidate.blocks)
        # No hyperparameter of an unasked question is recorded.
        if candidate.blocks == "0":
            assert set(values) == {"nl_blocks"}
    assert counts == set(resolved.blocks)


def test_paper_placements_are_in_the_r50_space():
    resolved = ResolvedSpace(SearchSpace(), R50)
    five = resolved.decode({"nl_blocks": "5", "nl_stages_5": "res3+res4", "nl_align_5": "late",
                            "nl_mode": "embedded_gaussian", "nl_attention_axes": "spacetime"})
    assert five.placement == {3: (1, 3), 4: (1, 3, 5)}
    ten = resolved.decode({"nl_blocks": "10", "nl_stages_10": "res3+res4",
                           "nl_mode": "embedded_gaussian", "nl_attention_axes": "spacetime"})
    assert ten.placement == {3: (0, 1, 2, 3), 4: (0, 1, 2, 3, 4, 5)}


@pytest.fixture(scope="module")
def tiny():
    return NonLocalHyperModel("tiny", num_classes=2)


def test_tiny_samples_build_models_with_the_sampled_blocks(tiny, tmp_path):
    samples = sample(tiny, tmp_path, 40)
    seen = set()
    built = 0
    for values in samples:
        candidate = tiny.resolved.decode(values)
        assert_valid(candidate, tiny.resolved)
        key = (candidate.placement_label, candidate.attention_axes)
        if key in seen or built >= 12:
            continue
        seen.add(key)
        hp = keras_tuner.HyperParameters()
        hp.values = dict(values)
        model = tiny.build(hp)
        blocks = [layer for layer in model.layers if isinstance(layer, NonLocalBlock)]
        assert len(blocks) == candidate.num_blocks
        expected = {f"nonlocal_conv{s}_{i}" for s, idx in candidate.placement.items() for i in idx}
        assert {b.name for b in blocks} == expected
        for block in blocks:
            assert block.mode == candidate.mode
            assert block.attention_axes == candidate.attention_axes
            assert block.sub_sample == bool(candidate.sub_sample)
        built += 1
        keras.backend.clear_session()
    assert built >= 8


def test_counts_that_do_not_fit_are_left_out_or_refused():
    assert "10" not in ResolvedSpace(SearchSpace(), (2, 2, 2, 2)).blocks
    with pytest.raises(ValueError, match="blocks='10' does not fit"):
        ResolvedSpace(SearchSpace(blocks=("10",)), (2, 2, 2, 2))
    with pytest.raises(ValueError, match="res5"):
        ResolvedSpace(SearchSpace(stages=("res5",)), (2, 2, 2, 2), eligible_stages=(2, 3, 4))


def test_unknown_space_values_are_refused():
    with pytest.raises(ValueError, match="modes"):
        SearchSpace(modes=("cosine",))
    with pytest.raises(ValueError, match="blocks"):
        SearchSpace(blocks=("3",))


def test_reference_trials_are_the_baseline_and_the_paper_block(tiny):
    baseline, paper = tiny.initial_values
    assert baseline == {"nl_blocks": "0"}
    candidate = tiny.resolved.decode(paper)
    assert candidate.placement == {4: (0,)}  # before the last of res4's 2 blocks
    assert candidate.variant_label == "embedded_gaussian spacetime sub"


def test_reference_trials_outside_the_space_are_dropped():
    hypermodel = NonLocalHyperModel("tiny", space=SearchSpace(modes=("gaussian",)))
    assert hypermodel.initial_values == [{"nl_blocks": "0"}]
