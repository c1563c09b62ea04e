"""Rule-based, step-aligned critique of a proof attempt from its Lean verdict (no model needed).

Per step: ``ok`` / ``failed`` (with Lean's message and the goal there) / ``not reached``; the
correct prefix verbatim (the proof text before the first failing step); a short diagnosis of the
first failure drawn from Lean's message and goal, and a concrete next step where one is known.

Read :func:`step_aligned_critique` top to bottom: align Lean's messages with the steps, blame the
first failing step, diagnose it (:func:`diagnose` looks the message up in :data:`RULES`), then
build the per-step notes, the verbatim prefix and the summary.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from leanfd.critic.align import (
    Alignment,
    GoalInfo,
    GoalSource,
    align,
    extract_goal,
    goals_from_entries,
    is_parse_error,
)
from leanfd.critic.steps import ProofSteps, Step, split_steps, token_positions
from leanfd.critic.types import VERDICTS, Critique, Diagnosis, StepNote
from leanfd.data.problem import Problem
from leanfd.lean.types import Verdict

__all__ = ["CATEGORIES", "RULES", "Critique", "Diagnosis", "StepNote", "diagnose", "step_aligned_critique"]

#: Mathlib tactics a core-Lean environment does not know (a frequent "unknown tactic").
_MATHLIB_TACTICS = {
    "linarith", "nlinarith", "norm_num", "ring", "ring_nf", "field_simp", "positivity", "polyrith",
    "aesop", "tauto", "push_cast", "norm_cast", "gcongr", "bound", "interval_cases", "fin_cases",
    "decide!", "simp_arith", "linear_combination", "nth_rewrite", "rcases?", "library_search",
}  # fmt: skip
#: Tactics that can run for a long time; used to guess the culprit of a wall-clock timeout.
_EXPENSIVE = (
    "decide",
    "native_decide",
    "simp",
    "simp_all",
    "omega",
    "repeat",
    "iterate",
    "rfl",
    "exact?",
    "apply?",
)
_BACKTICKED = re.compile(r"`([^`]+)`")


# --------------------------------------------------------------------------------------------------
# Goals: what the first goal says, and a tactic likely to close it


def _target(goal: str | None) -> str | None:
    """The ``⊢`` line of the first goal."""
    if not goal:
        return None
    for line in goal.split("\n"):
        if line.startswith("⊢"):
            return line[1:].strip()
    return None


def _hypotheses(goal: str | None) -> dict[str, str]:
    """``{name: type}`` of the first goal's hypotheses (``a b : Nat`` gives two)."""
    out: dict[str, str] = {}
    for line in (goal or "").split("\n"):
        if line.startswith("⊢"):
            break
        names, sep, typ = line.partition(" : ")
        if sep and not line.startswith("case "):
            for n in names.split():
                out[n] = typ.strip()
    return out


_ARITH = re.compile(r"[+\-*/%<>≤≥≠=]|\bNat\b|\bInt\b|\d")


def closing_suggestion(goal: str | None) -> str | None:
    """A core-Lean tactic likely to make progress on ``goal`` (its first ``⊢`` target)."""
    target = _target(goal)
    if target is None:
        return None
    for name, typ in _hypotheses(goal).items():
        if typ == target:
            return f"`exact {name}` (the hypothesis `{name}` is exactly the goal)"
    if target == "True":
        return "`trivial`"
    if target == "False":
        return "derive a contradiction from the hypotheses (`omega` if they are arithmetic, `contradiction`, or `exact absurd h h'`)"
    if target.startswith("∃"):
        return "`refine ⟨witness, ?_⟩` (give the witness, then prove the rest)"
    if target.startswith("∀") or "→" in target:
        return "`intro` the bound variables / hypotheses first"
    if target.startswith("¬"):
        return "`intro h` and derive `False`"
    if " ∧ " in target or " ↔ " in target:
        return "`constructor`, then close each part (e.g. `· omega`)"
    if " ∨ " in target:
        return "`left` or `right`, then prove that side"
    if _ARITH.search(target):
        return "`omega` (linear arithmetic over Nat/Int), or `simp` to normalise first"
    return "`simp`, `exact` with a matching lemma, or `assumption`"


