"""Align Lean's messages with proof steps: which step each message belongs to, which steps ran,
the first failing step, and the goal state there.

Lean's recovery rules decide what "not reached" means (measured on the embedded Lean 4.28): a
tactic that throws (``omega``, ``simp``, ``rw``, a type mismatch in ``exact``…) ends its tactic
sequence, so later steps of that sequence never run; an unknown identifier inside a term is
elaborated as ``sorry`` and the sequence goes on; a failing ``·``/``case`` block, ``| alt =>`` or
nested ``have … := by`` is admitted and the enclosing sequence goes on. A step Lean reports an
error for is always ``failed``, even where these rules say it should not have run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from leanfd.critic.steps import Block, ProofSteps
from leanfd.data.problem import Problem
from leanfd.lean.types import LeanMessage

#: Errors Lean recovers from inside a tactic sequence (the term becomes ``sorry``): measured.
_RECOVERED = re.compile(r"^(unknown (identifier|constant)|Unknown (identifier|constant))")
_PARSE_ERROR = re.compile(r"^(unexpected |unknown tactic|expected )")


def is_parse_error(text: str) -> bool:
    """Whether a Lean message is a syntax error (the text after it was not parsed)."""
    return bool(_PARSE_ERROR.match(text))


@dataclass(frozen=True)
class GoalInfo:
    """What a Lean message says about the goal where it was raised.

    ``goal`` is the goal state (hypotheses and ``⊢`` lines, several goals separated by a blank
    line); ``expected``/``actual`` come from a type mismatch; ``facts`` from ``omega``'s
    counterexample constraints; ``proposition`` from a ``decide`` that found the goal false.
    """

    goal: str | None = None
    expected: str | None = None
    actual: str | None = None
    facts: str | None = None
    proposition: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _indented_after(text: str, marker: str) -> str | None:
    """The indented lines right after the line ``marker`` (Lean prints expressions indented by 2)."""
    idx = text.find(marker + "\n")
    if idx < 0:
        return None
    out = []
    for line in text[idx + len(marker) + 1 :].split("\n"):
        if not line.startswith("  "):
            break
        out.append(line[2:])
    return "\n".join(out) or None


def extract_goal(text: str) -> GoalInfo:
    """Read the goal state (and related facts) out of one Lean message text.

    >>> extract_goal("unsolved goals\\nn : Nat\\n⊢ n + 1 > n").goal
    'n : Nat\\n⊢ n + 1 > n'
    >>> extract_goal("Type mismatch\\n  h\\nhas type\\n  a < b\\nbut is expected to have type\\n  a ≤ b").expected
    'a ≤ b'
    """
    first, _, rest = text.partition("\n")
    if first.startswith("unsolved goals"):
        return GoalInfo(goal=rest.strip() or None)
    if first.startswith("omega could not prove the goal"):
        return GoalInfo(facts=rest.strip() or None)
    goal_paragraphs = [p for p in text.split("\n\n") if "⊢" in p]
    goal = "\n\n".join(p.strip() for p in goal_paragraphs) or None
    return GoalInfo(
        goal=goal,
        expected=_indented_after(text, "but is expected to have type"),
        actual=_indented_after(text, "has type"),
        proposition=_indented_after(text, "proved that the proposition") if "is false" in text else None,
    )


class GoalSource(Protocol):
    """Anything that can tell the goal before each tactic, e.g. the verifier reading Lean's info
    trees. Keys are the ``(line, col)`` where a tactic starts (proof-relative, like messages)."""

    def goals(self, problem: Problem, proof: str) -> dict[tuple[int, int], str]: ...


def goals_from_entries(entries: Sequence[dict]) -> dict[tuple[int, int], str]:
    """Goal-before by tactic start, from the verifier's goal entries
    (``{line, col, end_line, end_col, tactic, before, after}``, as in ``Verdict.goals``). Several
    syntax nodes start where a tactic starts; they share the goal before it, so the first wins."""
    out: dict[tuple[int, int], str] = {}
    for g in entries:
        if g.get("line", 0) >= 1 and g.get("before"):
            out.setdefault((g["line"], g["col"]), g["before"])
    return out


class VerifierGoals:
    """A :class:`GoalSource` that asks a warm :class:`leanfd.lean.Verifier` for the goals before
    each tactic (one more elaboration of the attempt, ~50 ms once the session is warm)."""

    def __init__(self, verifier) -> None:
        self.verifier = verifier

    def goals(self, problem: Problem, proof: str) -> dict[tuple[int, int], str]:
        from leanfd.data.problem import Attempt

        _, entries = self.verifier.goals(Attempt(problem, proof))
        return goals_from_entries(entries)


@dataclass
class Alignment:
    """Messages placed on steps, and what that says about each step.

    ``verdicts[i]`` is ``ok``/``failed``/``not reached`` for ``steps.steps[i]``; ``messages[i]`` are
    the messages placed on step ``i`` (errors first); ``unplaced`` are messages about the statement
    (``line <= 0``) or a proof without steps. ``goal`` is the goal at the first failing step.
    """

    steps: ProofSteps
    messages: dict[int, list[LeanMessage]]
    verdicts: list[str]
    first_failing: int | None
    goal: GoalInfo | None
    unplaced: list[LeanMessage] = field(default_factory=list)
    goals_before: dict[int, str] = field(default_factory=dict)

    def errors(self, index: int) -> list[LeanMessage]:
        return [m for m in self.messages.get(index, []) if m.severity == "error"]


def _block_at(steps: ProofSteps, line: int, col: int) -> Block | None:
    """The non-empty block opened at ``(line, col)`` (by its ``by``/``·``/``=>`` or its owner's start)."""
    for b in steps.blocks:
        owner = steps.steps[b.owner] if b.owner is not None else None
        opened_here = (b.opener.line, b.opener.col) == (line, col)
        owner_here = owner is not None and (owner.span.line, owner.span.col) == (line, col)
        if b.steps and (opened_here or owner_here):
            return b
    return None


def place_message(steps: ProofSteps, msg: LeanMessage, parse_error_step: int | None = None) -> int | None:
    """The index of the step ``msg`` belongs to, or ``None`` for the statement / no step.

    The innermost step containing the message start; an ``unsolved goals`` error reported on a
    block's opener goes to the block's last step (the proof ended with goals left), or to the
    step with a syntax error when the parser stopped inside that block; a message past every
    step goes to the last step before it.
    """
    if msg.line <= 0 or not steps.steps:
        return None
    if msg.text.startswith("unsolved goals"):
        b = _block_at(steps, msg.line, msg.col)
        if b is not None:
            pe = parse_error_step
            if pe is not None and (b.owner is None or pe == b.owner or pe in steps.descendants(b.owner)):
                return pe
            return b.steps[-1]
    inner = steps.innermost_at(msg.line, msg.col)
    if inner is not None:
        return inner.index
    # Past every step (a syntax error at the end of the text) goes to the step before it. Before
    # every step means the statement: the verifier clamps statement positions on the proof's first
    # line to (1, 0), e.g. ``declaration uses `sorry` `` on the theorem name.
    before = steps.last_before(msg.line, msg.col)
    return before.index if before is not None else None


def align(
    steps: ProofSteps,
    messages: Sequence[LeanMessage],
    *,
    goals: Mapping[tuple[int, int], str] | None = None,
) -> Alignment:
    """Place ``messages`` on ``steps`` and decide each step's verdict and the first failing step.

    ``goals`` (goal before the tactic starting at ``(line, col)``, from a :class:`GoalSource`),
    when given, is attached to the steps and used at the first failing step when Lean's message
    there carries no goal.
    """
    parse_errors = [m for m in messages if m.severity == "error" and is_parse_error(m.text) and m.line > 0]
    pe_step = None
    if parse_errors:
        first_pe = min(parse_errors, key=lambda m: (m.line, m.col))
        pe_step = place_message(steps, first_pe)

    placed: dict[int, list[LeanMessage]] = {}
    unplaced: list[LeanMessage] = []
    for m in messages:
        idx = place_message(steps, m, pe_step)
        if idx is None:
            unplaced.append(m)
        else:
            placed.setdefault(idx, []).append(m)
    for lst in placed.values():
        # errors first; among them the cause before its consequences: a syntax error, then a
        # tactic's own error, then the "unsolved goals" a cut-short block leaves behind
        lst.sort(
            key=lambda m: (
                m.severity != "error",
                not is_parse_error(m.text),
                m.text.startswith("unsolved goals"),
                m.line,
                m.col,
            )
        )

    def direct_errors(i: int) -> list[LeanMessage]:
        return [m for m in placed.get(i, []) if m.severity == "error"]

    verdicts = ["ok"] * len(steps.steps)

    def visit(step_ids: Sequence[int], reached: bool) -> bool:
        """Set verdicts for one sequence; return whether any step in it (or below) failed."""
        any_failed = False
        for i in step_ids:
            own = direct_errors(i)
            child_failed = False
            for b in steps.blocks:
                if b.owner == i:
                    child_failed |= visit(b.steps, reached)
            if own or child_failed:
                verdicts[i] = "failed"
                any_failed = True
            elif not reached:
                verdicts[i] = "not reached"
            if own and reached and not all(_RECOVERED.match(m.text) for m in own):
                reached = False  # the tactic threw: the rest of this sequence never ran
            if pe_step is not None and i == pe_step:
                reached = False  # nothing after a syntax error was parsed
        return any_failed

    top = [b for b in steps.blocks if b.owner is None]
    if top:
        visit(top[0].steps, True)
    else:  # term-mode proof: one step
        for s in steps.steps:
            verdicts[s.index] = "failed" if direct_errors(s.index) else "ok"

    failing = [i for i in range(len(steps.steps)) if direct_errors(i)]
    first = min(failing, key=lambda i: steps.steps[i].start) if failing else None

    goals_before: dict[int, str] = {}
    for s in steps.steps:
        if goals and (s.span.line, s.span.col) in goals:
            goals_before[s.index] = goals[(s.span.line, s.span.col)]

    goal = None
    if first is not None:
        errs = direct_errors(first)
        goal = extract_goal(errs[0].text)
        # the goal from another message on the step (e.g. the "unsolved goals" after a syntax
        # error), else from the goal source
        other = next((g.goal for g in map(extract_goal, (m.text for m in errs[1:])) if g.goal), None)
        if goal.goal is None and (other or first in goals_before):
            goal = GoalInfo(
                goal=other or goals_before[first],
                expected=goal.expected,
                actual=goal.actual,
                facts=goal.facts,
                proposition=goal.proposition,
            )
    return Alignment(steps, placed, verdicts, first, goal, unplaced, goals_before)
