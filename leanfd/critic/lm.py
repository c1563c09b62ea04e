"""LM critic: a frozen language model, prompted as a "faithful scribe", corrects an attempt.

The model sees the theorem, the attempt, Lean's messages and the rule-based analysis, and must
copy the correct prefix verbatim, fix the earliest wrong step and continue to the end of the
proof, then note each step. Decoding is greedy. Where the backend allows it (transformers, vLLM)
the answer is *prefilled* with the opening fence and the verbatim prefix, so the model starts
writing at the failing step. The answer is parsed into a corrected proof and per-step notes and,
when asked, the corrected proof is checked by Lean (``fix_verified``). Any parse failure, an
answer that drops the verified prefix, or a backend error falls back to the rule-based critique
and records why (``fallback_reason``).

Backends (any callable ``generate(messages, prefill) -> answer text`` works):
:class:`TransformersGenerator` (any transformers causal LM, e.g. from ``leanfd.models``),
:class:`OpenAIChatGenerator` (an OpenAI-compatible ``/v1/chat/completions`` endpoint by URL) and
:class:`VLLMGenerator` (vLLM on GPU, optional).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from leanfd.critic.conditions import errors_feedback
from leanfd.critic.rule import step_aligned_critique
from leanfd.critic.steps import split_steps
from leanfd.critic.types import Critique
from leanfd.data.problem import Attempt, Problem
from leanfd.lean.types import Verdict

SYSTEM = (
    "You are a meticulous Lean 4 proof critic working as a faithful scribe. You copy the correct "
    "part of a proof attempt exactly, fix its earliest wrong step, and complete the proof using "
    "only core Lean 4 (no Mathlib)."
)

_FENCE = "```lean\n"
_CODE = re.compile(r"```(?:lean4?|)[ \t]*\n(.*?)\n?```", re.S)
_NOTE = re.compile(r"^\s*[-*]?\s*step\s+(\d+)\s*[:.)\-–—]\s*(.+?)\s*$", re.I | re.M)


class Generator(Protocol):
    """Greedy chat completion. ``prefill`` starts the assistant's answer where the backend can;
    the return value is the whole answer (``prefill`` included if it was used, else the model's
    own full answer)."""

    def __call__(self, messages: list[dict], prefill: str = "") -> str: ...


class CriticParseError(ValueError):
    """The model's answer could not be used; the message says why."""


def build_messages(problem: Problem, proof: str, verdict: Verdict, rule: Critique) -> list[dict]:
    """The chat messages asking for a faithful-scribe correction of ``proof``."""
    # nested steps are indented under the step they belong to
    numbered = "\n".join(
        f"{'  ' * st.depth}step {st.index + 1}: {st.text.splitlines()[0].strip()}" for st in rule.steps
    )
    parts = [
        "Theorem:",
        f"```lean\n{problem.statement.rstrip()}\n```",
        "Attempted proof (the text after `:=`):",
        f"```lean\n{proof.rstrip()}\n```",
        f"Its steps:\n{numbered}" if numbered else "",
        errors_feedback(problem, proof, verdict),
    ]
    if rule.first_failing is not None:
        n = rule.first_failing + 1
        parts.append(f"Analysis: the first wrong step is step {n}. {rule.diagnosis}")
        if rule.goal:
            parts.append(f"Goal at step {n}:\n```\n{rule.goal}\n```")
        parts.append(
            f"Write the corrected proof: copy everything before step {n} exactly as it is, replace "
            f"step {n} by a correct step, then continue until the proof is complete."
        )
    else:
        parts.append(f"Analysis: {rule.diagnosis} Write a corrected, complete proof.")
    parts.append(
        "Answer in exactly this format, with the proof text after `:=` only (no `theorem` line):\n"
        "```lean\n<corrected proof>\n```\nNOTES:\nstep 1: ok\nstep 2: <what was wrong and how it is fixed>"
    )
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "\n\n".join(p for p in parts if p)},
    ]


def prefill_for(rule: Critique) -> str:
    """The start of the answer written for the model: the fence and the verified prefix."""
    return _FENCE + rule.prefix


@dataclass(frozen=True)
class ParsedAnswer:
    proof: str
    notes: dict[int, str]  # 0-based step index -> note