# --------------------------------------------------------------------------------------------------
# Diagnosis of one failure: what Lean's message says, one rule per kind of message


@dataclass(frozen=True)
class Failure:
    """One Lean error at one step, as the diagnosis rules read it.

    ``first`` is the message's first line (``low`` lower-cased), ``name`` the first backticked name
    in it, ``where`` the phrase that names the step in every diagnosis ("step 2 (`omega`)").
    """

    message: str
    goal: GoalInfo
    step_text: str
    step_no: int
    hypotheses: dict[str, str]
    first: str
    low: str
    name: str | None
    where: str

    @classmethod
    def of(
        cls, message: str, goal: GoalInfo, step_text: str, step_no: int, hypotheses: dict[str, str]
    ) -> Failure:
        first = message.split("\n", 1)[0]
        names = _BACKTICKED.findall(first)
        where = f"step {step_no} (`{step_text.splitlines()[0].strip()}`)"
        return cls(
            message,
            goal,
            step_text,
            step_no,
            hypotheses,
            first,
            first.lower(),
            names[0] if names else None,
            where,
        )


#: What a rule returns: the diagnosis text and the suggested fix (``None`` when none is known).
Explanation = tuple[str, str | None]


def _unknown_identifier(f: Failure) -> Explanation:
    name, hypotheses = f.name, f.hypotheses
    if name and name in hypotheses:
        return f"{f.where} uses `{name}` where it is not in scope.", None
    hyps = ", ".join(f"`{h}`" for h in hypotheses) if hypotheses else None
    if name and "." not in name and len(name) <= 3:  # short names are misspelt hypotheses, not lemmas
        text = f"{f.where} refers to `{name}`, which is neither a hypothesis nor a constant."
        return text, f"use one of the hypotheses in scope ({hyps})" if hyps else "name an existing hypothesis"
    text = (
        f"{f.where} uses `{name}`, which does not exist: a wrong lemma name (or a Mathlib name; "
        f"this environment has core Lean only)."
    )
    sug = (
        "check the exact name and namespace (core lemmas look like `Nat.add_comm`, "
        "`Nat.lt_of_lt_of_le`), or avoid the lemma: `omega` proves linear arithmetic over Nat/Int"
    )
    return text, sug


def _unknown_tactic(f: Failure) -> Explanation:
    head = f.step_text.split()[0] if f.step_text.split() else f.step_text
    if head in _MATHLIB_TACTICS:
        return (
            f"{f.where}: `{head}` is a Mathlib tactic; core Lean does not have it, so the proof does not parse.",
            "use core tactics: `omega` for linear arithmetic over Nat/Int, `simp`, `decide` for "
            "small closed facts, `induction`/`cases`, `exact` with a core lemma",
        )
    return (
        f"{f.where}: `{head}` is not a tactic Lean knows, so the proof does not parse from here on.",
        "replace it with a core tactic (`omega`, `simp`, `exact`, `intro`, `cases`, `induction`)",
    )


def _syntax(f: Failure) -> Explanation:
    if "expected command" in f.first:
        return (
            f"{f.where}: Lean parsed the proof up to here and found extra text after it: {f.first}.",
            "remove the trailing text (unbalanced bracket or stray token) after the last tactic",
        )
    return (
        f"{f.where} does not parse: {f.first}. Lean checked nothing after this point, and may hide "
        "errors in the steps before it.",
        "fix the syntax: balance brackets, separate tactics by newlines or `;`, and start the "
        "tactics of one block in the same column",
    )


