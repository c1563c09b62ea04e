"""Critique a batch of verify-style rows: verify the ones without a verdict, critique each, and
render every feedback condition (what ``leanfd critique`` writes)."""

from __future__ import annotations

from collections.abc import Sequence

from leanfd.critic.conditions import CONDITIONS
from leanfd.critic.lm import LMCritic
from leanfd.critic.rule import Critique, step_aligned_critique
from leanfd.data.problem import Attempt, Problem
from leanfd.lean.types import Verdict


class CritiqueInputError(ValueError):
    """A row cannot be critiqued as given; the message names the row."""


def row_problem(row: dict) -> Problem:
    return Problem(
        str(row["id"]),
        row["statement"],
        row.get("header") or "",
        reference_proof=row.get("reference_proof") or None,
    )


def critique_rows(
    rows: Sequence[dict],
    *,
    critic: LMCritic | None = None,
    verifier=None,
    goals_for_given: bool = False,
    timeout_s: float = 30.0,
    heartbeats: int = 200_000,
    labels: Sequence[str] | None = None,
) -> list[dict]:
    """One output row per input row (``id, statement, proof, header?, reference_proof?, verdict?``).

    Rows without a ``verdict`` are verified first with ``verifier`` (a
    :class:`leanfd.lean.Verifier`, asked for the goals before each tactic as well);
    ``goals_for_given`` also asks it for the goals of failed rows that came with a verdict.
    ``critic`` is an :class:`LMCritic`, or ``None`` for the rule-based critique. ``labels`` name
    the rows in error messages (e.g. ``file:line``).
    """
    labels = list(labels) if labels is not None else [f"row {i + 1}" for i in range(len(rows))]
    problems = [row_problem(r) for r in rows]
    verdicts: list[Verdict | None] = []
    for r, label in zip(rows, labels, strict=True):
        if r.get("verdict") is None:
            verdicts.append(None)
            continue
        try:
            verdicts.append(Verdict.from_dict(r["verdict"]))
        except (KeyError, TypeError, ValueError) as e:
            raise CritiqueInputError(
                f"{label}: 'verdict' is not a verdict from `leanfd verify` ({type(e).__name__}: {e}); "
                f"drop the field to verify the row here"
            ) from None
    need = [i for i, v in enumerate(verdicts) if v is None]
    need += [
        i for i, v in enumerate(verdicts) if goals_for_given and v is not None and not v.ok and not v.goals
    ]
    if need:
        if verifier is None:
            from leanfd.lean.verify import shared_verifier

            verifier = shared_verifier()
        fresh = verifier.verify(
            [Attempt(problems[i], rows[i]["proof"]) for i in need],
            timeout_s=timeout_s,
            heartbeats=heartbeats,
            goals=True,
            progress=len(need) > 1,
        )
        for i, v in zip(need, fresh, strict=True):
            if verdicts[i] is None:
                verdicts[i] = v
            else:  # keep the given verdict, borrow the goals
                verdicts[i].goals = v.goals

    items = [(p, r["proof"], v) for p, r, v in zip(problems, rows, verdicts, strict=True)]
    if critic is not None:
        critiques = critic.critique_many(items)
    else:
        critiques = [step_aligned_critique(p, proof, v) for p, proof, v in items]
    return [_output_row(r, p, v, c) for r, (p, _, v), c in zip(rows, items, critiques, strict=True)]


def _output_row(row: dict, problem: Problem, verdict: Verdict, c: Critique) -> dict:
    step = c.failing_step
    feedback = {}
    for name, fn in CONDITIONS.items():
        needs_ref = "reference" in name
        feedback[name] = (
            None if needs_ref and not problem.reference_proof else fn(problem, row["proof"], verdict, c)
        )
    return {
        "id": row["id"],
        "status": verdict.status,
        "first_failing": c.first_failing,
        "first_failing_text": step.text if step is not None else None,
        "goal": c.goal,
        "diagnosis": c.diagnosis,
        "suggestion": c.suggestion,
        "summary": c.summary,
        "critique": c.to_dict(),
        "feedback": feedback,
    }


