"""The agent's Lean tools: ``check``, ``goals``, ``search``, ``read`` and a batch ``verify``.

Each tool is a plain function with typed arguments that returns compact text, capped at a size a
context window can afford, and says when it cut something. Tools keep no state between calls:
they run on a warm verifier (by default the process-wide ``shared_verifier``), so a call costs one
Lean request, not a Lean start. ``LeanEnv``, the MCP server and the TRL adapter are shells over
these functions. A call that cannot run as given raises :class:`ToolError`, whose message says
what to change; the shells turn it into an observation or an MCP error.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from leanfd.critic.conditions import render_feedback
from leanfd.data.problem import Attempt, Problem
from leanfd.env.library import Library
from leanfd.lean.guard import MAX_PROOF_CHARS
from leanfd.lean.session import SessionCrashed
from leanfd.lean.types import LeanMessage, Verdict
from leanfd.lean.verify import Verifier, VerifyInputError, shared_verifier, wrap
from leanfd.syntax import tokenize

#: Feedback formats of ``check``: ``errors`` (the Kimina-Prover-RL error-fixing format, the
#: default), ``critique`` (the critic's step-aligned critique) and ``binary`` (the verdict only).
FEEDBACK_FORMATS = ("errors", "critique", "binary")
#: The limits of Kimina-Prover's error-fixing turn (Kimina-Prover, arXiv 2504.11354, and its open
#: RL recipe kimina-prover-rl): the answer is followed by a user turn with at most 3 errors, each
#: with the goal before it and ±2 numbered lines of code around it, the error line marked ``>``;
#: Kimina drops a feedback over 3,000 characters, this module keeps whole errors up to that size.
MAX_ERRORS = 3
SNIPPET_LINES = 2
MAX_FEEDBACK_CHARS = 3000
MAX_MESSAGE_CHARS = 800  # one Lean message or goal inside the feedback
MAX_CODE_CHARS = MAX_PROOF_CHARS  # what the guard accepts; longer code is refused before Lean
MAX_SHORT_ARG_CHARS = 1000  # a query, a name, a header line
MAX_BATCH = 256  # attempts per ``verify`` call
MAX_SEARCH_HITS = 50

# Words that start a command at column 0: code containing one is a whole file, not a proof.
_DECL_WORDS = frozenset(
    "theorem lemma def abbrev example instance structure inductive class axiom opaque import "
    "noncomputable private protected namespace section mutual".split()
)
_THEOREM_NAME = re.compile(r"\b(?:theorem|lemma)\s+([^\s:({\[⦃]+)")


class ToolError(ValueError):
    """A tool call that cannot run as given (bad arguments); the message says what to change."""


def cap(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters; a cut text ends in a note saying how much went.

    >>> cap("abcdef", 100)
    'abcdef'
    >>> s = cap("x" * 500, 100); len(s) <= 100, s.endswith("more characters]")
    (True, True)
    """
    if len(text) <= limit:
        return text
    keep = max(0, limit - 40)
    return text[:keep] + f"\n[… cut: {len(text) - keep} more characters]"