def _type_mismatch(f: Failure) -> Explanation:
    exp, act = f.goal.expected, f.goal.actual
    text = f"{f.where}: the term has type `{act}` but `{exp}` is expected." if exp and act else None
    text = text or f"{f.where}: type mismatch ({f.first})."
    sug = None
    if exp and _ARITH.search(exp) and not exp.startswith("∀"):
        sug = f"prove `{exp}` directly (e.g. `omega`, which can use `{act}` as a hypothesis if it is one)"
    elif exp:
        sug = (
            f"find a term of type `{exp}`: transform the given one (e.g. with a lemma) or use another tactic"
        )
    return text, sug


def _function_expected(f: Failure) -> Explanation:
    return (
        f"{f.where} applies something that is not a function: {f.first.lower()} "
        "(often a missing `,` or `]`, or too many arguments).",
        "check the brackets and separators in this step",
    )


def _no_progress(f: Failure) -> Explanation:
    return (
        f"{f.where}: {f.name or 'the tactic'} made no progress on the goal.",
        "give it the lemmas it needs (`simp [foo]`, `simp at h`) or use another tactic "
        "(`omega` for arithmetic, `rw [...]`, `exact`)",
    )


def _rewrite_failed(f: Failure) -> Explanation:
    pat = _indented_after_text(f.message, "Did not find an occurrence of the pattern")
    return (
        f"{f.where}: the rewrite rule's left-hand side{f' `{pat}`' if pat else ''} does not occur in the goal.",
        "rewrite with a lemma whose left side appears in the goal, use `←` to rewrite right to left, "
        "or `simp only [lemma]`",
    )


def _omega_failed(f: Failure) -> Explanation:
    nonlinear = bool(f.goal.facts and re.search(r"↑?\w+ \* ↑?\w+|\w+ \* \w+", f.goal.facts))
    why = (
        "the goal needs facts about products of variables, which omega treats as opaque atoms"
        if nonlinear
        else "the goal does not follow from the hypotheses by linear arithmetic"
    )
    return (
        f"{f.where}: omega could not prove the goal; {why}.",
        "state the missing fact as a `have` first (e.g. `have := Nat.mul_le_mul h h`), split cases "
        "(`rcases Nat.even_or_odd n`, `cases h : n % 2`, `match n with`), use `Nat.mod` facts "
        "(`Nat.mod_two_eq_zero_or_one`, `Nat.div_add_mod`), or use `induction`",
    )


def _goal_false(f: Failure) -> Explanation:
    prop = f.goal.proposition or "the goal"
    return (
        f"{f.where}: `decide` evaluated the goal `{prop}` and it is false, so no tactic can prove it here.",
        "check the statement and the earlier steps: this goal should not have arisen",
    )


def _decide_failed(f: Failure) -> Explanation:
    return (
        f"{f.where}: `decide` could not evaluate the proposition (not decidable, or too large to compute).",
        "use `omega` or `simp` for arithmetic, or reduce the problem by cases before `decide`",
    )


def _timeout(f: Failure) -> Explanation:
    return (
        f"{f.where} ran out of its deterministic budget (heartbeats): the tactic's search or "
        "evaluation does not finish.",
        "replace it by a cheaper argument: `simp only [...]` instead of a looping `simp`, `omega` "
        "instead of `decide` on large numbers, or split the goal first",
    )


def _unsolved_goals(f: Failure) -> Explanation:
    n = f.goal.goal.count("⊢") if f.goal.goal else 0
    text = f"the proof ends after {f.where} with {n or 'some'} goal{'s' if n != 1 else ''} left unproved."
    return text, _add_after(closing_suggestion(f.goal.goal))


def _no_goals(f: Failure) -> Explanation:
    return (
        f"{f.where}: the proof was already complete before this step.",
        f"delete step {f.step_no} and the steps after it",
    )


def _intro_failed(f: Failure) -> Explanation:
    return (
        f"{f.where}: there is nothing to introduce, the goal is not a `∀` or `→`.",
        "drop the `intro`, or `unfold`/`show` the goal to expose the binder",
    )


