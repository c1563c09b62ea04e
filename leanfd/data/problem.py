"""The problem and attempt values every package passes around."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """A theorem to prove.

    ``statement`` is the theorem text up to and including ``:=`` (e.g.
    ``theorem foo (n : Nat) : n + 0 = n :=``); a proof is what follows it. ``header`` is text placed
    before the statement (imports, ``open``); the embedded backend supports only core Lean headers.
    ``original_statement`` keeps the statement as the source file had it (miniF2F ends in ``:= by``).
    ``source`` says where the problem comes from (e.g. ``minif2f``) and ``difficulty`` is the suite's
    tier for it (the core suite uses ``decide``, ``omega``, ``auto``, ``manual``, ``hard``).
    """

    name: str
    statement: str
    header: str = ""
    split: str | None = None
    informal: str | None = None
    reference_proof: str | None = None
    original_statement: str | None = None
    source: str | None = None
    difficulty: str | None = None


@dataclass(frozen=True)
class Attempt:
    """A candidate proof of ``problem``: either ``proof``, the text that follows the statement's
    ``:=``, or ``file``, a whole Lean file (its own imports, ``open``s, helper lemmas, then the
    theorem named as in the statement). ``Attempt(problem, proof)`` keeps its positional form."""

    problem: Problem
    proof: str | None = None
    file: str | None = None

    def __post_init__(self) -> None:
        if (self.proof is None) == (self.file is None):
            given = "both" if self.proof is not None else "neither"
            raise ValueError(
                f"attempt at {self.problem.name!r}: give exactly one of proof= (the text after the "
                f"statement's ':=') or file= (a whole Lean file); got {given}"
            )
