"""The leaderboard's table, CSV and summary from rows."""

import csv
import io

from keras_nonlocal.tuning import leaderboard
from keras_nonlocal.tuning.plots import plot_leaderboard


def row(trial_id, rank, score, num_blocks, stages, mode, status="COMPLETED"):
    return {
        "rank": rank, "trial_id": trial_id, "status": status, "score": score,
        "placement": "none" if not num_blocks else f"{stages}[0]", "blocks": str(num_blocks),
        "num_blocks": num_blocks, "stages": stages, "mode": mode, "attention_axes": "spacetime",
        "sub_sample": True, "variant": mode or "baseline", "params": 66250.0, "flops": 4.5e6,
        "val_accuracy": score, "val_loss": 0.3, "epochs": 8, "fit_seconds": 12.34,
    }


ROWS = [
    row("1", 1, 0.98, 1, "res4", "embedded_gaussian"),
    row("2", 2, 0.95, 2, "res3+res4", "gaussian"),
    row("0", 3, 0.51, 0, "-", None),
    row("3", None, None, 1, "res2", "dot_product", status="FAILED"),
]


def test_markdown_table_has_every_column_and_marks_failed_trials():
    text = leaderboard.format_markdown(ROWS)
    lines = text.splitlines()
    assert lines[0].startswith("| rank | trial | placement | blocks | stages | variant | params | FLOPs |")
    assert "| 1 | 1 | res4[0] | 1 | res4 | embedded_gaussian | 66.25k | 4.50M | 0.980 |" in text
    assert lines[-1].startswith("| failed | 3 |")


def test_csv_keeps_raw_numbers():
    rows = list(csv.DictReader(io.StringIO(leaderboard.format_csv(ROWS))))
    assert [r["trial_id"] for r in rows] == ["1", "2", "0", "3"]
    assert rows[0]["flops"] == "4500000.0" and rows[3]["score"] == ""


def test_summary_gives_the_best_per_count_stage_and_function():
    summary = leaderboard.summarize(ROWS)
    assert summary["blocks"] == [(0, 0.51, 1), (1, 0.98, 1), (2, 0.95, 1)]
    assert summary["stage"] == [("none", 0.51, 1), ("res4", 0.98, 1)]  # single-stage only
    assert summary["mode"] == [("baseline", 0.51, 1), ("gaussian", 0.95, 1), ("embedded_gaussian", 0.98, 1)]


def test_files_are_written(tmp_path):
    csv_path, md_path = leaderboard.write_leaderboard(ROWS, tmp_path, "val_accuracy")
    assert "best val_accuracy" in open(md_path).read()
    png = plot_leaderboard(ROWS, str(tmp_path / "p.png"), "val_accuracy", title="t")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
