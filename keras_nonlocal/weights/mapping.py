"""Official blob <-> Keras weight mapping, layout transforms, verification.

A Keras layer named like an official blob prefix takes that prefix's blobs
(`keras_nonlocal.applications` names its layers so):

| Keras layer                       | blobs                                   |
| --------------------------------- | --------------------------------------- |
| `ConvND` `<p>`                    | `<p>_w` (out, in, *k), `<p>_b` if bias  |
| `Dense` `<p>`                     | `<p>_w` (out, in[, 1, 1, 1]), `<p>_b`   |
| `BatchNormalization` `<p>`        | `<p>_s`, `<p>_b`, `<p>_rm`, `<p>_riv`   |
| `keras_nonlocal.layers.Affine`    | `<p>_s`, `<p>_b`                        |
| a layer with sublayers, e.g.      | its sublayers under `<p>_<attribute>`:  |
| `NonLocalBlock` `nonlocal_conv3_1`| `..._theta_w`, `..._bn_s`, ...          |

Two layouts of the normalisation blobs exist: full BatchNorm (`_s`, `_b`,
`_rm`, `_riv`; `_riv` is the running *variance* despite its name) and the
frozen "affine" map of the long-clip models (`_s`, `_b` only). Either loads
into either kind of layer:

- affine blobs -> `BatchNormalization`: gamma = `_s`, beta = `_b`,
  moving_mean = 0, moving_variance = 1 - epsilon, so that the layer's
  inference output `gamma * (x - 0) / sqrt(1 - eps + eps) + beta` is exactly
  the affine map. (In training mode a BatchNormalization normalises with the
  batch statistics instead; freeze it to fine-tune such a model faithfully.)
- BatchNorm blobs -> `Affine`: the running statistics are folded in,
  gamma = `_s / sqrt(_riv + eps)`, beta = `_b - _rm * gamma`, eps being the
  official 1.0000001e-5.

The non-local blocks come in three layouts, told apart by their blobs:
`_bn_s`, `_bn_b`, `_bn_rm`, `_bn_riv` (BatchNorm after `out`, the 32x2 and
8x8 models), `_bn_s`, `_bn_b` (a frozen affine map), or none at all (the
long-clip 32x4 and 128x1 models: `z = x + out(y)`). A block built without
normalisation takes a checkpoint's normalisation folded exactly into `out`
(`W' = W * scale`, `b' = (b - mean) * scale + beta`); a block built with one
refuses a checkpoint without (its blobs are missing, and the error says which
models have that layout). A checkpoint whose blocks mix layouts is refused with
the blobs named (`NonLocalLayoutError`); an incomplete set is reported as
missing blobs.

`plan_mapping` computes every assignment and every discrepancy without
touching the model; `verify` turns discrepancies into one error that names
them; `apply_mapping` assigns.
"""

import dataclasses
import re

import keras
import numpy as np

from keras_nonlocal.weights.checkpoint import CheckpointFormatError
from keras_nonlocal.weights.inflation import inflate_kernel

# Caffe2 SpatialBN epsilon of the official configs (`BN_EPSILON`).
OFFICIAL_BN_EPSILON = 1.0000001e-5

# Layer-name prefixes of the classifier: loaded only with the top.
HEAD_PREFIXES = ("pred",)

# Sublayer attribute -> blob infix, where the two differ.
_SUBLAYER_ALIASES = {"norm": "bn", "batch_norm": "bn", "affine": "bn"}

_CONV_TYPES = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)

