"""`NonLocalHyperModel`: the keras-tuner hypermodel over block placement."""

import contextlib
import time

import keras
import keras_tuner

from keras_nonlocal.applications import NonLocalResNet
from keras_nonlocal.tuning.backbones import get_backbone
from keras_nonlocal.tuning.search_space import FIRST_STAGE
from keras_nonlocal.tuning.search_space import ResolvedSpace
from keras_nonlocal.tuning.search_space import SearchSpace

# The paper's default single block (Sec. 4.1, Table 2a): after the block
# before the last of res4, embedded Gaussian, spacetime, sub-sampled.
PAPER_SINGLE_BLOCK = {
    "nl_blocks": "1",
    "nl_stage": "res4",
    "nl_mode": "embedded_gaussian",
    "nl_attention_axes": "spacetime",
    "nl_sub_sample": True,
}


def _stage_sizes(backbone, input_shape):
    """Spatial size of every stage's output, read from the built baseline."""
    model = NonLocalResNet(
        **backbone.kwargs(), input_shape=input_shape, include_top=False, pooling=None,
        name="stage_probe",
    )
    sizes = {}
    for index, depth in enumerate(backbone.depths):
        stage = FIRST_STAGE + index
        shape = model.get_layer(f"res{stage}_{depth - 1}_relu").output.shape
        sizes[stage] = tuple(int(s) for s in shape[1:-1])
    del model
    keras.backend.clear_session()
    return sizes


