"""Evaluation: unbiased pass@k, Avg@n, token entropy, the evaluate loop, tables and plots."""

from leanfd.eval.metrics import avg_at_n, entropy_summary, mean_token_entropy, pass_at_k

__all__ = ["pass_at_k", "avg_at_n", "mean_token_entropy", "entropy_summary"]