def _case_tag(f: Failure) -> Explanation:
    tags = re.findall(r"• `([^`]+)`", f.message)
    return (
        f"{f.where}: no goal carries the case tag `{f.name}`.",
        f"use one of the goal's tags: {', '.join(f'`{t}`' for t in tags)}"
        if tags
        else "check the case names",
    )


def _rfl_failed(f: Failure) -> Explanation:
    return (
        f"{f.where}: the two sides are not equal by computation alone.",
        "use `omega` or `simp` (or rewrite with a lemma such as `Nat.add_comm`), or prove it by `induction`",
    )


def _instance_missing(f: Failure) -> Explanation:
    return f"{f.where}: {f.first}.", "add the missing instance argument or change the type"


def _apply_failed(f: Failure) -> Explanation:
    return (
        f"{f.where}: the lemma's conclusion does not match the goal.",
        "apply a lemma whose conclusion has the goal's shape, or give its arguments explicitly",
    )


#: Older Lean said "failed to reduce to true/false"; Lean 4.28 says "did not reduce to `isTrue` or `isFalse`".
_DECIDE_STUCK = ("failed to reduce", "failed to synthesize", "did not reduce to")
_HEARTBEATS = ("(deterministic) timeout", "maximum number of heartbeats", "maximum recursion depth")

#: ``(category, does the message belong to it, explain it)``. The first match wins, so the order
#: matters: "unknown tactic" is also a parse error but gets its own advice (so it precedes
#: ``syntax``), and a ``decide`` message that says "failed to synthesize" is ``decide_failed``,
#: not ``instance_missing``.
RULES: tuple[tuple[str, Callable[[Failure], bool], Callable[[Failure], Explanation]], ...] = (
    (
        "unknown_identifier",
        lambda f: f.low.startswith(("unknown identifier", "unknown constant")),
        _unknown_identifier,
    ),
    ("unknown_tactic", lambda f: f.first.startswith("unknown tactic"), _unknown_tactic),
    ("syntax", lambda f: is_parse_error(f.first), _syntax),
    (
        "type_mismatch",
        lambda f: f.low.startswith(("type mismatch", "application type mismatch")),
        _type_mismatch,
    ),
    ("function_expected", lambda f: f.first.startswith("Function expected"), _function_expected),
    (
        "no_progress",
        lambda f: "made no progress" in f.first or f.first.startswith("linarith failed"),
        _no_progress,
    ),
    (
        "rewrite_failed",
        lambda f: (
            "rewrite" in f.first
            and ("did not find" in f.message.lower() or "motive is not type correct" in f.message)
        ),
        _rewrite_failed,
    ),
    ("omega_failed", lambda f: f.first.startswith("omega could not prove the goal"), _omega_failed),
    (
        "goal_false",
        lambda f: "proved that the proposition" in f.first and "is false" in f.message,
        _goal_false,
    ),
    (
        "decide_failed",
        lambda f: "decide" in f.first and any(k in f.message for k in _DECIDE_STUCK),
        _decide_failed,
    ),
    ("timeout", lambda f: any(k in f.message for k in _HEARTBEATS), _timeout),
    ("unsolved_goals", lambda f: f.first.startswith("unsolved goals"), _unsolved_goals),
    ("no_goals", lambda f: f.low.startswith(("no goals to be solved", "no goals")), _no_goals),
    (
        "intro_failed",
        lambda f: f.first.startswith("Tactic `introN` failed") or "no additional binders" in f.first,
        _intro_failed,
    ),
    ("case_tag", lambda f: f.first.startswith("Case tag"), _case_tag),
    (
        "rfl_failed",
        lambda f: (
            f.first.startswith(("The rfl tactic", "Tactic `rfl` failed"))
            or "not definitionally equal" in f.message
        ),
        _rfl_failed,
    ),
    ("instance_missing", lambda f: "failed to synthesize" in f.first, _instance_missing),
    (
        "apply_failed",
        lambda f: f.first.startswith("Tactic `apply` failed") or "could not unify" in f.message,
        _apply_failed,
    ),
)
#: Every category :func:`diagnose` can return; ``other`` when no rule matches.
CATEGORIES = (*(category for category, _, _ in RULES), "other")