def parse_answer(answer: str, problem: Problem, required_prefix: str = "") -> ParsedAnswer:
    """Read the corrected proof and per-step notes out of ``answer``.

    Raises :class:`CriticParseError` when there is no closed code block, the block is empty,
    restates a different theorem, or does not start with ``required_prefix`` (the verified
    prefix, compared without its trailing indentation).
    """
    m = _CODE.search(answer)
    if m is None:
        raise CriticParseError("the answer has no closed ```lean code block")
    proof = m.group(1)
    stmt = problem.statement.rstrip()
    if stmt in proof:  # the model restated the theorem: keep what follows its `:=`
        proof = proof.split(stmt, 1)[1].lstrip(" ")
    elif re.match(r"\s*(theorem|lemma|example)\b", proof):
        raise CriticParseError("the code block states a different theorem than the problem's")
    if not proof.strip():
        raise CriticParseError("the corrected proof is empty")
    keep = required_prefix.rstrip(" \t")
    if not proof.startswith(keep):
        raise CriticParseError("the corrected proof does not keep the verified prefix verbatim")
    notes = {int(n) - 1: text for n, text in _NOTE.findall(answer[m.end() :]) if int(n) >= 1}
    return ParsedAnswer(proof.rstrip(), notes)


def _corrected_step(proof: str, prefix: str) -> str | None:
    at = len(prefix.rstrip(" \t"))
    for s in split_steps(proof).steps:
        if s.start >= at:
            return s.text.splitlines()[0].strip()
    return None


class LMCritic:
    """A frozen model as critic. ``verify_fix=True`` checks each corrected proof with ``verifier``
    (a :class:`leanfd.lean.Verifier`; default: the shared one behind ``verify_batch``)."""

    def __init__(self, generate: Generator, *, verify_fix: bool = False, verifier=None, prefill: bool = True):
        self.generate = generate
        self.verify_fix = verify_fix
        self.verifier = verifier
        self.prefill = prefill

    def critique(self, problem: Problem, proof: str, verdict: Verdict) -> Critique:
        return self.critique_many([(problem, proof, verdict)])[0]

    def critique_many(self, items: Sequence[tuple[Problem, str, Verdict]]) -> list[Critique]:
        """Critique each ``(problem, proof, verdict)``; corrected proofs are verified in one batch."""
        out: list[Critique] = []
        for problem, proof, verdict in items:
            out.append(self._one(problem, proof, verdict))
        if self.verify_fix:
            todo = [(i, c) for i, c in enumerate(out) if c.corrected_proof is not None]
            if todo:
                attempts = [Attempt(items[i][0], c.corrected_proof) for i, c in todo]
                verdicts = self._verify(attempts)
                for (i, c), v in zip(todo, verdicts, strict=True):
                    out[i] = replace(c, fix_verified=v.ok, details={**c.details, "fix_status": v.status})
        return out

    def _verify(self, attempts: list[Attempt]) -> list[Verdict]:
        if self.verifier is not None:
            return self.verifier.verify(attempts)
        from leanfd.lean import verify_batch

        return verify_batch(attempts)

    def _one(self, problem: Problem, proof: str, verdict: Verdict) -> Critique:
        rule = step_aligned_critique(problem, proof, verdict)
        if verdict.ok:
            return replace(rule, fallback_reason="the attempt was proved: nothing to correct")
        prefill = prefill_for(rule) if self.prefill else ""
        try:
            answer = self.generate(build_messages(problem, proof, verdict, rule), prefill)
        except Exception as e:  # a backend failure must not stop a training run: fall back, say why
            return replace(rule, fallback_reason=f"the critic model failed: {type(e).__name__}: {e}")
        try:
            parsed = parse_answer(answer, problem, rule.prefix)
        except CriticParseError as e:
            return replace(rule, fallback_reason=f"{e} (answer: {answer[:200]!r})")
        if parsed.proof.strip() == proof.strip():
            return replace(rule, fallback_reason="the corrected proof is identical to the failed attempt")
        steps = [replace(s, note=parsed.notes.get(s.index)) for s in rule.steps]
        details = dict(rule.details)
        step = _corrected_step(parsed.proof, rule.prefix)
        if step:
            details["corrected_step"] = step
        return replace(rule, steps=steps, source="lm", corrected_proof=parsed.proof, details=details)


# --------------------------------------------------------------------------------------------------
# Backends


