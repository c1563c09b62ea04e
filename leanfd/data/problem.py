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
    """A candidate proof of ``problem``: the text that follows the statement's ``:=``."""

    problem: Problem
    proof: str