def diagnose(
    message: str, goal: GoalInfo, step_text: str, step_no: int, hypotheses: dict[str, str]
) -> Diagnosis:
    """Explain one Lean error message (``message``) raised at step ``step_no`` (1-based) by the
    first rule of :data:`RULES` that matches it."""
    f = Failure.of(message, goal, step_text, step_no, hypotheses)
    for category, matches, explain in RULES:
        if matches(f):
            return Diagnosis(category, *explain(f))
    return Diagnosis("other", f"{f.where} failed: {f.first}", None)


def _add_after(s: str | None) -> str | None:
    return f"add a step that closes it, e.g. {s}" if s else None


def _indented_after_text(text: str, marker: str) -> str | None:
    i = text.find(marker)
    if i < 0:
        return None
    rest = text[i + len(marker) :].split("\n")
    return rest[1].strip() if len(rest) > 1 and rest[1].startswith("  ") else None


# --------------------------------------------------------------------------------------------------
# The critique: align, blame the first failing step, diagnose it, write the notes


@dataclass
class Blame:
    """The first failing step (``first``, ``None`` when none could be blamed), how it was found
    (``located_by``, see :class:`Critique`), every step's verdict, and the message shown for it."""

    first: int | None
    located_by: str
    verdicts: list[str]
    message: str | None


def step_aligned_critique(
    problem: Problem,
    proof: str,
    verdict: Verdict,
    *,
    goal_source: GoalSource | None = None,
) -> Critique:
    """Critique ``proof`` (an attempt at ``problem``) from Lean's ``verdict``.

    Goals come from Lean's messages, from ``verdict.goals`` when the verifier was asked for them,
    or from ``goal_source`` (e.g. :class:`leanfd.critic.align.VerifierGoals`) when given and the
    attempt failed.

    >>> from leanfd.lean.types import LeanMessage
    >>> p = Problem("t", "theorem t (n : Nat) : n + 0 = n :=")
    >>> msg = LeanMessage("error", 2, 2, 2, 9, "Tactic `introN` failed: ...\\n\\nn : Nat\\n⊢ n + 0 = n")
    >>> c = step_aligned_critique(p, "by\\n  intro m\\n  omega", Verdict(False, "failed", [msg]))
    >>> [s.verdict for s in c.steps], c.prefix, c.category
    (['failed', 'not reached'], 'by\\n  ', 'intro_failed')
    """
    al = _align(problem, proof, verdict, goal_source)
    steps = al.steps
    blame = _blame(al, proof, verdict)
    first = blame.first
    fstep = steps.steps[first] if first is not None else None
    gi = al.goal or GoalInfo()
    before = al.goals_before.get(first) if first is not None else None
    goal_text = gi.goal if gi.goal is not None else before
    dg = _diagnosis(verdict, blame, fstep, gi, goal_text, _hypotheses(goal_text or before))
    notes = _notes(al, blame, goal_text)
    return Critique(
        steps=notes,
        first_failing=first,
        prefix=_prefix(proof, verdict.status, fstep),
        diagnosis=dg.text,
        suggestion=dg.suggestion,
        summary=_summary(notes, first, verdict.status, dg.category),
        status=verdict.status,
        category=dg.category,
        goal=goal_text,
        details={k: v for k, v in gi.to_dict().items() if k != "goal"} if first is not None else {},
        located_by=blame.located_by,
    )


def _align(problem: Problem, proof: str, verdict: Verdict, goal_source: GoalSource | None) -> Alignment:
    """Split ``proof`` into steps and place Lean's messages and goals on them."""
    goals = None
    if verdict.goals:
        goals = goals_from_entries(verdict.goals)
    elif (
        goal_source is not None and not verdict.ok and verdict.status not in ("forbidden", "crash", "timeout")
    ):
        goals = goal_source.goals(problem, proof)
    return align(split_steps(proof), verdict.messages, goals=goals)


