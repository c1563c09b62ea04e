"""Evaluation: unbiased pass@k, Avg@n, token entropy, the evaluate loop, tables and plots.

The metrics load on first use, so ``leanfd.eval.config`` (the CLI imports it to build ``leanfd eval``)
does not import numpy into every command.
"""

__all__ = ["pass_at_k", "avg_at_n", "mean_token_entropy", "entropy_summary"]


def __getattr__(name: str):
    if name in __all__:
        from leanfd.eval import metrics

        return getattr(metrics, name)
    raise AttributeError(f"module 'leanfd.eval' has no attribute {name!r}")
