"""A training run's logs: ``metrics.csv`` (one row per step), TensorBoard scalars, ``rollouts.jsonl``
(every attempt; in an episode run, every episode whole), ``eval/summary.jsonl`` and the console lines. On resume, rows past the resumed
step (and a line cut short by a kill) are dropped, so the logs read as one uninterrupted run."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path
from typing import Any

import torch

from leanfd.io import append_jsonl, atomic_write, read_jsonl, write_jsonl_atomic
from leanfd.train.rollout import RolloutBatch

#: Columns of metrics.csv, in order (a phase that does not produce a metric leaves it NaN). The
#: last five are the loss diagnostics of ``losses.py`` not logged under another name
#: (``kl_student_teacher`` is ``fd_kl``); new columns go at the end so old readers keep working.
METRIC_COLUMNS = [
    "step",
    "phase",
    "reward_mean",
    "zero_var_frac",
    "loss",
    "entropy",
    "kl_student_teacher",
    "clip_frac",
    "approx_kl",
    "teacher_frac",
    "teacher_logp_gap",
    "grad_norm",
    "lr",
    "completion_len_mean",
    "no_proof_frac",
    "tokens_per_s",
    "sample_s",
    "verify_s",
    "update_s",
    "step_s",
    "ref_kl",
    "ratio_mean",
    "is_weight_mean",
    "fd_div",
    "student_entropy",
]

#: Step metrics summed over ranks rather than averaged (the whole job's throughput).
SUMMED_OVER_RANKS = ("tokens_per_s",)


def say(line: str) -> None:
    """A log line that shows at once, above any progress bar, also when stdout is a file."""
    from tqdm.auto import tqdm

    tqdm.write(line)
    sys.stdout.flush()


def rollout_rows(step: int, phase: str, batch: RolloutBatch) -> list[dict[str, Any]]:
    """One JSON-able row per attempt of a step, for ``rollouts.jsonl``."""
    rows = []
    for r in batch.rollouts:
        errors = r.verdict.errors
        rows.append(
            {
                "step": step,
                "phase": phase,
                "problem": r.problem.name,
                "group": r.group,
                "completion": r.text,
                "completion_tokens": len(r.completion_ids),
                "proof": r.proof,
                "status": r.verdict.status,
                "reason": r.verdict.reason,
                "first_error": errors[0].text if errors else None,
                "reward": r.reward,
                "feedback": r.feedback,
            }
        )
        if r.episode is not None:  # the whole episode: turns, calls, observations, verdicts, ids, mask
            ep = r.episode
            rows[-1]["completion_tokens"] = ep["policy_tokens"]
            rows[-1].update(
                {k: ep[k] for k in ("turns", "tool_calls", "checks", "proved_turn", "env_tokens")}
            )
            rows[-1]["episode"] = ep["episode"]
    return rows


def reduce_over_ranks(acc, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` (one step's metrics on this rank) with every number reduced over the ranks of
    ``acc``: the mean, skipping ranks where a metric is NaN (a rank whose problems gave no FD row
    has no FD diagnostics), and the sum for :data:`SUMMED_OVER_RANKS`. Every rank must call it."""
    if acc.num_processes == 1:
        return row
    keys = [k for k, v in row.items() if isinstance(v, (int, float)) and k != "step"]
    local = torch.tensor([float(row[k]) for k in keys], dtype=torch.float64, device=acc.device)
    ranks = acc.gather(local.unsqueeze(0)).cpu()  # (world, len(keys))
    present = ~ranks.isnan()
    total = torch.where(present, ranks, 0.0).sum(0)
    count = present.sum(0)
    out = dict(row)
    for i, k in enumerate(keys):
        if k in SUMMED_OVER_RANKS:
            out[k] = float(total[i])
        else:
            out[k] = float(total[i] / count[i]) if count[i] else math.nan
    return out