def require_text(what: str, value: object, limit: int) -> str:
    """``value`` if it is a string of at most ``limit`` characters, else a :class:`ToolError`."""
    if not isinstance(value, str):
        raise ToolError(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise ToolError(f"{what} is {len(value)} characters; the limit is {limit}")
    return value


def _verifier(verifier: Verifier | None) -> Verifier:
    return verifier if verifier is not None else shared_verifier()


# --------------------------------------------------------------------------------------------------
# Problems and attempts


def problem_from_statement(statement: str, header: str = "") -> Problem:
    """The problem ``statement`` (``theorem NAME … :=``) states under ``header``; a
    :class:`ToolError` says what is wrong with a statement the verifier cannot use."""
    require_text("statement", statement, MAX_CODE_CHARS)
    require_text("header", header, MAX_CODE_CHARS)
    m = _THEOREM_NAME.search(statement)
    problem = Problem(m.group(1) if m else "example", statement, header)
    try:
        wrap(Attempt(problem, "sorry"), 0)
    except VerifyInputError as e:
        raise ToolError(str(e)) from None
    return problem


def is_file(code: str) -> bool:
    """Whether ``code`` is a whole Lean file (a declaration or ``import`` starts a line at column 0)
    rather than a proof (the text after the statement's ``:=``).

    >>> is_file("by\\n  simp"), is_file("theorem t : True := by\\n  trivial"), is_file("open Nat in by simp")
    (False, True, False)
    """
    return any(
        t.col == 0 and t.depth == 0 and t.kind == "ident" and t.text in _DECL_WORDS for t in tokenize(code)
    )


def make_attempt(problem: Problem, code: str) -> Attempt:
    """The attempt ``code`` makes at ``problem``: a proof, or a whole file whose theorem named like
    the problem must state exactly the problem's statement (the verifier checks it). The statement
    is the problem's: nothing in ``code`` can change what is proved."""
    require_text("code", code, MAX_CODE_CHARS)
    if not is_file(code):
        return Attempt(problem, code)
    return Attempt(problem, file=code)


# --------------------------------------------------------------------------------------------------
# check


@dataclass
class CheckOutcome:
    """What ``check`` found: the attempt as verified, Lean's verdict, and the text shown to the agent."""

    attempt: Attempt
    verdict: Verdict
    text: str

    @property
    def code(self) -> str:
        """The text Lean's positions refer to (the proof, or the whole file)."""
        return self.attempt.file or self.attempt.proof


def goal_before(goals: Sequence[dict], line: int, col: int) -> str | None:
    """The goal before the innermost tactic whose range holds ``(line, col)`` (verifier goal
    entries, positions as in messages), or ``None`` when no tactic holds it."""
    inside = [
        g
        for g in goals
        if (g["line"], g["col"]) <= (line, col) <= (g["end_line"], g["end_col"]) and g.get("before")
    ]
    if not inside:
        return None
    g = max(inside, key=lambda g: (g["line"], g["col"], -g["end_line"], -g["end_col"]))
    return g["before"]


def _snippet(lines: list[str], m: LeanMessage) -> str:
    lo, hi = max(1, m.line - SNIPPET_LINES), min(len(lines), m.line + SNIPPET_LINES)
    width = len(str(hi))
    out = []
    for n in range(lo, hi + 1):
        mark = ">" if m.line <= n <= max(m.line, m.end_line) else " "
        out.append(f"{mark} {n:>{width}} | {lines[n - 1]}")
    return "\n".join(out)


def error_feedback(code: str, verdict: Verdict, max_chars: int = MAX_FEEDBACK_CHARS) -> str:
    """Lean's errors in the Kimina-Prover-RL error-fixing format: at most :data:`MAX_ERRORS` errors,
    each with its message, the goal before it (from Lean's info trees, when the verdict has goals)
    and the code ±:data:`SNIPPET_LINES` lines around it with a ``>`` marker; ``max_chars`` in all,
    whole errors only (a note says what was left out).

    >>> m = LeanMessage("error", 2, 2, 2, 7, "omega could not prove the goal")
    >>> print(error_feedback("by\\n  omega", Verdict(False, "failed", [m])))
    Lean found 1 error.
    Error 1 at line 2, column 2: omega could not prove the goal
      1 | by
    > 2 |   omega
    """
    errors = verdict.errors
    if not errors:
        return f"Lean rejected the attempt ({verdict.status}): {verdict.reason or verdict.status}"
    lines = code.split("\n")
    head = f"Lean found {len(errors)} error{'s' if len(errors) > 1 else ''}."
    if len(errors) > MAX_ERRORS:
        head += f" The first {MAX_ERRORS} are shown."
    out = [head]
    used = len(head)
    for k, m in enumerate(errors[:MAX_ERRORS], 1):
        text = cap(m.text.strip(), MAX_MESSAGE_CHARS)
        block = [f"Error {k} at line {m.line}, column {m.col}: {text}"]
        goal = goal_before(verdict.goals, m.line, m.col)
        if goal and goal.strip() not in text:
            block.append("Goal before the error:\n" + cap(goal, MAX_MESSAGE_CHARS))
        if 1 <= m.line <= len(lines):
            block.append(_snippet(lines, m))
        chunk = "\n".join(block)
        if used + len(chunk) + 1 > max_chars:
            out.append(
                f"[… cut: errors {k} to {min(len(errors), MAX_ERRORS)} do not fit in {max_chars} characters]"
            )
            break
        out.append(chunk)
        used += len(chunk) + 1
    return cap("\n".join(out), max_chars)


def _headline(v: Verdict, name: str) -> str:
    if v.ok:
        return f"proved: Lean accepts this proof of `{name}`."
    if v.status == "failed" or not v.reason:
        return f"{v.status}: Lean rejected the attempt."
    return f"{v.status}: {v.reason}"


def run_check(
    problem: Problem,
    code: str,
    *,
    feedback: str = "errors",
    verifier: Verifier | None = None,
    timeout_s: float | None = None,
) -> CheckOutcome:
    """Verify ``code`` (a proof or a whole file) against ``problem`` and render the verdict with
    feedback in the format ``feedback`` (one of :data:`FEEDBACK_FORMATS`)."""
    if feedback not in FEEDBACK_FORMATS:
        raise ToolError(f"unknown feedback format {feedback!r}; use one of {', '.join(FEEDBACK_FORMATS)}")
    attempt = make_attempt(problem, code)
    v = _verifier(verifier).verify([attempt], timeout_s=timeout_s, goals=feedback != "binary")[0]
    outcome = CheckOutcome(attempt, v, "")
    text = _headline(v, problem.name)
    if v.ok or feedback == "binary":
        pass
    elif feedback == "critique" and not attempt.file:  # the critic reads proofs, not files
        text += "\n" + render_feedback("critique", problem, attempt.proof, v)
    else:
        if feedback == "critique":  # say so, rather than change format without a word
            text += "\n(The step-aligned critique reads proofs; for a whole file, Lean's errors follow.)"
        if v.errors:
            text += "\n" + error_feedback(outcome.code, v, MAX_FEEDBACK_CHARS - len(text) - 1)
        elif v.status == "failed" and v.reason:
            text += "\n" + v.reason
    outcome.text = cap(text, MAX_FEEDBACK_CHARS)
    return outcome


def check(
    statement: str,
    code: str,
    header: str = "",
    feedback: str = "errors",
    *,
    verifier: Verifier | None = None,
    timeout_s: float | None = None,
) -> str:
    """Check ``code`` against ``statement`` (``theorem NAME … :=``) under ``header``.

    ``code`` is a proof (what follows ``:=``) or a whole file whose theorem ``NAME`` states exactly
    ``statement``. Returns the verdict (``proved``, ``failed``, ``sorry``, ``forbidden``, ``axiom``,
    ``timeout``, ``crash``) and, for a failure, feedback in the format ``feedback``: ``errors``
    (at most 3 errors, each with the goal before it and ±2 lines of code; the default),
    ``critique`` (step-aligned critique) or ``binary`` (the verdict only). At most 3,000 characters.
    """
    problem = problem_from_statement(statement, header)
    return run_check(problem, code, feedback=feedback, verifier=verifier, timeout_s=timeout_s).text


# --------------------------------------------------------------------------------------------------
# goals


def goals_at(goals: Sequence[dict], line: int) -> str:
    """The goal state at ``line`` from verifier goal entries: before and after the outermost tactic
    that starts on the line, or, between tactics, the state the last tactic before it left."""
    entries = [g for g in goals if g["line"] >= 1]
    if not entries:
        return "Lean reported no tactic goals here (is the code a tactic proof that parses?)"
    on_line = [g for g in entries if g["line"] == line]
    if on_line:
        # Several nodes start where the line's first tactic starts (the sequence it opens, the
        # tactic itself); they share the goal before it, and the smallest is the tactic, whose
        # "after" is the state the line leaves.
        col = min(g["col"] for g in on_line)
        g = min((g for g in on_line if g["col"] == col), key=lambda g: (g["end_line"], g["end_col"]))
        return (
            f"Goals before line {line}:\n{g['before'] or 'no goals'}\n"
            f"Goals after line {line}:\n{g['after'] or 'no goals'}"
        )
    before = [g for g in entries if g["end_line"] < line]
    if not before:
        g = min(entries, key=lambda g: (g["line"], g["col"], -g["end_line"], -g["end_col"]))
        return (
            f"Goals at line {line} (before the first tactic, line {g['line']}):\n{g['before'] or 'no goals'}"
        )
    g = max(before, key=lambda g: (g["end_line"], g["end_col"], -g["line"], -g["col"]))
    return (
        f"Goals at line {line} (after the tactic ending on line {g['end_line']}):\n{g['after'] or 'no goals'}"
    )


def goals(
    statement: str,
    code: str,
    line: int,
    header: str = "",
    *,
    verifier: Verifier | None = None,
    timeout_s: float | None = None,
) -> str:
    """The goal state at ``line`` (1-based, counted in ``code``) of a partial proof or file of
    ``statement``; the proof may be unfinished (end it anywhere, with or without ``sorry``)."""
    problem = problem_from_statement(statement, header)
    if isinstance(line, bool) or not isinstance(line, int):
        raise ToolError(f"line must be an integer, got {type(line).__name__}")
    attempt = make_attempt(problem, code)
    n_lines = code.count("\n") + 1
    if not 1 <= line <= n_lines:
        raise ToolError(f"line {line} is outside the code, which has {n_lines} lines (counted from 1)")
    v, entries = _verifier(verifier).goals(attempt, timeout_s=timeout_s)
    if v.status in ("forbidden", "timeout", "crash"):
        return f"{v.status}: {v.reason}"
    text = goals_at(entries, line)
    if v.errors:
        first = v.errors[0]
        text += f"\n(Lean reports {len(v.errors)} error(s); the first, at line {first.line}: "
        text += cap(first.text.strip(), 300) + ")"
    return cap(text, MAX_FEEDBACK_CHARS)


# --------------------------------------------------------------------------------------------------
# verify (batch)


def verify(
    attempts: Sequence[dict], *, verifier: Verifier | None = None, timeout_s: float | None = None
) -> list[dict]:
    """Verify a batch: rows ``{statement, code, header?}`` (``proof`` or ``file`` may stand for
    ``code``); one verdict dict each (``Verdict.to_dict``), in order. A row the verifier cannot take
    gets ``{"ok": false, "status": "forbidden", "reason": …}`` and does not stop the batch."""
    if not isinstance(attempts, Sequence) or isinstance(attempts, str):
        raise ToolError("attempts must be a list of {statement, code, header?} objects")
    if len(attempts) > MAX_BATCH:
        raise ToolError(f"{len(attempts)} attempts in one call; the limit is {MAX_BATCH}")
    todo: list[Attempt | None] = []
    out: list[dict | None] = []
    for i, row in enumerate(attempts):
        try:
            if not isinstance(row, dict):
                raise ToolError(f"attempt {i} is not an object")
            code = next((row[k] for k in ("code", "proof", "file") if k in row), None)
            if code is None:
                raise ToolError(f"attempt {i} has no code (or proof/file)")
            problem = problem_from_statement(row.get("statement", ""), row.get("header") or "")
            todo.append(make_attempt(problem, code))
            out.append(None)
        except ToolError as e:
            todo.append(None)
            out.append(Verdict(False, "forbidden", reason=str(e)).to_dict())
    real = [a for a in todo if a is not None]
    verdicts = iter(_verifier(verifier).verify(real, timeout_s=timeout_s) if real else [])
    return [o if o is not None else next(verdicts).to_dict() for o in out]


# --------------------------------------------------------------------------------------------------
# search and read


_LIBRARIES: weakref.WeakKeyDictionary[Verifier, Library] = weakref.WeakKeyDictionary()
_LIBRARIES_LOCK = threading.Lock()


def library(verifier: Verifier | None = None) -> Library:
    """The :class:`Library` (name indexes per header) of ``verifier``, made once and kept with it."""
    v = _verifier(verifier)
    with _LIBRARIES_LOCK:
        if v not in _LIBRARIES:
            _LIBRARIES[v] = Library(v)
        return _LIBRARIES[v]


def search(query: str, limit: int = 10, header: str = "", *, verifier: Verifier | None = None) -> str:
    """Declarations whose name matches ``query`` (substring first, then every word of it, then
    fuzzy), each with its signature, in the environment ``header`` imports (core Lean by default);
    when more than ``limit`` names match, the text says how many."""
    require_text("query", query, MAX_SHORT_ARG_CHARS)
    require_text("header", header, MAX_CODE_CHARS)
    if not query.strip():
        raise ToolError("query is empty; give part of a declaration name, e.g. 'add_comm'")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_SEARCH_HITS:
        raise ToolError(f"limit must be an integer from 1 to {MAX_SEARCH_HITS}, got {limit!r}")
    try:
        return cap(library(verifier).search(query, limit, header), MAX_FEEDBACK_CHARS)
    except (SessionCrashed, VerifyInputError) as e:
        raise ToolError(f"cannot search this environment: {e}") from None


def read(name: str, header: str = "", *, verifier: Verifier | None = None) -> str:
    """A declaration's signature, kind, module and docstring (where the build has one)."""
    require_text("name", name, MAX_SHORT_ARG_CHARS)
    require_text("header", header, MAX_CODE_CHARS)
    if not name.strip():
        raise ToolError("name is empty; give a full declaration name, e.g. 'Nat.add_comm'")
    try:
        return cap(library(verifier).read(name.strip(), header), MAX_FEEDBACK_CHARS)
    except (SessionCrashed, VerifyInputError) as e:
        raise ToolError(f"cannot read {name!r} in this environment: {e}") from None
