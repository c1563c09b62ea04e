"""Pick few-shot examples for prompts, never from the split being evaluated."""

from __future__ import annotations

import random
from collections.abc import Sequence

from leanfd.data.problem import Problem


def few_shot_examples(
    suite: Sequence[Problem] | str,
    exclude_split: str,
    k: int,
    seed: int = 0,
) -> list[Problem]:
    """Return ``k`` problems with reference proofs whose split is not ``exclude_split``.

    ``suite`` is a list of problems (the whole suite, all splits) or a name/path for
    :func:`leanfd.data.load_suite`. The choice is a seeded sample, so the same seed gives the same
    examples. Raises ``ValueError`` if fewer than ``k`` eligible problems exist.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if not exclude_split:
        raise ValueError("exclude_split must name the evaluated split, so no example leaks from it")
    if isinstance(suite, str):
        from leanfd.data.loaders import load_suite

        suite = load_suite(suite)
    pool = [p for p in suite if p.split != exclude_split and p.reference_proof]
    if k > len(pool):
        raise ValueError(
            f"asked for {k} few-shot examples outside split {exclude_split!r}, but the suite has only "
            f"{len(pool)} problems with a reference proof in other splits; lower k or use a suite "
            "with reference proofs (e.g. 'core')"
        )
    # Sample from a name-sorted pool so the choice depends on the seed, not on the file's row order.
    pool.sort(key=lambda p: p.name)
    return random.Random(seed).sample(pool, k)
