"""Feedback conditions: the teacher's context text for one (problem, attempt, verdict).

The conditions of the feedback-alignment study (see the README, "Feedback conditions"):
``binary`` (the reward only), ``errors`` (Lean's raw messages), ``reference`` (a reference proof),
``critique`` (step-aligned: the correct prefix verbatim, the failing step and why, the goal
there, the fix) and ``critique+reference``. Trainers look them up by name in :data:`CONDITIONS`
or call :func:`render_feedback`; every function has the signature
``fn(problem, proof, verdict, critique=None) -> str``.
"""

from __future__ import annotations

from collections.abc import Callable

from leanfd.critic.rule import step_aligned_critique
from leanfd.critic.types import Critique
from leanfd.data.problem import Problem
from leanfd.lean.types import Verdict


def _fence(text: str, lang: str = "lean") -> str:
    return f"```{lang}\n{text.rstrip()}\n```"


def binary_feedback(problem: Problem, proof: str, verdict: Verdict, critique: Critique | None = None) -> str:
    """Only whether Lean accepted the attempt (the information GRPO's reward carries).

    >>> from leanfd.lean.types import Verdict
    >>> binary_feedback(Problem("t", "theorem t : True :="), "by simp", Verdict(False, "failed"))
    'Lean rejected the previous attempt: it is not a correct proof.'
    """
    if verdict.ok:
        return "Lean accepted the previous attempt: it is a correct proof."
    return "Lean rejected the previous attempt: it is not a correct proof."


def errors_feedback(problem: Problem, proof: str, verdict: Verdict, critique: Critique | None = None) -> str:
    """Lean's raw messages with their positions (line:col in the attempt's proof text), each
    followed by the source line it points at; for a refused or timed-out attempt, the reason.

    >>> from leanfd.lean.types import LeanMessage, Verdict
    >>> m = LeanMessage("error", 2, 2, 2, 7, "omega could not prove the goal")
    >>> print(errors_feedback(Problem("t", "theorem t : True :="), "by\\n  omega", Verdict(False, "failed", [m])))
    Lean rejected the previous attempt with these messages (line:col in the proof):
    error at 2:2: omega could not prove the goal
      2 |   omega
    """
    if verdict.ok:
        return "Lean accepted the previous attempt without errors."
    lines = proof.split("\n")
    shown = [m for m in verdict.messages if m.severity in ("error", "warning")]
    if not shown:
        why = verdict.reason or verdict.status
        return f"Lean rejected the previous attempt ({verdict.status}): {why}"
    out = ["Lean rejected the previous attempt with these messages (line:col in the proof):"]
    for m in shown:
        out.append(f"{m.severity} at {m.line}:{m.col}: {m.text.rstrip()}")
        if 1 <= m.line <= len(lines):
            out.append(f"  {m.line} | {lines[m.line - 1]}")
    if verdict.reason:
        out.append(f"({verdict.reason})")
    return "\n".join(out)


def reference_feedback(
    problem: Problem, proof: str, verdict: Verdict, critique: Critique | None = None
) -> str:
    """The problem's reference proof (the OPSD condition). Needs ``problem.reference_proof``.

    >>> p = Problem("t", "theorem t (n : Nat) : n + 0 = n :=", reference_proof="by simp")
    >>> print(reference_feedback(p, "by omega", Verdict(False, "failed")))
    A correct proof of this theorem:
    ```lean
    theorem t (n : Nat) : n + 0 = n := by simp
    ```
    """
    if not problem.reference_proof:
        raise ValueError(
            f"problem {problem.name!r} has no reference_proof, which the 'reference' feedback condition "
            f"needs; use a suite with reference proofs, or the 'critique'/'errors' condition"
        )
    return "A correct proof of this theorem:\n" + _fence(
        f"{problem.statement.rstrip()} {problem.reference_proof.strip()}"
    )