class TransformersGenerator:
    """Greedy generation with a transformers causal LM (a ``leanfd.models`` policy, or any model
    and tokenizer). Uses the tokenizer's chat template when it has one; the prefill is appended
    after the generation prompt, so the model continues it."""

    def __init__(self, model, tokenizer, *, max_new_tokens: int = 384) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens

    @classmethod
    def from_spec(
        cls, spec: str, *, max_new_tokens: int = 384, device: str | None = None
    ) -> TransformersGenerator:
        """Load a model by alias, path or hub id with :func:`leanfd.models.policy.load_policy`."""
        from leanfd.models.policy import load_policy

        policy = load_policy(spec, device=device)
        return cls(policy.model, policy.tokenizer, max_new_tokens=max_new_tokens)

    def render(self, messages: list[dict]) -> str:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "".join(f"{m['role'].upper()}:\n{m['content']}\n\n" for m in messages) + "ASSISTANT:\n"

    def __call__(self, messages: list[dict], prefill: str = "") -> str:
        import torch

        text = self.render(messages) + prefill
        enc = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)
        enc = {k: v.to(self.model.device) for k, v in enc.items()}
        pad = (
            self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else self.tokenizer.eos_token_id
        )
        with torch.no_grad():
            out = self.model.generate(
                **enc,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                max_new_tokens=self.max_new_tokens,
                pad_token_id=pad,
            )
        new = out[0, enc["input_ids"].shape[1] :]
        return prefill + self.tokenizer.decode(new, skip_special_tokens=True)


class OpenAIChatGenerator:
    """An OpenAI-compatible chat-completions endpoint (vLLM's or SGLang's server, llama.cpp's,
    a hosted API). ``url`` is the server root (``http://host:8000``), its ``/v1``, or the full
    ``…/chat/completions`` address. Greedy (``temperature=0``). Generic servers cannot continue a
    prefilled answer, so the prefill is not sent and the model writes the whole answer (its
    prefix is then checked); ``continue_final_message=True`` sends it the vLLM way."""

    def __init__(
        self,
        url: str,
        model: str = "default",
        *,
        api_key: str | None = None,
        max_tokens: int = 512,
        timeout_s: float = 120.0,
        continue_final_message: bool = False,
    ) -> None:
        u = url.rstrip("/")
        if not u.endswith("/chat/completions"):
            u = u + ("/chat/completions" if u.endswith("/v1") else "/v1/chat/completions")
        self.endpoint = u
        self.model = model
        self.api_key = api_key
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.continue_final_message = continue_final_message

    def __call__(self, messages: list[dict], prefill: str = "") -> str:
        import httpx

        body: dict = {
            "model": self.model,
            "messages": list(messages),
            "temperature": 0,
            "max_tokens": self.max_tokens,
        }
        use_prefill = bool(prefill) and self.continue_final_message
        if use_prefill:
            body["messages"].append({"role": "assistant", "content": prefill})
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        r = httpx.post(self.endpoint, json=body, headers=headers, timeout=self.timeout_s)
        if r.status_code != 200:
            raise RuntimeError(
                f"critic endpoint {self.endpoint} answered HTTP {r.status_code}: {r.text[:300]}"
            )
        content = r.json()["choices"][0]["message"]["content"] or ""
        return (prefill + content) if use_prefill else content


class VLLMGenerator:
    """vLLM on GPU (``pip install leanfd[gpu]``): greedy ``LLM.chat``, continuing the prefill."""

    def __init__(self, model: str, *, max_tokens: int = 512, **llm_kwargs) -> None:
        try:
            from vllm import LLM, SamplingParams
        except ImportError as e:
            raise ImportError(
                "the vLLM critic backend needs vllm on a CUDA machine: pip install 'leanfd[gpu]'; "
                "on CPU use the transformers backend (--critic-model) instead"
            ) from e
        self.llm = LLM(model=model, **llm_kwargs)
        self.params = SamplingParams(temperature=0.0, max_tokens=max_tokens)

    def __call__(self, messages: list[dict], prefill: str = "") -> str:
        msgs = list(messages) + ([{"role": "assistant", "content": prefill}] if prefill else [])
        out = self.llm.chat(
            msgs,
            self.params,
            add_generation_prompt=not prefill,
            continue_final_message=bool(prefill),
            use_tqdm=False,
        )
        return prefill + out[0].outputs[0].text
