"""Figures of the feedback analysis (:mod:`leanfd.train.feedback_alignment`): attempts as tokens
coloured by the teacher's gap, one row per condition; and the share of |gap| in the failing step."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from leanfd.io import atomic_write

#: Tokens shown per attempt; a longer attempt is cropped to a window around its failing step.
MAX_TOKENS = 110


def _label(token: str) -> str:
    return token.replace("\n", "⏎").replace(" ", "·") or "∅"


def _window(segments: Sequence[str | None], width: int) -> tuple[int, int]:
    n = len(segments)
    if n <= width:
        return 0, n
    failing = [i for i, s in enumerate(segments) if s == "failing"] or [0]
    lo = max(0, min(failing[0] - width // 3, n - width))
    return lo, lo + width


def plot_token_gaps(analysed: Sequence, out: Path, max_tokens: int = MAX_TOKENS) -> Path:
    """One panel per attempt (an :class:`~leanfd.train.feedback_alignment.Analysed`): a cell per
    token and condition, coloured by log p_T − log p_S (blue: the teacher raises the student's
    token, red: lowers it). The failing step's token labels are red, tokens outside the proof grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    if not analysed:
        raise ValueError("plot_token_gaps: no attempts to draw")
    widths = [min(len(a.tokens), max_tokens) for a in analysed]
    fig, axes = plt.subplots(
        len(analysed),
        1,
        figsize=(max(8.0, 0.16 * max(widths) + 2.5), sum(1.6 + 0.3 * len(a.gaps) for a in analysed)),
        dpi=120,
        squeeze=False,
        gridspec_kw={"height_ratios": [len(a.gaps) + 4 for a in analysed]},
    )
    for ax, a in zip(axes[:, 0], analysed, strict=True):
        lo, hi = _window(a.alignment.segments, max_tokens)
        conds = list(a.gaps)
        grid = np.array([a.gaps[c][lo:hi] for c in conds])
        inside = [i - lo for i in range(lo, hi) if a.alignment.segments[i] is not None]
        scale = float(np.percentile(np.abs(grid[:, inside]), 98)) if inside else 1.0
        im = ax.imshow(grid, aspect="auto", cmap="RdBu", vmin=-max(scale, 1e-6), vmax=max(scale, 1e-6))
        ax.set_yticks(range(len(conds)), conds, fontsize=7)
        ax.set_xticks(range(hi - lo), [_label(t) for t in a.tokens[lo:hi]], rotation=90, fontsize=6)
        for label, seg in zip(ax.get_xticklabels(), a.alignment.segments[lo:hi], strict=True):
            label.set_color("red" if seg == "failing" else "0.6" if seg is None else "black")
        failing = [i - lo for i in range(lo, hi) if a.alignment.segments[i] == "failing"]
        if failing:
            ax.axvline(failing[0] - 0.5, color="k", lw=0.8)
            ax.axvline(failing[-1] + 0.5, color="k", lw=0.8)
        step = a.case.critique.failing_step.text.splitlines()[0]
        ax.set_title(f"{a.case.set} · {a.case.id} · failing step: {step}", fontsize=8, loc="left")
        fig.colorbar(im, ax=ax, fraction=0.02, pad=0.01).set_label("log p_T − log p_S", fontsize=7)
    fig.tight_layout()
    atomic_write(out, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return out


def plot_shares(summary, out: Path) -> Path:
    """Left: per condition and input, the share of |gap| in the failing step (bars) against the
    step's share of the tokens (black ticks: what a uniform |gap| would give). Right, one panel per
    input: mean |gap| in the prefix, the failing step and after it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    sets = list(dict.fromkeys(summary["set"]))
    conds = list(dict.fromkeys(summary["condition"]))
    fig, axes = plt.subplots(1, 1 + len(sets), figsize=(5 + 4.5 * len(sets), 4), dpi=120, squeeze=False)
    ax = axes[0, 0]
    x = np.arange(len(conds))
    w = 0.8 / len(sets)
    for j, s in enumerate(sets):
        sub = summary[summary["set"] == s].set_index("condition").reindex(conds)
        pos = x - 0.4 + w * (j + 0.5)
        ax.bar(pos, sub["share_failing"], w, label=f"{s} (n={int(sub['attempts'].fillna(0).max())})")
        ax.hlines(sub["token_share_failing"], pos - w / 2, pos + w / 2, colors="k", lw=1.5)
    ax.set_xticks(x, conds, rotation=20, fontsize=8)
    ax.set_ylabel("share of |gap| in the failing step")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, title="black: its share of tokens", title_fontsize=7)
    for j, s in enumerate(sets):
        ax = axes[0, j + 1]
        sub = summary[summary["set"] == s].set_index("condition").reindex(conds)
        for i, seg in enumerate(("prefix", "failing", "after")):
            ax.bar(x - 0.3 + 0.3 * i, sub[f"abs_gap_{seg}"], 0.3, label=seg)
        ax.set_xticks(x, conds, rotation=20, fontsize=8)
        ax.set_ylabel("mean |log p_T − log p_S| per token")
        ax.set_title(s, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(out, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return out