def critique_feedback(
    problem: Problem, proof: str, verdict: Verdict, critique: Critique | None = None
) -> str:
    """A step-aligned critique (the "faithful scribe" form): the correct prefix verbatim, the first
    failing step and why, the goal there, and the fix (an LM critic's corrected proof, marked
    whether Lean accepted it, or the rule's suggestion). Computed with the rules when ``critique``
    is not given.

    >>> from leanfd.lean.types import LeanMessage, Verdict
    >>> m = LeanMessage("error", 1, 0, 3, 12, "unsolved goals\\ncase right\\nq : Prop\\nhq : q\\n⊢ q")
    >>> p = Problem("t", "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q :=")
    >>> print(critique_feedback(p, "by\\n  constructor\\n  · exact hp", Verdict(False, "failed", [m])))
    Lean rejected the previous attempt. It is correct up to here (keep this part verbatim):
    ```lean
    by
      constructor
    ```
    Step 2 is where it goes wrong: `· exact hp`
    Why: the proof ends after step 2 (`· exact hp`) with 1 goal left unproved.
    Goal at step 2:
    ```
    case right
    q : Prop
    hq : q
    ⊢ q
    ```
    Fix: add a step that closes it, e.g. `exact hq` (the hypothesis `hq` is exactly the goal)
    """
    c = critique if critique is not None else step_aligned_critique(problem, proof, verdict)
    if verdict.ok:
        return "Lean accepted the previous attempt: every step is correct."
    step = c.failing_step
    out = []
    if step is None:
        out.append(f"Lean rejected the previous attempt. {_cap(c.diagnosis)}")
    else:
        n = step.index + 1
        if c.prefix.strip() and c.prefix.strip() != "by":
            out.append(
                "Lean rejected the previous attempt. It is correct up to here (keep this part verbatim):"
            )
            out.append(_fence(c.prefix))
        else:
            out.append("Lean rejected the previous attempt. It goes wrong from its first step.")
        out.append(f"Step {n} is where it goes wrong: `{step.text.splitlines()[0].strip()}`")
        out.append(f"Why: {c.diagnosis}")
        if c.goal:
            out.append(f"Goal at step {n}:\n" + _fence(c.goal, ""))
        if c.details.get("facts"):
            out.append("omega's counterexample constraints:\n" + _fence(c.details["facts"], ""))
    if c.corrected_proof:
        checked = (
            "Lean accepts it"
            if c.fix_verified
            else "not checked by Lean"
            if c.fix_verified is None
            else "Lean does not accept it yet"
        )
        out.append(f"A corrected proof ({checked}):\n" + _fence(c.corrected_proof))
    elif c.suggestion:
        out.append(f"Fix: {c.suggestion}")
    return "\n".join(out)


def critique_reference_feedback(
    problem: Problem, proof: str, verdict: Verdict, critique: Critique | None = None
) -> str:
    """The step-aligned critique followed by the reference proof (needs ``problem.reference_proof``)."""
    return (
        critique_feedback(problem, proof, verdict, critique)
        + "\n\n"
        + reference_feedback(problem, proof, verdict)
    )


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


Condition = Callable[[Problem, str, Verdict, "Critique | None"], str]

#: Feedback conditions by name.
CONDITIONS: dict[str, Condition] = {
    "binary": binary_feedback,
    "errors": errors_feedback,
    "reference": reference_feedback,
    "critique": critique_feedback,
    "critique+reference": critique_reference_feedback,
}


def render_feedback(
    condition: str, problem: Problem, proof: str, verdict: Verdict, critique: Critique | None = None
) -> str:
    """Render the ``condition`` feedback for an attempt (``proof`` at ``problem``, judged ``verdict``)."""
    try:
        fn = CONDITIONS[condition]
    except KeyError:
        raise ValueError(
            f"unknown feedback condition {condition!r}; choose one of {', '.join(CONDITIONS)}"
        ) from None
    return fn(problem, proof, verdict, critique)