def make_critic(
    critic: str,
    *,
    critic_model: str | None = None,
    critic_url: str | None = None,
    critic_backend: str = "transformers",
    max_new_tokens: int = 384,
    verify_fix: bool = False,
    verifier=None,
) -> LMCritic | None:
    """Build the critic the options name (``None`` for ``rule``); raise ``ValueError`` on a bad combination."""
    if critic == "rule":
        if critic_model or critic_url or verify_fix:
            raise ValueError("--critic-model/--critic-url/--verify-fix need --critic lm")
        return None
    if critic != "lm":
        raise ValueError(f"unknown critic {critic!r}; use rule or lm")
    from leanfd.critic.lm import OpenAIChatGenerator, TransformersGenerator, VLLMGenerator

    if critic_url:
        gen = OpenAIChatGenerator(critic_url, critic_model or "default", max_tokens=max_new_tokens)
    elif not critic_model:
        raise ValueError("--critic lm needs --critic-model (alias, path or hub id) or --critic-url")
    elif critic_backend == "vllm":
        gen = VLLMGenerator(critic_model, max_tokens=max_new_tokens)
    elif critic_backend == "transformers":
        gen = TransformersGenerator.from_spec(critic_model, max_new_tokens=max_new_tokens)
    else:
        raise ValueError(f"unknown --critic-backend {critic_backend!r}; use transformers or vllm")
    return LMCritic(gen, verify_fix=verify_fix, verifier=verifier)


def run_critique(
    infile,
    out,
    *,
    critic: str = "rule",
    critic_model: str | None = None,
    critic_url: str | None = None,
    critic_backend: str = "transformers",
    max_new_tokens: int = 384,
    verify_fix: bool = False,
    goals: bool = False,
    backend: str = "auto",
    timeout_s: float = 30.0,
    heartbeats: int = 200_000,
    workers: int | None = None,
    use_daemon: bool = False,
    echo=None,
) -> list[dict]:
    """``leanfd critique``: read ``infile``, critique every row, write ``out`` atomically.

    ``use_daemon``: verify (and ask for goals) through the warm Lean daemon, started if needed
    (``echo`` gets its one start-up line), unless ``LEANFD_NO_DAEMON`` turns it off."""
    import sys

    from leanfd.io import InputError, read_jsonl, write_jsonl_atomic
    from leanfd.lean.verify import VerifyInputError, split_header, wrap

    rows, labels = [], []
    for n, r in read_jsonl(infile, required=("id", "statement", "proof")):
        label = f"{infile}:{n}"
        if not isinstance(r["proof"], str) or not isinstance(r["statement"], str):
            raise InputError(f"{label}: 'statement' and 'proof' must be strings")
        try:
            wrap(Attempt(row_problem(r), r["proof"]), heartbeats)  # a bad statement fails before Lean starts
        except VerifyInputError as e:
            raise InputError(f"{label}: {e}") from None
        rows.append(r)
        labels.append(label)
    need_lean = goals or verify_fix or any(r.get("verdict") is None for r in rows)
    verifier = None
    if need_lean:
        from leanfd.lean.daemon import verifier_for

        imports = sorted({split_header(row_problem(r).header)[0] for r in rows})
        verifier = verifier_for(backend, workers, imports, no_daemon=not use_daemon, echo=echo)
    lm = make_critic(
        critic,
        critic_model=critic_model,
        critic_url=critic_url,
        critic_backend=critic_backend,
        max_new_tokens=max_new_tokens,
        verify_fix=verify_fix,
        verifier=verifier,
    )
    results = critique_rows(
        rows,
        critic=lm,
        verifier=verifier,
        goals_for_given=goals,
        timeout_s=timeout_s,
        heartbeats=heartbeats,
        labels=labels,
    )
    write_jsonl_atomic(out, results)
    located = sum(r["first_failing"] is not None for r in results)
    failed = sum(r["status"] != "proved" for r in results)
    print(
        f"{len(results)} rows: {failed} not proved, {located} with a located failing step -> {out}",
        file=sys.stderr,
    )
    return results
