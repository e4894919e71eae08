"""The leaderboard as a picture: the objective against blocks, stage and function.

Three panels, in the spirit of the paper's Table 2 but for the user's data:
the objective against the number of non-local blocks (Table 2c), against the
stage of single-stage placements (Table 2b), and against the pairwise
function (Table 2a). Every completed trial is a dot; the best per column is
a larger marker; the baseline is a dashed line across all panels.
"""

from keras_nonlocal.layers import MODES
from keras_nonlocal.tuning.search_space import STAGES


def plot_leaderboard(rows, path, objective_name="val_accuracy", direction="max", title=None):
    """Writes the leaderboard plot as a PNG.

    Args:
        rows: from `leaderboard.leaderboard_rows`.
        path: the PNG file to write.
        objective_name: label of the y axis.
        direction: `"max"` or `"min"`: which end of the objective is best.
        title: figure title.

    Returns:
        `path`.

    Example:

    >>> plot_leaderboard(rows, "results/tune/leaderboard.png")  # doctest: +SKIP
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r["rank"] is not None]
    baseline = [r["score"] for r in done if r["num_blocks"] == 0]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    # Only the block count is a number: its bests are joined by a line; the
    # stages and pairwise functions are categories, shown as points.
    panels = (
        ("non-local blocks", lambda r: r["num_blocks"], None, "o-"),
        ("stage (single-stage placements)",
         lambda r: r["stages"] if r["num_blocks"] and "+" not in r["stages"] else None, STAGES,
         "o"),
        ("pairwise function", lambda r: r["mode"] if r["num_blocks"] else None, tuple(MODES),
         "o"),
    )
    for ax, (label, key, order, style) in zip(axes, panels):
        points = [(key(r), r["score"]) for r in done if key(r) is not None]
        if order is None:
            columns = sorted({k for k, _ in points})
        else:
            columns = [c for c in order if any(k == c for k, _ in points)]
        positions = {c: i for i, c in enumerate(columns)}
        xs = [positions[k] for k, _ in points]
        ax.scatter(xs, [s for _, s in points], s=18, alpha=0.6, color="tab:blue", label="trial")
        pick = max if direction == "max" else min
        best = [pick(s for k, s in points if k == c) for c in columns]
        ax.plot(range(len(columns)), best, style, color="tab:orange", markersize=7, label="best")
        if baseline:
            ax.axhline(baseline[0], linestyle="--", color="gray", label="baseline (0 blocks)")
        ax.set_xticks(range(len(columns)))
        ax.set_xticklabels([str(c).replace("_", "\n") for c in columns], fontsize=8)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(objective_name)
    axes[0].legend(fontsize=8, loc="best")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