class NonLocalHyperModel(keras_tuner.HyperModel):
    """Searches where non-local blocks go in a ResNet, how many, and which kind.

    Every configuration is a `keras_nonlocal.applications.NonLocalResNet`
    with the backbone's fixed layout and the sampled placement, pairwise
    function, attention axes and sub-sampling (see `search_space.py` for the
    hyperparameters and their conditions). Stages whose feature map is
    smaller than 2×2 at `input_shape` are left out: a non-local block there
    has no spatial relation to model and cannot be sub-sampled.

    `fit` trains with the given arguments and adds, as constant per-epoch
    metrics the tuner records with the trial: `params` (trainable
    parameters), `flops` (multiply-adds of one clip, as the paper counts
    FLOPs) and `fit_seconds` (wall time of this trial's training).

    Args:
        backbone: a name in `keras_nonlocal.tuning.BACKBONES` or a `Backbone`.
        num_classes: classes of the classifier.
        input_shape: clip shape `(frames, height, width, 3)`; defaults to
            the backbone's.
        space: a `SearchSpace` (default: everything that fits).
        learning_rate: Adam's learning rate.
        dropout_rate: dropout before the classifier.
        nonlocal_kwargs: further `NonLocalBlock` arguments for every block
            (e.g. `{"chunk_size": 4096}` to bound memory on large maps).
        initial_values: hyperparameter values tried before any sampled ones
            (see `initial_candidates`); `None` for the baseline and the
            paper's single block, `()` for none.
        name: the hypermodel's name.

    Example:

    >>> import keras_tuner
    >>> hypermodel = NonLocalHyperModel("tiny", num_classes=2)
    >>> hp = keras_tuner.HyperParameters()
    >>> hp.values = {"nl_blocks": "1", "nl_stage": "res4", "nl_index_res4": 0}
    >>> model = hypermodel.build(hp)
    >>> [layer.name for layer in model.layers if "nonlocal" in layer.name]
    ['nonlocal_conv4_0']
    """

    def __init__(
        self,
        backbone="tiny",
        num_classes=2,
        input_shape=None,
        space=None,
        learning_rate=1e-2,
        dropout_rate=0.0,
        nonlocal_kwargs=None,
        initial_values=None,
        name="nonlocal_placement",
    ):
        super().__init__(name=name)
        self.backbone = get_backbone(backbone)
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
            raise ValueError(f"`num_classes` must be an integer >= 2. Received: num_classes={num_classes!r}")
        if not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
            raise ValueError(f"`learning_rate` must be a number > 0. Received: learning_rate={learning_rate!r}")
        self.num_classes = num_classes
        self.input_shape = tuple(input_shape or self.backbone.input_shape)
        self.space = space or SearchSpace()
        self.learning_rate = float(learning_rate)
        self.dropout_rate = dropout_rate
        self.nonlocal_kwargs = dict(nonlocal_kwargs or {})
        self.stage_sizes = _stage_sizes(self.backbone, self.input_shape)
        eligible = [s for s, size in self.stage_sizes.items() if min(size[-2:]) >= 2]
        self.resolved = ResolvedSpace(self.space, self.backbone.depths, eligible)
        self.initial_values = self.initial_candidates() if initial_values is None else list(initial_values)
        self._declaring_only = False

    def initial_candidates(self):
        """The reference configurations tried first, when in the space.

        The baseline (no block) and the paper's single block (res4, before
        its last block, embedded Gaussian, spacetime, sub-sampled), so every
        leaderboard has both references.

        Returns:
            A list of hyperparameter value dicts.
        """
        candidates = []
        if self.resolved.baseline_values:
            candidates.append(dict(self.resolved.baseline_values))
        paper = dict(PAPER_SINGLE_BLOCK)
        if 4 in self.resolved.stages:
            paper["nl_index_res4"] = max(self.resolved.depth(4) - 2, 0)
            checked = self.checked_values(paper)
            if checked is not None:
                candidates.append(checked)
        return candidates

    def checked_values(self, values):
        """The complete active values of `values` if every one is allowed.

        Args:
            values: a dict of hyperparameter values.

        Returns:
            The dict of active values, or `None` when a value is outside the
            space (e.g. a mode the space leaves out).
        """
        hp = keras_tuner.HyperParameters()
        hp.values = dict(values)
        self.resolved.declare(hp)
        for item in hp.space:
            if not hp.is_active(item):
                continue
            allowed = getattr(item, "values", None)
            if allowed is not None and hp.values[item.name] not in allowed:
                return None
        active = {k: v for k, v in hp.values.items() if hp.is_active(k)}
        for key, value in values.items():
            if key in active and active[key] != value:
                return None
        return active

    @contextlib.contextmanager
    def declaring_only(self):
        """Within this context `build` declares the hyperparameters only.

        keras-tuner builds the hypermodel once per conditional branch to
        discover the search space; declaring is enough there and saves a
        model build per branch.

        Yields:
            Nothing.
        """
        previous, self._declaring_only = self._declaring_only, True
        try:
            yield
        finally:
            self._declaring_only = previous

    def candidate(self, hp):
        """The configuration `hp` describes (declaring its hyperparameters).

        Args:
            hp: a `keras_tuner.HyperParameters`.

        Returns:
            A `Candidate`.
        """
        return self.resolved.declare(hp)

    def build_candidate(self, candidate):
        """Builds and compiles the model of a configuration.

        Args:
            candidate: a `Candidate`.

        Returns:
            A compiled `keras.Model`.
        """
        model = NonLocalResNet(
            **self.backbone.kwargs(),
            input_shape=self.input_shape,
            classes=self.num_classes,
            dropout_rate=self.dropout_rate,
            nonlocal_placement=candidate.placement or None,
            nonlocal_mode=candidate.mode or "embedded_gaussian",
            nonlocal_attention_axes=candidate.attention_axes or "spacetime",
            nonlocal_sub_sample=bool(candidate.sub_sample),
            nonlocal_kwargs=self.nonlocal_kwargs or None,
            name="nl_search_" + candidate.placement_label.replace(" ", "_").replace("[", "_")
            .replace("]", "").replace(",", "_"),
        )
        model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def build(self, hp):
        """Builds the model for the sampled hyperparameters.

        Args:
            hp: a `keras_tuner.HyperParameters`.

        Returns:
            A compiled `keras.Model` (`None` inside `declaring_only`).
        """
        candidate = self.candidate(hp)
        if self._declaring_only:
            return None
        return self.build_candidate(candidate)

    def fit(self, hp, model, *args, **kwargs):
        """Trains `model` and records its size, cost and training time.

        Args:
            hp: the trial's `keras_tuner.HyperParameters`.
            model: the model returned by `build`.
            *args: positional arguments of `model.fit`.
            **kwargs: keyword arguments of `model.fit`.

        Returns:
            The `keras.callbacks.History`, with `params`, `flops` and
            `fit_seconds` added as one value per epoch.
        """
        from keras_nonlocal.applications.flops import count_macs

        params = sum(int(w.numpy().size) for w in model.trainable_weights)
        flops = count_macs(model)
        start = time.perf_counter()
        history = model.fit(*args, **kwargs)
        seconds = time.perf_counter() - start
        epochs = len(next(iter(history.history.values()), [])) or 1
        history.history["params"] = [float(params)] * epochs
        history.history["flops"] = [float(flops)] * epochs
        history.history["fit_seconds"] = [seconds] * epochs
        return history
