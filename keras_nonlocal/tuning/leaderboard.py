"""The leaderboard: one row per trial, read from the search's folder.

Rows come from the `trial_*/trial.json` files keras-tuner writes (the chief's
folder in a distributed search), so a leaderboard can be rebuilt at any time,
from a finished, interrupted or still running search.
"""

import csv
import glob
import io
import os

from keras_nonlocal.layers import MODES
from keras_nonlocal.tuning.search_space import STAGES

COLUMNS = (
    ("rank", "rank"),
    ("trial", "trial_id"),
    ("placement", "placement"),
    ("blocks", "num_blocks"),
    ("stages", "stages"),
    ("variant", "variant"),
    ("params", "params"),
    ("FLOPs", "flops"),
    ("objective", "score"),
    ("val acc", "val_accuracy"),
    ("val loss", "val_loss"),
    ("epochs", "epochs"),
    ("time (s)", "fit_seconds"),
)


def _best_metric(trial, name):
    metrics = trial.metrics
    if not metrics.exists(name):
        return None
    value = metrics.get_best_value(name)
    return None if value is None else float(value)


def _metric_at_best_step(trial, name):
    metrics = trial.metrics
    if not metrics.exists(name):
        return None
    history = metrics.get_history(name)
    if not history:
        return None
    for observation in history:
        if observation.step == trial.best_step:
            return float(observation.mean())
    return float(history[-1].mean())


def load_trials(project_dir):
    """Loads every trial a search has recorded.

    Args:
        project_dir: `directory/project_name` of the search.

    Returns:
        A list of `keras_tuner.engine.trial.Trial`, by trial id.

    Example:

    >>> trials = load_trials("results/tune/nonlocal_search")  # doctest: +SKIP
    """
    from keras_tuner.engine.trial import Trial

    trials = []
    for path in glob.glob(os.path.join(os.fspath(project_dir), "trial_*", "trial.json")):
        try:
            trials.append(Trial.load(path))
        except (ValueError, KeyError, OSError):  # a file cut short by a killed process
            continue
    return sorted(trials, key=lambda t: (len(t.trial_id), t.trial_id))


def leaderboard_rows(trials, hypermodel, objective, default_epochs=None):
    """Turns trials into leaderboard rows, best first.

    Args:
        trials: trials from `load_trials` (or `tuner.oracle.trials.values()`).
        hypermodel: the `NonLocalHyperModel` of the search; decodes the
            hyperparameter values into placement and variant.
        objective: the search's `keras_tuner.Objective`.
        default_epochs: epochs per trial, shown when the trial does not say
            (Hyperband trials carry their own).

    Returns:
        A list of dicts with the keys of `COLUMNS` plus `status`, `blocks`
        (the count answer), `mode`, `attention_axes`, `sub_sample`. Completed
        trials come first, sorted by the objective; then the others.

    Example:

    >>> rows = leaderboard_rows(load_trials(path), hypermodel,
    ...                         parse_objective("val_accuracy"))  # doctest: +SKIP
    """
    rows = []
    for trial in trials:
        values = dict(trial.hyperparameters.values)
        candidate = hypermodel.resolved.decode(values)
        status = str(trial.status)
        if status.startswith("TrialStatus."):
            status = status.split(".", 1)[1]
        rows.append(
            {
                "trial_id": trial.trial_id,
                "status": status,
                "placement": candidate.placement_label,
                "blocks": candidate.blocks,
                "num_blocks": candidate.num_blocks,
                "stages": "+".join(candidate.stages) or "-",
                "variant": candidate.variant_label,
                "mode": candidate.mode,
                "attention_axes": candidate.attention_axes,
                "sub_sample": candidate.sub_sample,
                "params": _metric_at_best_step(trial, "params"),
                "flops": _metric_at_best_step(trial, "flops"),
                "score": None if trial.score is None else float(trial.score),
                "val_accuracy": _metric_at_best_step(trial, "val_accuracy"),
                "val_loss": _metric_at_best_step(trial, "val_loss"),
                "epochs": values.get("tuner/epochs", default_epochs),
                "fit_seconds": _metric_at_best_step(trial, "fit_seconds"),
                "best_val_accuracy": _best_metric(trial, "val_accuracy"),
            }
        )
    done = [r for r in rows if r["status"] == "COMPLETED" and r["score"] is not None]
    done.sort(key=lambda r: r["score"], reverse=objective.direction == "max")
    others = [r for r in rows if r not in done]
    for rank, row in enumerate(done, start=1):
        row["rank"] = rank
    for row in others:
        row["rank"] = None
    return done + others


