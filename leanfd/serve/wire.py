"""The JSON shape of attempts on the wire (verdicts use ``Verdict.to_dict``/``from_dict``)."""

from __future__ import annotations

from dataclasses import asdict, fields

from leanfd.data.problem import Attempt, Problem

_PROBLEM_FIELDS = tuple(f.name for f in fields(Problem))


def attempt_to_dict(a: Attempt) -> dict:
    """``{"problem": {Problem fields}, "proof": str}``."""
    return {"problem": asdict(a.problem), "proof": a.proof}


def attempt_from_dict(d: dict) -> Attempt:
    p = d["problem"]
    unknown = set(p) - set(_PROBLEM_FIELDS)
    if unknown:
        raise ValueError(f"unknown problem field(s) {sorted(unknown)}; expected some of {_PROBLEM_FIELDS}")
    return Attempt(problem=Problem(**p), proof=d["proof"])