def _blame(al: Alignment, proof: str, verdict: Verdict) -> Blame:
    """The step Lean's messages point at; without one, the step holding the forbidden word or the
    ``sorry``, or (a wall-clock timeout) the first expensive tactic."""
    first, verdicts = al.first_failing, list(al.verdicts)
    if first is not None:
        return Blame(first, "lean", verdicts, al.errors(first)[0].text)
    found = None
    if verdict.status in ("forbidden", "axiom"):
        found = _blame_named(al.steps, proof, verdict, verdicts)
    elif verdict.status == "sorry":
        found = _blame_sorry(al.steps, proof, verdicts)
    elif verdict.status == "timeout" and al.steps.steps:
        found = _blame_expensive(al.steps, verdict)
    return found or Blame(None, "none", verdicts, None)


def _blame_named(steps: ProofSteps, proof: str, verdict: Verdict, verdicts: list[str]) -> Blame | None:
    """The step holding a name the guard (``forbidden``) or the axiom audit (``axiom``) cited."""
    names = set(_BACKTICKED.findall(verdict.reason)) | {
        w for w in re.findall(r"[\w.']+", verdict.reason) if "." in w
    }
    names |= {n.split(".")[-1] for n in names}
    first = _locate_token(steps, proof, names) if names else None
    if first is None:
        return None
    if verdict.status == "forbidden":  # Lean never saw the text, so its verdicts say nothing
        verdicts = _failed_at(steps, first)
    return Blame(first, "token", verdicts, verdict.reason)


def _blame_sorry(steps: ProofSteps, proof: str, verdicts: list[str]) -> Blame | None:
    """The first ``sorry``/``admit``; every hole and the steps around it are marked failed."""
    holes = _locate_tokens(steps, proof, {"sorry", "admit"})
    if not holes:
        return None
    for h in holes:
        for p in [h, *_ancestors(steps, h)]:
            verdicts[p] = "failed"
    return Blame(holes[0], "token", verdicts, "this step is `sorry`: the goal here is left unproved")


def _blame_expensive(steps: ProofSteps, verdict: Verdict) -> Blame | None:
    """A guess for a wall-clock timeout, which has no position: the first expensive tactic."""
    first = next((s.index for s in steps.leaves() if s.text.split()[0] in _EXPENSIVE), None)
    if first is None:
        return None
    return Blame(first, "guess", _failed_at(steps, first), verdict.reason or "timeout")


def _failed_at(steps: ProofSteps, first: int) -> list[str]:
    """Verdicts when only the failing step is known: ok before it, failed on it and the steps
    around it, not reached after."""
    verdicts = ["ok" if s.start < steps.steps[first].start else "not reached" for s in steps.steps]
    for p in [first, *_ancestors(steps, first)]:
        verdicts[p] = "failed"
    return verdicts


