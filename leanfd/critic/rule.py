"""Rule-based, step-aligned critique of a proof attempt from its Lean verdict (no model needed).

Per step: ``ok`` / ``failed`` (with Lean's message and the goal there) / ``not reached``; the
correct prefix verbatim (the proof text before the first failing step); a short diagnosis of the
first failure drawn from Lean's message and goal, and a concrete next step where one is known.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from leanfd.critic.align import GoalInfo, GoalSource, align, extract_goal, goals_from_entries, is_parse_error
from leanfd.critic.steps import ProofSteps, Span, split_steps, token_positions
from leanfd.data.problem import Problem
from leanfd.lean.types import Verdict

VERDICTS = ("ok", "failed", "not reached")

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


@dataclass
class StepNote:
    """One step of the attempt and what Lean (or the critic) says about it.

    ``index`` is 0-based (texts say "step ``index + 1``"); ``span`` is proof-relative like
    :class:`leanfd.lean.types.LeanMessage`; ``goal`` is the goal at the step when known (for a
    failed step: from Lean's message, else from a goal source; for others: the goal before it);
    ``note`` is an LM critic's remark on the step.
    """

    index: int
    text: str
    span: Span
    depth: int
    kind: str
    verdict: str
    message: str | None = None
    goal: str | None = None
    note: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["span"] = self.span.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> StepNote:
        return cls(**{**d, "span": Span(**d["span"])})


@dataclass
class Critique:
    """A step-aligned critique of one attempt (JSON-serialisable with :meth:`to_dict`).

    ``first_failing`` indexes ``steps``; ``prefix`` is exactly the proof text before that step
    (the whole proof when it was proved, empty when no step could be blamed); ``category`` names
    the kind of failure (e.g. ``unknown_identifier``, ``unsolved_goals``); ``details`` holds what
    the message says beyond the goal (``expected``/``actual`` types, ``omega`` facts, a false
    ``proposition``); ``located_by`` says how the failing step was found: ``lean`` (a message
    position), ``token`` (a ``sorry`` or forbidden word in the text), ``guess`` (a wall-clock
    timeout without position) or ``none``. ``source`` is ``rule`` or ``lm``; an LM critique adds
    ``corrected_proof`` and ``fix_verified`` (``True`` if Lean accepted it, ``None`` if not
    checked); ``fallback_reason`` says why an LM critique fell back to the rules.
    """

    steps: list[StepNote]
    first_failing: int | None
    prefix: str
    diagnosis: str
    suggestion: str | None
    summary: str
    status: str = "failed"
    category: str = "other"
    goal: str | None = None
    details: dict = field(default_factory=dict)
    located_by: str = "none"
    source: str = "rule"
    corrected_proof: str | None = None
    fix_verified: bool | None = None
    fallback_reason: str | None = None

    @property
    def failing_step(self) -> StepNote | None:
        return None if self.first_failing is None else self.steps[self.first_failing]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["steps"] = [s.to_dict() for s in self.steps]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Critique:
        return cls(**{**d, "steps": [StepNote.from_dict(s) for s in d["steps"]]})


# --------------------------------------------------------------------------------------------------
# Diagnosis of one failure


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


@dataclass(frozen=True)
class Diagnosis:
    category: str
    text: str
    suggestion: str | None


def diagnose(
    message: str, goal: GoalInfo, step_text: str, step_no: int, hypotheses: dict[str, str]
) -> Diagnosis:
    """Explain one Lean error message (``message``) raised at step ``step_no`` (1-based)."""
    first = message.split("\n", 1)[0]
    where = f"step {step_no} (`{step_text.splitlines()[0].strip()}`)"
    names = _BACKTICKED.findall(first)
    name = names[0] if names else None
    low = first.lower()

    if low.startswith(("unknown identifier", "unknown constant")):
        if name and name in hypotheses:
            return Diagnosis("unknown_identifier", f"{where} uses `{name}` where it is not in scope.", None)
        hyps = ", ".join(f"`{h}`" for h in hypotheses) if hypotheses else None
        if name and "." not in name and len(name) <= 3:
            text = f"{where} refers to `{name}`, which is neither a hypothesis nor a constant."
            sug = f"use one of the hypotheses in scope ({hyps})" if hyps else "name an existing hypothesis"
            return Diagnosis("unknown_identifier", text, sug)
        text = (
            f"{where} uses `{name}`, which does not exist: a wrong lemma name (or a Mathlib name; "
            f"this environment has core Lean only)."
        )
        sug = (
            "check the exact name and namespace (core lemmas look like `Nat.add_comm`, "
            "`Nat.lt_of_lt_of_le`), or avoid the lemma: `omega` proves linear arithmetic over Nat/Int"
        )
        return Diagnosis("unknown_identifier", text, sug)

    if first.startswith("unknown tactic"):
        head = step_text.split()[0] if step_text.split() else step_text
        if head in _MATHLIB_TACTICS:
            return Diagnosis(
                "unknown_tactic",
                f"{where}: `{head}` is a Mathlib tactic; core Lean does not have it, so the proof does not parse.",
                "use core tactics: `omega` for linear arithmetic over Nat/Int, `simp`, `decide` for "
                "small closed facts, `induction`/`cases`, `exact` with a core lemma",
            )
        return Diagnosis(
            "unknown_tactic",
            f"{where}: `{head}` is not a tactic Lean knows, so the proof does not parse from here on.",
            "replace it with a core tactic (`omega`, `simp`, `exact`, `intro`, `cases`, `induction`)",
        )

    if is_parse_error(first):
        if "expected command" in first:
            return Diagnosis(
                "syntax",
                f"{where}: Lean parsed the proof up to here and found extra text after it: {first}.",
                "remove the trailing text (unbalanced bracket or stray token) after the last tactic",
            )
        return Diagnosis(
            "syntax",
            f"{where} does not parse: {first}. Lean checked nothing after this point, and may hide "
            "errors in the steps before it.",
            "fix the syntax: balance brackets, separate tactics by newlines or `;`, and start the "
            "tactics of one block in the same column",
        )

    if low.startswith(("type mismatch", "application type mismatch")):
        exp, act = goal.expected, goal.actual
        if exp and act:
            text = f"{where}: the term has type `{act}` but `{exp}` is expected."
        else:
            text = f"{where}: type mismatch ({first})."
        sug = None
        if exp and _ARITH.search(exp) and not exp.startswith("∀"):
            sug = f"prove `{exp}` directly (e.g. `omega`, which can use `{act}` as a hypothesis if it is one)"
        elif exp:
            sug = f"find a term of type `{exp}`: transform the given one (e.g. with a lemma) or use another tactic"
        return Diagnosis("type_mismatch", text, sug)

    if first.startswith("Function expected"):
        return Diagnosis(
            "function_expected",
            f"{where} applies something that is not a function: {first.lower()} "
            "(often a missing `,` or `]`, or too many arguments).",
            "check the brackets and separators in this step",
        )

    if "made no progress" in first or first.startswith("linarith failed"):
        tac = name or "the tactic"
        return Diagnosis(
            "no_progress",
            f"{where}: {tac} made no progress on the goal.",
            "give it the lemmas it needs (`simp [foo]`, `simp at h`) or use another tactic "
            "(`omega` for arithmetic, `rw [...]`, `exact`)",
        )

    if "rewrite" in first and ("did not find" in message.lower() or "motive is not type correct" in message):
        pat = _indented_after_text(message, "Did not find an occurrence of the pattern")
        text = f"{where}: the rewrite rule's left-hand side{f' `{pat}`' if pat else ''} does not occur in the goal."
        return Diagnosis(
            "rewrite_failed",
            text,
            "rewrite with a lemma whose left side appears in the goal, use `←` to rewrite right to left, "
            "or `simp only [lemma]`",
        )

    if first.startswith("omega could not prove the goal"):
        nonlinear = bool(goal.facts and re.search(r"↑?\w+ \* ↑?\w+|\w+ \* \w+", goal.facts))
        why = (
            "the goal needs facts about products of variables, which omega treats as opaque atoms"
            if nonlinear
            else "the goal does not follow from the hypotheses by linear arithmetic"
        )
        return Diagnosis(
            "omega_failed",
            f"{where}: omega could not prove the goal; {why}.",
            "state the missing fact as a `have` first (e.g. `have := Nat.mul_le_mul h h`), split cases "
            "(`rcases Nat.even_or_odd n`, `cases h : n % 2`, `match n with`), use `Nat.mod` facts "
            "(`Nat.mod_two_eq_zero_or_one`, `Nat.div_add_mod`), or use `induction`",
        )

    if "proved that the proposition" in first and "is false" in message:
        prop = goal.proposition or "the goal"
        return Diagnosis(
            "goal_false",
            f"{where}: `decide` evaluated the goal `{prop}` and it is false, so no tactic can prove it here.",
            "check the statement and the earlier steps: this goal should not have arisen",
        )

    if "decide" in first and ("failed to reduce" in message or "failed to synthesize" in message):
        return Diagnosis(
            "decide_failed",
            f"{where}: `decide` could not evaluate the proposition (not decidable, or too large to compute).",
            "use `omega` or `simp` for arithmetic, or reduce the problem by cases before `decide`",
        )

    if any(
        k in message
        for k in ("(deterministic) timeout", "maximum number of heartbeats", "maximum recursion depth")
    ):
        return Diagnosis(
            "timeout",
            f"{where} ran out of its deterministic budget (heartbeats): the tactic's search or "
            "evaluation does not finish.",
            "replace it by a cheaper argument: `simp only [...]` instead of a looping `simp`, `omega` "
            "instead of `decide` on large numbers, or split the goal first",
        )

    if first.startswith("unsolved goals"):
        n = goal.goal.count("⊢") if goal.goal else 0
        text = f"the proof ends after {where} with {n or 'some'} goal{'s' if n != 1 else ''} left unproved."
        return Diagnosis("unsolved_goals", text, _add_after(closing_suggestion(goal.goal)))

    if first.lower().startswith(("no goals to be solved", "no goals")):
        return Diagnosis(
            "no_goals",
            f"{where}: the proof was already complete before this step.",
            f"delete step {step_no} and the steps after it",
        )

    if first.startswith("Tactic `introN` failed") or "no additional binders" in first:
        return Diagnosis(
            "intro_failed",
            f"{where}: there is nothing to introduce, the goal is not a `∀` or `→`.",
            "drop the `intro`, or `unfold`/`show` the goal to expose the binder",
        )

    if first.startswith("Case tag"):
        tags = re.findall(r"• `([^`]+)`", message)
        return Diagnosis(
            "case_tag",
            f"{where}: no goal carries the case tag `{name}`.",
            f"use one of the goal's tags: {', '.join(f'`{t}`' for t in tags)}"
            if tags
            else "check the case names",
        )

    if first.startswith(("The rfl tactic", "Tactic `rfl` failed")) or "not definitionally equal" in message:
        return Diagnosis(
            "rfl_failed",
            f"{where}: the two sides are not equal by computation alone.",
            "use `omega` or `simp` (or rewrite with a lemma such as `Nat.add_comm`), or prove it by `induction`",
        )

    if "failed to synthesize" in first:
        return Diagnosis(
            "instance_missing", f"{where}: {first}.", "add the missing instance argument or change the type"
        )

    if first.startswith("Tactic `apply` failed") or "could not unify" in message:
        return Diagnosis(
            "apply_failed",
            f"{where}: the lemma's conclusion does not match the goal.",
            "apply a lemma whose conclusion has the goal's shape, or give its arguments explicitly",
        )

    return Diagnosis("other", f"{where} failed: {first}", None)


def _add_after(s: str | None) -> str | None:
    return f"add a step that closes it, e.g. {s}" if s else None


def _indented_after_text(text: str, marker: str) -> str | None:
    i = text.find(marker)
    if i < 0:
        return None
    rest = text[i + len(marker) :].split("\n")
    return rest[1].strip() if len(rest) > 1 and rest[1].startswith("  ") else None


# --------------------------------------------------------------------------------------------------
# The critique


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


def _summary(notes: list[StepNote], first: int | None, status: str, category: str) -> str:
    counts = {v: sum(n.verdict == v for n in notes) for v in VERDICTS}
    tail = f"{counts['ok']} ok, {counts['failed']} failed, {counts['not reached']} not reached"
    if status == "proved":
        return f"proved ({len(notes)} steps)"
    if first is None:
        return f"{status}: no step located ({tail})"
    return f"{status} at step {first + 1}/{len(notes)} (`{notes[first].text.splitlines()[0]}`): {category} ({tail})"


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
    steps = split_steps(proof)
    goals = None
    if verdict.goals:
        goals = goals_from_entries(verdict.goals)
    elif (
        goal_source is not None and not verdict.ok and verdict.status not in ("forbidden", "crash", "timeout")
    ):
        goals = goal_source.goals(problem, proof)
    al = align(steps, verdict.messages, goals=goals)

    verdicts = list(al.verdicts)
    first = al.first_failing
    located_by = "lean" if first is not None else "none"
    gi = al.goal or GoalInfo()
    message = al.errors(first)[0].text if first is not None else None
    status = verdict.status

    if status in ("forbidden", "axiom") and first is None:
        names = set(_BACKTICKED.findall(verdict.reason)) | {
            w for w in re.findall(r"[\w.']+", verdict.reason) if "." in w
        }
        names |= {n.split(".")[-1] for n in names}
        first = _locate_token(steps, proof, names) if names else None
        if first is not None:
            located_by = "token"
            if status == "forbidden":  # Lean never saw the text
                verdicts = [
                    "ok" if steps.steps[i].start < steps.steps[first].start else "not reached"
                    for i in range(len(verdicts))
                ]
                for p in [first, *_ancestors(steps, first)]:
                    verdicts[p] = "failed"
            message = verdict.reason
    if status == "sorry" and first is None:
        holes = _locate_tokens(steps, proof, {"sorry", "admit"})
        if holes:
            first, located_by = holes[0], "token"
            message = "this step is `sorry`: the goal here is left unproved"
            for h in holes:
                for p in [h, *_ancestors(steps, h)]:
                    verdicts[p] = "failed"
    if status == "timeout" and first is None and steps.steps:
        first = next((s.index for s in steps.leaves() if s.text.split()[0] in _EXPENSIVE), None)
        if first is not None:
            located_by = "guess"
            message = verdict.reason or "timeout"
            verdicts = ["ok" if s.start < steps.steps[first].start else "not reached" for s in steps.steps]
            for p in [first, *_ancestors(steps, first)]:
                verdicts[p] = "failed"

    step_no = first + 1 if first is not None else 0
    fstep = steps.steps[first] if first is not None else None
    goal_text = (
        gi.goal if gi.goal is not None else (al.goals_before.get(first) if first is not None else None)
    )
    hyps = _hypotheses(goal_text or (al.goals_before.get(first) if first is not None else None))

    if status == "proved":
        dg = Diagnosis("proved", "Lean accepted the proof.", None)
    elif status == "crash":
        dg = Diagnosis(
            "crash",
            f"the Lean process crashed, so the attempt was not judged: {verdict.reason}",
            "verify it again",
        )
    elif status == "forbidden":
        text = f"the proof was refused before Lean ran it: {verdict.reason}."
        if fstep is not None:
            text = f"step {step_no} (`{fstep.text.splitlines()[0]}`): " + text
        sug = (
            "use `decide` instead"
            if "native_decide" in verdict.reason
            else "remove the forbidden construct and prove the goal with ordinary tactics"
        )
        dg = Diagnosis("forbidden", text, sug)
    elif status == "axiom":
        dg = Diagnosis(
            "axiom",
            f"the proof depends on an axiom that is not allowed: {verdict.reason}.",
            "prove the goal without the axiom",
        )
    elif status == "sorry" and located_by == "token":
        dg = Diagnosis(
            "sorry",
            f"step {step_no} is `sorry`: the goal there is left unproved.",
            _replace_by(closing_suggestion(goal_text)),
        )
    elif status == "timeout" and located_by != "lean":
        if fstep is not None:
            dg = Diagnosis(
                "timeout",
                f"Lean ran out of time without saying where; step {step_no} (`{fstep.text.splitlines()[0]}`) "
                "is the likely culprit (the first expensive tactic).",
                "replace it by a cheaper argument (`omega` instead of `decide` on large numbers, `simp only [...]`)",
            )
        else:
            dg = Diagnosis("timeout", f"Lean ran out of time ({verdict.reason}) without saying where.", None)
    elif first is not None and message is not None:
        dg = diagnose(message, gi, fstep.text, step_no, hyps)
    elif verdict.errors:
        m = verdict.errors[0]
        dg = Diagnosis(
            "statement", f"Lean reports an error outside the proof steps: {m.text.splitlines()[0]}", None
        )
    else:
        dg = Diagnosis(
            "other", f"the attempt {status}{': ' + verdict.reason if verdict.reason else ''}.", None
        )

    notes = []
    for s in steps.steps:
        errs = al.errors(s.index)
        msg = errs[0].text if errs else None
        goal = al.goals_before.get(s.index)
        if s.index == first:
            msg = message
            goal = goal_text
        elif errs:
            goal = extract_goal(errs[0].text).goal or goal
        notes.append(StepNote(s.index, s.text, s.span, s.depth, s.kind, verdicts[s.index], msg, goal))

    if status == "proved":
        prefix = proof
    elif fstep is not None:
        prefix = proof[: fstep.start]
    else:
        prefix = ""
    details = {k: v for k, v in gi.to_dict().items() if k != "goal"} if first is not None else {}
    return Critique(
        steps=notes,
        first_failing=first,
        prefix=prefix,
        diagnosis=dg.text,
        suggestion=dg.suggestion,
        summary=_summary(notes, first, status, dg.category),
        status=status,
        category=dg.category,
        goal=goal_text,
        details=details,
        located_by=located_by,
    )


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
