"""A controlled set of failed attempts for the feedback analysis: reference proofs with one step
corrupted (a wrong lemma, a wrong tactic, a dropped step), kept only where Lean confirms that the
proof now fails at the corrupted step and that a correct prefix precedes it.

Seeded: the same suite, seed and Lean verdicts give the same set. Each kept case carries its
verdict and the rule critic's critique, so the analysis never re-verifies it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from leanfd.critic.rule import step_aligned_critique
from leanfd.critic.steps import ProofSteps, Step, split_steps
from leanfd.critic.types import Critique
from leanfd.data.problem import Attempt, Problem
from leanfd.lean.types import Verdict
from leanfd.syntax import tokenize

KINDS = ("wrong_lemma", "wrong_tactic", "dropped_step")
#: Replacements for a tactic step: cheap tactics that fail fast on a goal they cannot close (a
#: replacement that happens to work, e.g. ``trivial`` on ``True``, is dropped by the Lean check).
WRONG_TACTICS = ("rfl", "assumption", "contradiction", "trivial")
#: A core library constant as the reference proofs write them (``Nat.lt_of_not_le``).
_CONSTANT = re.compile(r"(?:Nat|Int|List)\.[A-Za-z_][\w'.]*")


@dataclass(frozen=True)
class Corruption:
    """``proof`` is ``problem.reference_proof`` with ``original`` replaced by ``replacement`` (empty
    for a dropped step); ``at`` is the character offset in ``proof`` where it now fails: the
    replaced lemma, the replaced tactic, or the step that follows the dropped one."""

    problem: Problem
    kind: str
    proof: str
    at: int
    original: str
    replacement: str

    def expected_step(self) -> Step | None:
        """The innermost step of ``proof`` that holds ``at``: where Lean must report the failure."""
        return innermost(split_steps(self.proof), self.at)


@dataclass
class ControlledCase:
    """A corruption that Lean rejects at the corrupted step, with its verdict and critique."""

    corruption: Corruption
    verdict: Verdict
    critique: Critique


def innermost(steps: ProofSteps, offset: int) -> Step | None:
    """The deepest step whose character span holds ``offset`` (``None`` between steps)."""
    best = None
    for s in steps.steps:
        if s.start <= offset < s.end and (best is None or s.depth >= best.depth):
            best = s
    return best


def lemma_pool(problems: Sequence[Problem]) -> list[str]:
    """Every core library constant the reference proofs use, sorted: the wrong lemmas come from here."""
    names = set()
    for p in problems:
        for t in tokenize(p.reference_proof or ""):
            if t.kind == "ident" and _CONSTANT.fullmatch(t.text):
                names.add(t.text)
    return sorted(names)


def _leaves(steps: ProofSteps) -> list[Step]:
    """Leaf steps after the first step (so a correct prefix always precedes them)."""
    first = steps.steps[0].start if steps.steps else 0
    return [s for s in steps.leaves() if s.start > first]


def _splice(proof: str, start: int, end: int, new: str) -> str:
    return proof[:start] + new + proof[end:]


def corruptions(problem: Problem, kind: str, pool: Sequence[str] = ()) -> list[Corruption]:
    """Every corruption of ``kind`` of ``problem``'s reference proof, in text order.

    - ``wrong_lemma``: a core constant in a leaf step replaced by another one from ``pool``;
    - ``wrong_tactic``: a leaf tactic step replaced by one of :data:`WRONG_TACTICS`;
    - ``dropped_step``: a leaf step on lines of its own removed, where a sibling step follows it.
    """
    proof = problem.reference_proof or ""
    steps = split_steps(proof)
    out: list[Corruption] = []
    for s in _leaves(steps):
        if kind == "wrong_lemma" and s.kind in ("tactic", "have", "calc_step"):
            for t in tokenize(s.text):
                if t.kind == "ident" and _CONSTANT.fullmatch(t.text):
                    a = s.start + t.start
                    for other in pool:
                        if other != t.text:
                            new = _splice(proof, a, a + len(t.text), other)
                            out.append(Corruption(problem, kind, new, a, t.text, other))
        elif kind == "wrong_tactic" and s.kind == "tactic":
            head = s.text.split()[0]
            for tac in WRONG_TACTICS:
                if tac != head:
                    new = _splice(proof, s.start, s.end, tac)
                    out.append(Corruption(problem, kind, new, s.start, s.text, tac))
        elif kind == "dropped_step" and s.kind in ("tactic", "have"):
            line_start = proof.rfind("\n", 0, s.start) + 1
            line_end = proof.find("\n", s.end)
            nxt = next(
                (t for t in steps.steps if t.parent == s.parent and t.depth == s.depth and t.start > s.end),
                None,
            )
            if proof[line_start : s.start].strip() or line_end < 0 or proof[s.end : line_end].strip():
                continue  # shares a line with another step (``a; b``, ``<;>``)
            if nxt is None:
                continue  # the last step of its block: Lean would blame the block, not a step
            removed = line_end + 1 - line_start
            new = proof[:line_start] + proof[line_end + 1 :]
            out.append(Corruption(problem, kind, new, nxt.start - removed, proof[line_start:line_end], ""))
    return out


def candidates(problems: Sequence[Problem], seed: int = 0) -> list[Corruption]:
    """One corruption per (multi-step problem, kind), drawn with ``seed``, ordered round-robin over
    the kinds (each kind's list shuffled), so a prefix of the list is balanced across kinds."""
    rng = random.Random(seed)
    pool = lemma_pool(problems)
    by_kind: dict[str, list[Corruption]] = {k: [] for k in KINDS}
    for p in sorted(problems, key=lambda p: p.name):
        if not p.reference_proof or len(split_steps(p.reference_proof).steps) < 2:
            continue
        for kind in KINDS:
            found = corruptions(p, kind, pool)
            if found:
                by_kind[kind].append(rng.choice(found))
    for kind in KINDS:
        rng.shuffle(by_kind[kind])
    out = []
    for i in range(max(map(len, by_kind.values()), default=0)):
        out += [by_kind[k][i] for k in KINDS if i < len(by_kind[k])]
    return out


def confirms(c: Corruption, verdict: Verdict, critique: Critique) -> bool:
    """Lean rejected the proof with a located message, the rule critic blames exactly the corrupted
    step, and a correct prefix (more than the opening ``by``) precedes it."""
    expected = c.expected_step()
    return (
        not verdict.ok
        and expected is not None
        and critique.located_by == "lean"
        and critique.first_failing == expected.index
        and critique.prefix.strip() not in ("", "by")
    )


def build_controlled_set(
    problems: Sequence[Problem],
    verify: Callable[[Sequence[Attempt]], list[Verdict]],
    *,
    limit: int = 30,
    seed: int = 0,
    chunk: int = 12,
    progress: bool = True,
) -> tuple[list[ControlledCase], dict[str, int]]:
    """Verify :func:`candidates` in chunks of ``chunk`` until ``limit`` are confirmed
    (:func:`confirms`); return the kept cases and counts (``tried``, ``kept``, ``proved``: a
    corruption Lean still accepted, ``elsewhere``: one that failed at another step or unlocated)."""
    from tqdm.auto import tqdm

    todo = candidates(problems, seed)
    kept: list[ControlledCase] = []
    counts = {"candidates": len(todo), "tried": 0, "kept": 0, "proved": 0, "elsewhere": 0}
    bar = tqdm(total=limit, desc="controlled set", unit="proof", disable=not progress)
    for i in range(0, len(todo), chunk):
        if len(kept) >= limit:
            break
        part = todo[i : i + chunk]
        verdicts = verify([Attempt(c.problem, c.proof) for c in part])
        for c, v in zip(part, verdicts, strict=True):
            counts["tried"] += 1
            if v.ok:
                counts["proved"] += 1
                continue
            crit = step_aligned_critique(c.problem, c.proof, v)
            if confirms(c, v, crit) and len(kept) < limit:
                kept.append(ControlledCase(c, v, crit))
                bar.update(1)
            elif not confirms(c, v, crit):
                counts["elsewhere"] += 1
    bar.close()
    counts["kept"] = len(kept)
    return kept, counts
