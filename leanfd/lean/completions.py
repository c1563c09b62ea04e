"""Extract + verify: the Lean half of the sample → verify pipeline that eval, train and the agentic
environment share. It takes model completions as text (no model, no tokenizer) and returns each
one's proof and verdict; a completion without a proof gets the one :data:`NO_PROOF` verdict and is
never sent to Lean.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from leanfd.data.problem import Attempt, Problem
from leanfd.lean.types import Verdict
from leanfd.syntax import extract_proof

#: Why a completion got :data:`NO_PROOF`.
NO_PROOF_REASON = (
    "no Lean proof found in the completion (expected a ```lean4 block with the theorem and its proof)"
)

#: The verdict of a completion from which no proof could be extracted (Lean never sees it). One
#: value for eval and train alike, so their outputs agree on what "no proof" is.
NO_PROOF = Verdict(False, "failed", reason=NO_PROOF_REASON)

VerifyFn = Callable[[Sequence[Attempt]], list[Verdict]]


@dataclass(frozen=True)
class Checked:
    """One completion's extracted proof (``None`` if none) and its verdict."""

    proof: str | None
    verdict: Verdict


def check_completions(items: Sequence[tuple[Problem, str]], verify: VerifyFn) -> list[Checked]:
    """Extract the proof of each ``(problem, completion)`` and verify all of them in one batch.

    ``completion`` is the answer as the model wrote it, including any part the prompt prefilled (a
    ``response_prefix``). ``verify`` is e.g. ``Verifier.verify``; it is called once, with only the
    completions that hold a proof. Results come back in input order.
    """
    proofs = [extract_proof(text, problem.statement) or None for problem, text in items]
    todo = [i for i, proof in enumerate(proofs) if proof is not None]
    verdicts = verify([Attempt(items[i][0], proofs[i]) for i in todo]) if todo else []
    if len(verdicts) != len(todo):
        raise RuntimeError(f"the verifier returned {len(verdicts)} verdicts for {len(todo)} attempts")
    out = [Checked(proof, replace(NO_PROOF)) for proof in proofs]  # a copy: verdicts are mutable
    for i, v in zip(todo, verdicts, strict=True):
        out[i] = Checked(proofs[i], v)
    return out
