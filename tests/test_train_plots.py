"""Training-curve plots and run labels for overlaid plots."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from leanfd.cli import app
from leanfd.eval.plots import run_labels
from leanfd.train.plots import read_metrics


def test_run_labels_use_names_when_unique_else_paths_without_eval(tmp_path):
    assert run_labels([tmp_path / "a", tmp_path / "b"]) == ["a", "b"]
    runs = [
        tmp_path / "fd" / "eval" / "before",
        tmp_path / "fd" / "eval" / "after",
        tmp_path / "grpo" / "eval" / "after",
    ]
    assert run_labels(runs) == ["fd/before", "fd/after", "grpo/after"]


def _metrics(path: Path, phases: list[str]) -> None:
    path.mkdir(parents=True)
    n = len(phases)
    pd.DataFrame(
        {
            "step": range(1, n + 1),
            "phase": phases,
            "reward_mean": [0.1 * i for i in range(n)],
            "entropy": [2.0 - 0.1 * i for i in range(n)],
            "loss": [0.5] * n,
            "kl_student_teacher": [0.05 if p == "fd" else float("nan") for p in phases],
        }
    ).to_csv(path / "metrics.csv", index=False)


def test_plot_train_writes_a_png(tmp_path):
    _metrics(tmp_path / "fd", ["fd"] * 3)
    _metrics(tmp_path / "fd-grpo", ["fd", "fd", "grpo", "grpo"])
    out = tmp_path / "training.png"
    res = CliRunner().invoke(
        app, ["plot-train", str(tmp_path / "fd"), str(tmp_path / "fd-grpo"), "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".training.png*"))  # atomic write left no temporary file


def test_plot_train_names_a_missing_or_empty_run(tmp_path):
    res = CliRunner().invoke(app, ["plot-train", str(tmp_path / "nope"), "-o", str(tmp_path / "x.png")])
    assert res.exit_code != 0 and "not a `leanfd train` output directory" in res.output
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "metrics.csv").write_text("step,phase,reward_mean\n")
    with pytest.raises(ValueError, match="no steps yet"):
        read_metrics(tmp_path / "empty")