_MAX_LISTED = 25


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit a model.

    The message names every missing, extra and mis-shaped blob.

    Attributes:
        missing: list of `(blob, expected_shape)` the model needs and the
            checkpoint lacks.
        unused: list of `(blob, shape)` the checkpoint holds and the model has
            no place for (solver state excluded).
        mis_shaped: list of `(blob, found_shape, expected_shape)`.
    """

    def __init__(self, missing, unused, mis_shaped, source=None, hint=""):
        self.missing = list(missing)
        self.unused = list(unused)
        self.mis_shaped = list(mis_shaped)
        where = f" {source}" if source else ""
        lines = [f"The checkpoint{where} does not fit the model:"]
        lines += _listing(
            "missing (needed by the model, absent from the checkpoint)",
            [f"{b} expected {tuple(s)}" for b, s in self.missing],
        )
        lines += _listing(
            "mis-shaped",
            [f"{b} is {tuple(f)}, expected {tuple(e)}" for b, f, e in self.mis_shaped],
        )
        lines += _listing(
            "unused (in the checkpoint, no layer takes them)",
            [f"{b} {tuple(s)}" for b, s in self.unused],
        )
        if hint:
            lines.append(hint)
        super().__init__("\n".join(lines))


class NonLocalLayoutError(CheckpointFormatError):
    """A checkpoint's non-local blocks have different normalisation layouts.

    The message names each block's normalisation blobs.
    """


# Normalisation blobs of a non-local block (`<block>_bn_<suffix>`).
_NORM_SUFFIXES = ("s", "b", "rm", "riv")


def nonlocal_layouts(blobs):
    """The normalisation layout of each non-local block of a checkpoint.

    A block is a prefix `<p>` with `<p>_g_w` and `<p>_out_w` blobs; its
    layout is `"batch_norm"` (`<p>_bn_s`, `_bn_b`, `_bn_rm`, `_bn_riv`),
    `"affine"` (`_bn_s`, `_bn_b`) or `None` (no normalisation blobs).

    Args:
        blobs: a dict of blob name -> array.

    Returns:
        A dict `{block prefix: layout}`.

    Raises:
        NonLocalLayoutError: if the blocks do not all have the same layout.

    Example:

    >>> nonlocal_layouts({"nl_g_w": 0, "nl_out_w": 0, "nl_bn_s": 0, "nl_bn_b": 0})
    {'nl': 'affine'}
    """
    blocks = sorted(
        name[: -len("_out_w")] for name in blobs
        if name.endswith("_out_w") and f"{name[: -len('_out_w')]}_g_w" in blobs
    )
    found = {}
    for block in blocks:
        found[block] = tuple(s for s in _NORM_SUFFIXES if f"{block}_bn_{s}" in blobs)
    # An incomplete set counts as the layout it starts (its missing blobs are
    # reported as missing when it is mapped).
    layouts = {
        b: None if not present else "batch_norm" if {"rm", "riv"} & set(present) else "affine"
        for b, present in found.items()
    }
    if len(set(layouts.values())) > 1:
        lines = ["The checkpoint's non-local blocks mix normalisation layouts:"]
        for block, present in found.items():
            names = ", ".join(f"{block}_bn_{s}" for s in present) or "no normalisation blobs"
            lines.append(f"    {block}: {names} ({layouts[block] or 'none'})")
        lines.append(
            "Every block must hold all of _bn_s, _bn_b, _bn_rm, _bn_riv (BatchNorm), "
            "only _bn_s and _bn_b (affine), or none of them (the long-clip models)."
        )
        raise NonLocalLayoutError("\n".join(lines))
    return layouts


def _listing(title, items):
    if not items:
        return []
    shown = [f"    {item}" for item in items[:_MAX_LISTED]]
    if len(items) > _MAX_LISTED:
        shown.append(f"    ... and {len(items) - _MAX_LISTED} more")
    return [f"  {len(items)} {title}:"] + shown


@dataclasses.dataclass
class Assignment:
    """One Keras variable and the value it receives.

    Attributes:
        variable: the `keras.Variable`.
        path: the variable's path in the model, e.g. `"conv1/kernel"`.
        blobs: the blob names the value comes from (empty for a constant).
        value: the value in the Keras layout.
        note: how the blob was transformed, e.g. `"inflated t=3"`.
    """

    variable: object
    path: str
    blobs: tuple
    value: np.ndarray
    note: str = ""


@dataclasses.dataclass
class MappingReport:
    """Everything `plan_mapping` found.

    Attributes:
        assignments: the `Assignment`s to apply.
        missing: `(blob, expected_shape)` the model needs, the checkpoint lacks.
        mis_shaped: `(blob, found_shape, expected_shape)`.
        unused: `(blob, shape)` left over (solver state excluded).
        ignored: blobs deliberately not loaded, e.g. the head with
            `include_top=False`, with the reason.
        initialised: layer prefixes left at (or set to) their initial value,
            with the reason.
        solver_state: names of solver-state entries skipped.
        source: where the blobs came from.
        hints: sentences that explain the problems, added to the error.
    """

    assignments: list = dataclasses.field(default_factory=list)
    missing: list = dataclasses.field(default_factory=list)
    mis_shaped: list = dataclasses.field(default_factory=list)
    unused: list = dataclasses.field(default_factory=list)
    ignored: list = dataclasses.field(default_factory=list)
    initialised: list = dataclasses.field(default_factory=list)
    solver_state: list = dataclasses.field(default_factory=list)
    source: str | None = None
    hints: list = dataclasses.field(default_factory=list)

    @property
    def ok(self):
        return not (self.missing or self.mis_shaped or self.unused)

    @property
    def mapped_blobs(self):
        return sorted({b for a in self.assignments for b in a.blobs})

    def summary(self, verbose=False):
        """A human-readable report of the mapping.

        Args:
            verbose: list every assignment, not only the counts and the
                transformed ones.

        Returns:
            A multi-line string.
        """
        notes = {}
        for a in self.assignments:
            if a.note:
                notes.setdefault(a.note, []).append(a.path)
        lines = [
            f"Mapped {len(self.mapped_blobs)} blobs onto "
            f"{len(self.assignments)} Keras weights"
            + (f" from {self.source}" if self.source else "")
            + "."
        ]
        if verbose:
            for a in self.assignments:
                src = ", ".join(a.blobs) or "(constant)"
                extra = f"  [{a.note}]" if a.note else ""
                lines.append(f"  {src} -> {a.path} {tuple(a.value.shape)}{extra}")
        for note, paths in sorted(notes.items()):
            lines.append(f"  {note}: {len(paths)} weights")
        for blob, reason in self.ignored:
            lines.append(f"  not loaded: {blob} ({reason})")
        for prefix, reason in self.initialised:
            lines.append(f"  left at initialisation: {prefix} ({reason})")
        if self.solver_state:
            lines.append(f"  solver state skipped: {len(self.solver_state)} entries")
        if not self.ok:
            lines.append(
                f"  PROBLEMS: {len(self.missing)} missing, {len(self.mis_shaped)} "
                f"mis-shaped, {len(self.unused)} unused blobs"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------- discovery


@dataclasses.dataclass
class _Slot:
    prefix: str
    kind: str  # "conv", "dense", "bn", "affine"
    layer: object


def _is_affine(layer):
    names = sorted(w.name for w in layer.weights)
    return names == ["beta", "gamma"]


def _sublayers(layer):
    found, seen = [], set()
    for attr, value in vars(layer).items():
        if attr.startswith("_") or not isinstance(value, keras.layers.Layer):
            continue
        if id(value) not in seen:
            seen.add(id(value))
            found.append((_SUBLAYER_ALIASES.get(attr, attr), value))
    for value in getattr(layer, "_layers", []):
        if id(value) not in seen:
            seen.add(id(value))
            found.append((value.name, value))
    return found


def _collect_slots(layer, prefix, slots):
    if not layer.weights:
        return
    if isinstance(layer, keras.Model) and hasattr(layer, "layers"):
        # Nested models keep the global naming: their layers are prefixes.
        for sub in layer.layers:
            _collect_slots(sub, sub.name, slots)
    elif isinstance(layer, _CONV_TYPES):
        slots.append(_Slot(prefix, "conv", layer))
    elif isinstance(layer, keras.layers.Dense):
        slots.append(_Slot(prefix, "dense", layer))
    elif isinstance(layer, keras.layers.BatchNormalization):
        slots.append(_Slot(prefix, "bn", layer))
    elif _is_affine(layer):
        slots.append(_Slot(prefix, "affine", layer))
    else:
        subs = _sublayers(layer)
        own = {id(w) for w in layer.weights} - {
            id(w) for _, sub in subs for w in sub.weights
        }
        if not subs or own:
            raise NotImplementedError(
                f"Layer {layer.name!r} ({type(layer).__name__}) holds weights "
                "that no official blob maps to; only Conv, Dense, "
                "BatchNormalization, Affine and layers made of them are mapped."
            )
        for name, sub in subs:
            _collect_slots(sub, f"{prefix}_{name}", slots)


def model_slots(model):
    """The mappable layers of a model, with their blob prefixes.

    Args:
        model: a Keras model whose layer names are official blob prefixes.

    Returns:
        A list of `(prefix, kind, layer)`, kind one of `"conv"`, `"dense"`,
        `"bn"`, `"affine"`.

    Example:

    >>> [p for p, _, _ in model_slots(model)][:2]  # doctest: +SKIP
    ['conv1', 'res_conv1_bn']
    """
    slots = []
    _collect_slots(model, "", slots)
    return [(s.prefix, s.kind, s.layer) for s in slots]


# ---------------------------------------------------------------- transforms


def _fit_vector(blob, size):
    # Caffe2 stores some vectors with trailing singleton axes.
    if blob.size == size and blob.shape[:1] == (size,):
        return blob.reshape(size)
    return None


def _fit_conv(blob, expected, inflate):
    """Returns (blob in Caffe2 layout `expected`, note) or (None, None)."""
    if blob.shape == expected:
        return blob, ""
    if blob.ndim < len(expected):
        padded = blob.shape + (1,) * (len(expected) - blob.ndim)
        if padded == expected:
            return blob.reshape(expected), ""
        if (
            inflate
            and blob.ndim == 4
            and len(expected) == 5
            and blob.shape[:2] == expected[:2]
            and blob.shape[2:] == expected[3:]
        ):
            return inflate_kernel(blob, expected[2]), f"inflated over t={expected[2]}"
    return None, None


class _Planner:
    def __init__(self, blobs, report, inflate, epsilon):
        self.blobs = blobs
        self.report = report
        self.inflate = inflate
        self.epsilon = epsilon
        self.used = set()

    def _assign(self, variable, blobs, value, note=""):
        value = np.asarray(value, dtype=np.float32)
        if tuple(value.shape) != tuple(variable.shape):  # pragma: no cover
            raise AssertionError(f"{variable.path}: {value.shape} vs {variable.shape}")
        self.report.assignments.append(
            Assignment(variable, variable.path, tuple(blobs), value, note)
        )
        self.used.update(blobs)

    def _get(self, name, expected_shape):
        if name not in self.blobs:
            self.report.missing.append((name, tuple(expected_shape)))
            return None
        return self.blobs[name]

    def _vector(self, variable, name):
        blob = self._get(name, variable.shape)
        if blob is None:
            return None
        value = _fit_vector(blob, variable.shape[0])
        if value is None:
            self.report.mis_shaped.append((name, blob.shape, tuple(variable.shape)))
            self.used.add(name)
        return value

    def kernel(self, slot):
        layer = slot.layer
        kshape = tuple(layer.kernel.shape)
        name = f"{slot.prefix}_w"
        if slot.kind == "conv":
            n = len(kshape) - 2
            expected = (kshape[-1], kshape[-2]) + kshape[:n]
            blob = self._get(name, expected)
            if blob is not None:
                fitted, note = _fit_conv(blob, expected, self.inflate)
                if fitted is None:
                    self.report.mis_shaped.append((name, blob.shape, expected))
                    self.used.add(name)
                else:
                    axes = tuple(range(2, 2 + n)) + (1, 0)
                    self._assign(layer.kernel, [name], np.transpose(fitted, axes), note)
        else:
            expected = (kshape[1], kshape[0])
            blob = self._get(name, expected)
            if blob is not None:
                if blob.shape[:2] == expected and blob.size == kshape[0] * kshape[1]:
                    self._assign(layer.kernel, [name], blob.reshape(expected).T)
                else:
                    self.report.mis_shaped.append((name, blob.shape, expected))
                    self.used.add(name)
        bias = getattr(layer, "bias", None)
        if bias is not None:
            value = self._vector(bias, f"{slot.prefix}_b")
            if value is not None:
                self._assign(bias, [f"{slot.prefix}_b"], value)

    def folded_kernel(self, slot, norm_prefix, layout):
        """`out` of a block built without normalisation, taking the
        checkpoint's normalisation folded in: exact at inference."""
        layer, p = slot.layer, slot.prefix
        trial = MappingReport()
        sub = _Planner(self.blobs, trial, self.inflate, self.epsilon)
        sub.kernel(slot)
        size = layer.kernel.shape[-1]
        suffixes = _NORM_SUFFIXES if layout == "batch_norm" else ("s", "b")
        names = [f"{norm_prefix}_{suffix}" for suffix in suffixes]
        values = {}
        for suffix, name in zip(suffixes, names):
            blob = self._get(name, (size,))
            value = None if blob is None else _fit_vector(blob, size)
            if blob is not None and value is None:
                self.report.mis_shaped.append((name, blob.shape, (size,)))
            values[suffix] = None if value is None else value.astype(np.float64)
        self.used.update(name for name in names if name in self.blobs)
        self.report.missing += trial.missing
        self.report.mis_shaped += trial.mis_shaped
        self.used |= sub.used
        if not trial.ok or any(v is None for v in values.values()):
            return
        kernel, bias = trial.assignments[0].value, trial.assignments[1].value
        scale, shift = values["s"], values["b"]
        if layout == "batch_norm":
            scale = scale / np.sqrt(values["riv"] + self.epsilon)
            shift = shift - values["rm"] * scale
        note = f"non-local {layout} normalisation folded into out"
        blobs = [f"{p}_w", f"{p}_b"] + names
        self._assign(layer.kernel, blobs, kernel.astype(np.float64) * scale, note)
        self._assign(layer.bias, blobs, bias.astype(np.float64) * scale + shift, note)

    def norm(self, slot):
        layer, p = slot.layer, slot.prefix
        full = f"{p}_rm" in self.blobs or f"{p}_riv" in self.blobs
        if slot.kind == "bn":
            gamma, beta = layer.gamma, layer.beta
        else:
            weights = {w.name: w for w in layer.weights}
            gamma, beta = weights["gamma"], weights["beta"]
        ref = gamma if gamma is not None else beta
        s = self._vector(ref, f"{p}_s") if gamma is not None else None
        b = self._vector(ref, f"{p}_b") if beta is not None else None
        if full:
            rm = self._vector(ref, f"{p}_rm")
            riv = self._vector(ref, f"{p}_riv")
        if slot.kind == "bn":
            if s is not None:
                self._assign(gamma, [f"{p}_s"], s)
            if b is not None:
                self._assign(beta, [f"{p}_b"], b)
            if full:
                if rm is not None:
                    self._assign(layer.moving_mean, [f"{p}_rm"], rm)
                if riv is not None:
                    self._assign(layer.moving_variance, [f"{p}_riv"], riv)
            elif s is not None or b is not None:
                note = "affine blobs into BatchNormalization (mean 0, variance 1-eps)"
                size = ref.shape[0]
                self._assign(layer.moving_mean, [], np.zeros(size), note)
                self._assign(
                    layer.moving_variance,
                    [],
                    np.full(size, 1.0 - layer.epsilon, dtype=np.float64),
                    note,
                )
        elif full:
            if all(v is not None for v in (s, b, rm, riv)):
                note = "BatchNorm statistics folded into Affine"
                scale = s / np.sqrt(riv.astype(np.float64) + self.epsilon)
                names = [f"{p}_s", f"{p}_b", f"{p}_rm", f"{p}_riv"]
                self._assign(gamma, names, scale, note)
                self._assign(beta, names, b - rm * scale, note)
        else:
            if s is not None:
                self._assign(gamma, [f"{p}_s"], s)
            if b is not None:
                self._assign(beta, [f"{p}_b"], b)


