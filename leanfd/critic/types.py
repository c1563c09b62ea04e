"""The critic's values: a :class:`Critique` of one attempt, a :class:`StepNote` per step and the
:class:`Diagnosis` of its first failure; plain dataclasses, JSON-serialisable."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from leanfd.critic.steps import Span

VERDICTS = ("ok", "failed", "not reached")


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


@dataclass(frozen=True)
class Diagnosis:
    """Why the first failing step failed: a ``category`` (e.g. ``omega_failed``), a sentence that
    names the step (``text``) and a concrete next step when one is known (``suggestion``)."""

    category: str
    text: str
    suggestion: str | None
