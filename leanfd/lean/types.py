"""Plain values that leave the verifier: Lean messages and verdicts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

#: Every status a verdict can have. Only ``proved`` is ``ok``.
STATUSES = ("proved", "failed", "sorry", "forbidden", "axiom", "timeout", "crash")


@dataclass(frozen=True)
class LeanMessage:
    """One Lean message, positioned relative to the proof text.

    ``line`` is 1-based and ``col`` 0-based (Lean's own convention), counted in the proof text the
    candidate wrote, so the wrapper the verifier adds around it is invisible. A message that lies
    in the trusted statement (e.g. an unused-variable lint) gets ``line <= 0``.
    """

    severity: str  # "error" | "warning" | "information"
    line: int
    col: int
    end_line: int
    end_col: int
    text: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LeanMessage:
        return cls(**{k: d[k] for k in ("severity", "line", "col", "end_line", "end_col", "text")})


@dataclass
class Verdict:
    """What the verifier says about one attempt.

    ``ok`` is True only for ``status == "proved"``: Lean accepted the exact trusted statement with
    no error, no ``sorry`` and no forbidden or attempt-declared axiom. ``reason`` explains a
    ``forbidden``/``axiom``/``timeout``/``crash`` status in words; ``axioms`` lists the axioms the
    proof depends on as far as the backend can see them (the embedded build lists only the
    standard, forbidden and attempt-declared ones).
    """

    ok: bool
    status: str
    messages: list[LeanMessage] = field(default_factory=list)
    time_s: float = 0.0
    axioms: list[str] = field(default_factory=list)
    reason: str = ""
    #: Only when asked for (``Verifier.goals``): the goals before/after each tactic,
    #: ``{line, col, end_line, end_col, tactic, before, after}`` with proof-relative positions.
    goals: list[dict] = field(default_factory=list)
    #: The verify policy that judged it (``strict``, ``published``; see
    #: :data:`leanfd.lean.guard.POLICIES`): what "proved" meant for this verdict.
    policy: str = "strict"

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown verdict status {self.status!r}; expected one of {STATUSES}")
        if self.ok != (self.status == "proved"):
            raise ValueError(f"inconsistent verdict: ok={self.ok} with status={self.status!r}")

    @property
    def errors(self) -> list[LeanMessage]:
        return [m for m in self.messages if m.severity == "error"]

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "status": self.status,
            "messages": [m.to_dict() for m in self.messages],
            "time_s": round(self.time_s, 4),
            "axioms": list(self.axioms),
            "reason": self.reason,
            "policy": self.policy,
            **({"goals": self.goals} if self.goals else {}),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Verdict:
        return cls(
            ok=bool(d["ok"]),
            status=d["status"],
            messages=[LeanMessage.from_dict(m) for m in d.get("messages", [])],
            time_s=float(d.get("time_s", 0.0)),
            axioms=list(d.get("axioms", [])),
            reason=d.get("reason", ""),
            goals=list(d.get("goals", [])),
            policy=d.get("policy", "strict"),  # verdicts stored before policies were strict
        )