def _nonlocal_blocks(slots):
    """`{block prefix: has a normalisation}` of the model's non-local blocks."""
    prefixes = {prefix: kind for prefix, kind, _ in slots}
    return {
        prefix[: -len("_out")]: f"{prefix[: -len('_out')]}_bn" in prefixes
        for prefix, kind in prefixes.items()
        if prefix.endswith("_out") and kind in ("dense", "conv")
        and f"{prefix[: -len('_out')]}_g" in prefixes
    }


def _matches(prefix, patterns):
    return any(re.match(pattern, prefix) for pattern in patterns)


def plan_mapping(
    model,
    checkpoint,
    load_head=True,
    inflate=False,
    initialise=(),
    epsilon=OFFICIAL_BN_EPSILON,
):
    """Matches every Keras weight of a model with its official blob(s).

    Nothing is assigned; see `apply_mapping`.

    Args:
        model: a Keras model whose layer names are the official blob prefixes
            (`conv1`, `res2_0_branch2a`, `nonlocal_conv3_1`, `pred`, ...).
        checkpoint: a `keras_nonlocal.weights.Checkpoint`.
        load_head: `True` to map the classifier (`pred`); `False` to leave it
            and ignore the checkpoint's `pred_*` blobs (backbone only);
            `"if_match"` to map it only when every shape fits (an ImageNet
            initialisation of a model with another number of classes).
        inflate: allow 2-D kernels `(out, in, h, w)` to fill 3-D layers by
            inflation (ImageNet initialisation).
        initialise: regular expressions of layer prefixes that may be absent
            from the checkpoint; their layers keep their initial value, except
            the last normalisation of a non-local block (`<prefix>_bn`), whose
            gamma and beta are set to 0 so that the block is the identity.
        epsilon: the BatchNorm epsilon used to fold running statistics into
            an `Affine` layer.

    Returns:
        A `MappingReport`.

    Example:

    >>> report = plan_mapping(model, read_checkpoint("c2d.pkl"))  # doctest: +SKIP
    >>> report.ok  # doctest: +SKIP
    True
    """
    if load_head not in (True, False, "if_match"):
        raise ValueError(
            f"load_head must be True, False or 'if_match'; received {load_head!r}."
        )
    report = MappingReport(
        solver_state=list(checkpoint.solver_state), source=checkpoint.source
    )
    planner = _Planner(checkpoint.blobs, report, inflate, epsilon)
    slots = model_slots(model)
    layouts = nonlocal_layouts(checkpoint.blobs)
    model_blocks = _nonlocal_blocks(slots)
    folded = {}  # `<block>_out` -> the checkpoint's normalisation layout
    for block, has_norm in model_blocks.items():
        layout = layouts.get(block)
        if block in layouts and layout is not None and not has_norm:
            folded[f"{block}_out"] = layout
        elif block in layouts and layout is None and has_norm and not _matches(block, initialise):
            report.hints.append(
                f"The checkpoint's non-local blocks have no normalisation (the layout "
                f"of the official long-clip 32x4 and 128x1 models), but {block} of the "
                "model has one: build the model for that input setting "
                "(input_setting='32x4' or '128x1'), or with "
                "nonlocal_kwargs={'norm': None}."
            )
    for prefix, kind, layer in slots:
        slot = _Slot(prefix, kind, layer)
        is_head = _matches(prefix, [rf"{h}(_|$)" for h in HEAD_PREFIXES])
        if is_head and load_head is False:
            report.initialised.append((prefix, "head not loaded"))
            continue
        optional = (is_head and load_head == "if_match") or _matches(prefix, initialise)
        if optional:
            trial = MappingReport()
            sub = _Planner(checkpoint.blobs, trial, inflate, epsilon)
            (sub.kernel if kind in ("conv", "dense") else sub.norm)(slot)
            if trial.ok and trial.assignments:
                report.assignments += trial.assignments
                planner.used |= sub.used
                continue
            reason = "no fitting blobs in the checkpoint"
            block = prefix[: -len("_out")]
            if model_blocks.get(block) is False and prefix.endswith("_out") and not is_head:
                # No normalisation: a zero `out` makes the block the identity.
                for weight in (layer.kernel, getattr(layer, "bias", None)):
                    if weight is not None:
                        report.assignments.append(
                            Assignment(weight, weight.path, (), np.zeros(weight.shape, np.float32),
                                       "zeroed: non-local block starts as identity")
                        )
                reason = "zeroed, so the block starts as the identity"
            elif kind in ("bn", "affine") and re.search(r"_bn$", prefix) and not is_head:
                weights = {w.name: w for w in layer.weights}
                for name in ("gamma", "beta"):
                    if name in weights:
                        zeros = np.zeros(weights[name].shape, np.float32)
                        report.assignments.append(
                            Assignment(weights[name], weights[name].path, (), zeros,
                                       "zeroed: non-local block starts as identity")
                        )
                reason = "zeroed, so the block starts as the identity"
            report.initialised.append((prefix, reason))
            continue
        if prefix in folded:
            planner.folded_kernel(slot, f"{prefix[: -len('_out')]}_bn", folded[prefix])
        elif kind in ("conv", "dense"):
            planner.kernel(slot)
        else:
            planner.norm(slot)
    for name, blob in checkpoint.blobs.items():
        if name in planner.used:
            continue
        head_blob = _matches(name, [rf"{h}_" for h in HEAD_PREFIXES])
        if head_blob and load_head is not True:
            report.ignored.append((name, "classifier head not loaded"))
        else:
            report.unused.append((name, tuple(blob.shape)))
    return report


def verify(report, hint=""):
    """Raises if a mapping left anything missing, mis-shaped or unused.

    Args:
        report: a `MappingReport` from `plan_mapping`.
        hint: a sentence appended to the error, e.g. which file to use.

    Raises:
        CheckpointMismatchError: naming every missing, mis-shaped and unused
            blob.

    Example:

    >>> verify(plan_mapping(model, checkpoint))  # doctest: +SKIP
    """
    if not report.ok:
        hint = " ".join(list(report.hints) + ([hint] if hint else []))
        raise CheckpointMismatchError(
            report.missing, report.unused, report.mis_shaped, report.source, hint
        )


def apply_mapping(report):
    """Assigns every planned value to its Keras variable.

    Args:
        report: a verified `MappingReport`.

    Returns:
        The number of variables assigned.

    Example:

    >>> report = plan_mapping(model, checkpoint)  # doctest: +SKIP
    >>> verify(report); apply_mapping(report)  # doctest: +SKIP
    """
    for a in report.assignments:
        a.variable.assign(a.value.astype(a.variable.dtype))
    return len(report.assignments)