class RunLog:
    """The logs of one run in ``out``. Rank 0 (``main``) writes metrics.csv, TensorBoard and the eval
    summary; every rank writes its own attempts (``rollouts.rank<i>.jsonl`` when ``world`` > 1)."""

    def __init__(
        self,
        out: Path,
        *,
        main: bool,
        steps: int,
        rank: int = 0,
        world: int = 1,
        tensorboard: bool = False,
        log_rollouts: bool = False,
        columns: list[str] | None = None,
    ) -> None:
        self.out = Path(out)
        #: metrics.csv's columns: :data:`METRIC_COLUMNS`, then an episode run's (leanfd.train.episodes)
        self.columns = list(columns or METRIC_COLUMNS)
        self.main = main
        self.steps = steps
        self.tensorboard = tensorboard
        self.log_rollouts = log_rollouts
        self.metrics_path = self.out / "metrics.csv"
        self.rollouts_path = self.out / ("rollouts.jsonl" if world == 1 else f"rollouts.rank{rank}.jsonl")
        self._writer = None

    def open(self, step: int) -> None:
        """Start (or resume at ``step``): drop logged rows past ``step``, write metrics.csv's header,
        open TensorBoard with the events past ``step`` purged."""
        self.out.mkdir(parents=True, exist_ok=True)
        if self.log_rollouts and self.rollouts_path.exists():
            kept = [
                r
                for _, r in read_jsonl(self.rollouts_path, required=("step",), strict=False)
                if isinstance(r["step"], int) and r["step"] <= step
            ]
            write_jsonl_atomic(self.rollouts_path, kept)
        if not self.main:
            return
        kept_rows: list[dict] = []
        if self.metrics_path.exists():
            with open(self.metrics_path, newline="") as f:
                kept_rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]

        def write(tmp: Path) -> None:
            with open(tmp, "w", newline="") as f:
                w = csv.DictWriter(f, self.columns, extrasaction="ignore")
                w.writeheader()
                w.writerows(kept_rows)

        atomic_write(self.metrics_path, write)
        if self.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.out / "tensorboard"), purge_step=step + 1 if step else None)

    def rollouts(self, step: int, phase: str, batch: RolloutBatch) -> None:
        """This rank's attempts of ``step`` (one write per step)."""
        if self.log_rollouts:
            append_jsonl(self.rollouts_path, rollout_rows(step, phase, batch))

    def step(self, row: dict[str, Any], *, echo: bool = False) -> None:
        """One step's metrics (rank 0): a metrics.csv row, TensorBoard scalars, and with ``echo`` a
        console line."""
        if not self.main:
            return
        with open(self.metrics_path, "a", newline="") as f:
            csv.DictWriter(f, self.columns, extrasaction="ignore").writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
            )
        self._scalars("train", row, row["step"], skip=("step",))
        if echo:
            say(
                f"step {row['step']}/{self.steps} [{row['phase']}] reward {row['reward_mean']:.3f} "
                f"zero-var {row['zero_var_frac']:.2f} loss {row['loss']:.4g} entropy {row['entropy']:.3f} "
                f"kl(s|t) {row['kl_student_teacher']:.4g} clip {row['clip_frac']:.3f} "
                f"verify {row['verify_s']:.1f}s step {row['step_s']:.1f}s"
                + (
                    f" | episodes: {row['turns_mean']:.2f} turns, {row['checks_mean']:.2f} checks, "
                    f"{row['tool_calls_mean']:.2f} tool calls"
                    if "turns_mean" in row
                    else ""
                )
            )

    def eval(self, tag: str, step: int, result: dict[str, float], *, split: str, n: int) -> None:
        """One evaluation of the policy (rank 0): a line in ``eval/summary.jsonl``, TensorBoard
        scalars and a console line."""
        if not self.main:
            return
        append_jsonl(self.out / "eval" / "summary.jsonl", [{"tag": tag, "step": step, **result}])
        passk = " ".join(f"{k} {v:.3f}" for k, v in result.items() if k.startswith("pass@"))
        say(
            f"eval at step {step}: {passk} entropy/token {result['entropy_per_token']:.3f} "
            f"({split} split, n={n})"
        )
        self._scalars("eval", result, step)

    def _scalars(self, prefix: str, values: dict[str, Any], step: int, skip: tuple[str, ...] = ()) -> None:
        if self._writer is None:
            return
        for k, v in values.items():
            if isinstance(v, (int, float)) and k not in skip and math.isfinite(v):
                self._writer.add_scalar(f"{prefix}/{k}", v, step)
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