def _human(value):
    if value is None:
        return "-"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.2f}{suffix}"
    return f"{value:.0f}"


def _cell(key, value, status=None):
    if key == "rank" and value is None:
        return status.lower() if status else "-"
    if value is None:
        return "-"
    if key in ("params", "flops"):
        return _human(value)
    if key in ("score", "val_accuracy", "val_loss"):
        return f"{value:.3f}"
    if key == "fit_seconds":
        return f"{value:.1f}"
    return str(value)


def format_markdown(rows):
    """The leaderboard as a Markdown table.

    Args:
        rows: from `leaderboard_rows`.

    Returns:
        A string (FLOPs are multiply-adds per clip).
    """
    lines = ["| " + " | ".join(title for title, _ in COLUMNS) + " |"]
    lines.append("|" + "|".join("---:" if key not in ("placement", "stages", "variant") else "---"
                                for _, key in COLUMNS) + "|")
    for row in rows:
        cells = [_cell(key, row.get(key), row["status"]) for _, key in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_csv(rows):
    """The leaderboard as CSV, raw numbers (FLOPs are multiply-adds per clip).

    Args:
        rows: from `leaderboard_rows`.

    Returns:
        A string.
    """
    keys = ["rank", "trial_id", "status", "placement", "blocks", "num_blocks", "stages",
            "mode", "attention_axes", "sub_sample", "params", "flops", "score",
            "val_accuracy", "val_loss", "epochs", "fit_seconds"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in keys})
    return out.getvalue()


def summarize(rows):
    """Best result per number of blocks, per stage and per pairwise function.

    Only completed trials count; a stage's row uses the trials whose blocks
    all sit in that one stage (as the paper's Table 2b).

    Args:
        rows: from `leaderboard_rows`.

    Returns:
        A dict `{"blocks": [...], "stage": [...], "mode": [...]}` of lists of
        `(key, best score, trials)`.
    """
    done = [r for r in rows if r["rank"] is not None]
    groups = {"blocks": {}, "stage": {}, "mode": {}}
    for row in done:
        groups["blocks"].setdefault(row["num_blocks"], []).append(row)
        if row["num_blocks"] == 0:
            groups["stage"].setdefault("none", []).append(row)
            groups["mode"].setdefault("baseline", []).append(row)
            continue
        if "+" not in row["stages"]:
            groups["stage"].setdefault(row["stages"], []).append(row)
        groups["mode"].setdefault(row["mode"], []).append(row)
    orders = {"stage": ("none",) + STAGES, "mode": ("baseline",) + tuple(MODES)}
    summary = {}
    for name, group in groups.items():
        if name == "blocks":
            keys = sorted(group)
        else:
            keys = [k for k in orders[name] if k in group]
        # Rows are sorted best first, so a group's first row is its best.
        summary[name] = [(key, group[key][0]["score"], len(group[key])) for key in keys]
    return summary


def format_summary(summary, objective_name):
    """The summary as three small Markdown tables.

    Args:
        summary: from `summarize`.
        objective_name: the objective's metric name, for the header.

    Returns:
        A string.
    """
    parts = []
    titles = {"blocks": "non-local blocks", "stage": "stage (single-stage placements)",
              "mode": "pairwise function"}
    for name, entries in summary.items():
        lines = [f"| {titles[name]} | best {objective_name} | trials |", "|---|---:|---:|"]
        for key, score, count in entries:
            lines.append(f"| {key} | {score:.3f} | {count} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def write_leaderboard(rows, directory, summary_objective=None):
    """Writes `leaderboard.csv` and `leaderboard.md` into `directory`.

    Args:
        rows: from `leaderboard_rows`.
        directory: folder to write into (created if missing).
        summary_objective: the objective's name; when given, the Markdown
            file also holds the per-count/stage/function summary.

    Returns:
        `(csv_path, markdown_path)`.
    """
    os.makedirs(directory, exist_ok=True)
    csv_path = os.path.join(directory, "leaderboard.csv")
    md_path = os.path.join(directory, "leaderboard.md")
    with open(csv_path, "w", encoding="utf-8") as f:
        f.write(format_csv(rows))
    text = format_markdown(rows) + "\n"
    if summary_objective:
        text += "\n" + format_summary(summarize(rows), summary_objective) + "\n"
    with open(md_path, "w", encoding="utf-8") as f:
        f.write(text)
    return csv_path, md_path