def _diagnosis(
    verdict: Verdict,
    blame: Blame,
    fstep: Step | None,
    gi: GoalInfo,
    goal_text: str | None,
    hyps: dict[str, str],
) -> Diagnosis:
    """The verdict's status explains the attempts Lean did not judge step by step; otherwise the
    blamed step's message is diagnosed by :func:`diagnose`."""
    status, reason = verdict.status, verdict.reason
    step_no = blame.first + 1 if blame.first is not None else 0
    if status == "proved":
        return Diagnosis("proved", "Lean accepted the proof.", None)
    if status == "crash":
        return Diagnosis(
            "crash", f"the Lean process crashed, so the attempt was not judged: {reason}", "verify it again"
        )
    if status == "forbidden":
        text = f"the proof was refused before Lean ran it: {reason}."
        if fstep is not None:
            text = f"step {step_no} (`{fstep.text.splitlines()[0]}`): " + text
        sug = (
            "use `decide` instead"
            if "native_decide" in reason
            else "remove the forbidden construct and prove the goal with ordinary tactics"
        )
        return Diagnosis("forbidden", text, sug)
    if status == "axiom":
        return Diagnosis(
            "axiom",
            f"the proof depends on an axiom that is not allowed: {reason}.",
            "prove the goal without the axiom",
        )
    if status == "sorry" and blame.located_by == "token":
        return Diagnosis(
            "sorry",
            f"step {step_no} is `sorry`: the goal there is left unproved.",
            _replace_by(closing_suggestion(goal_text)),
        )
    if status == "timeout" and blame.located_by != "lean":
        if fstep is None:
            return Diagnosis("timeout", f"Lean ran out of time ({reason}) without saying where.", None)
        return Diagnosis(
            "timeout",
            f"Lean ran out of time without saying where; step {step_no} (`{fstep.text.splitlines()[0]}`) "
            "is the likely culprit (the first expensive tactic).",
            "replace it by a cheaper argument (`omega` instead of `decide` on large numbers, `simp only [...]`)",
        )
    if fstep is not None and blame.message is not None:
        return diagnose(blame.message, gi, fstep.text, step_no, hyps)
    if verdict.errors:
        text = f"Lean reports an error outside the proof steps: {verdict.errors[0].text.splitlines()[0]}"
        return Diagnosis("statement", text, None)
    return Diagnosis("other", f"the attempt {status}{': ' + reason if reason else ''}.", None)


def _notes(al: Alignment, blame: Blame, goal_text: str | None) -> list[StepNote]:
    """One note per step: its verdict, its first error and the goal there (for the blamed step,
    the message and goal the diagnosis used)."""
    notes = []
    for s in al.steps.steps:
        errs = al.errors(s.index)
        msg = errs[0].text if errs else None
        goal = al.goals_before.get(s.index)
        if s.index == blame.first:
            msg, goal = blame.message, goal_text
        elif errs:
            goal = extract_goal(errs[0].text).goal or goal
        notes.append(StepNote(s.index, s.text, s.span, s.depth, s.kind, blame.verdicts[s.index], msg, goal))
    return notes


def _prefix(proof: str, status: str, fstep: Step | None) -> str:
    """The proof text to keep verbatim: all of it when proved, what precedes the blamed step."""
    if status == "proved":
        return proof
    return proof[: fstep.start] if fstep is not None else ""


def _summary(notes: list[StepNote], first: int | None, status: str, category: str) -> str:
    counts = {v: sum(n.verdict == v for n in notes) for v in VERDICTS}
    tail = f"{counts['ok']} ok, {counts['failed']} failed, {counts['not reached']} not reached"
    if status == "proved":
        return f"proved ({len(notes)} steps)"
    if first is None:
        return f"{status}: no step located ({tail})"
    return f"{status} at step {first + 1}/{len(notes)} (`{notes[first].text.splitlines()[0]}`): {category} ({tail})"


def _locate_tokens(steps: ProofSteps, proof: str, names: set[str]) -> list[int]:
    """The innermost steps holding a code token in ``names``, in text order."""
    out: list[int] = []
    for t in token_positions(proof, names):
        s = steps.innermost_at(t.line, t.col)
        if s is not None and s.index not in out:
            out.append(s.index)
    return out


def _locate_token(steps: ProofSteps, proof: str, names: set[str]) -> int | None:
    """The innermost step holding the first code token in ``names``."""
    found = _locate_tokens(steps, proof, names)
    return found[0] if found else None


def _ancestors(steps: ProofSteps, i: int) -> list[int]:
    out = []
    p = steps.steps[i].parent
    while p is not None:
        out.append(p)
        p = steps.steps[p].parent
    return out


def _replace_by(s: str | None) -> str | None:
    return (
        f"replace the `sorry` with a real proof, e.g. {s}" if s else "replace the `sorry` with a real proof"
    )
