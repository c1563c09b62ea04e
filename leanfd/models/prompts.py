"""Prompt templates: ask for a complete Lean 4 proof of a statement, in a ```lean block.

Two styles: ``chat`` renders messages with the tokenizer's own chat template; ``plain`` is a
completion-style text for base models. Few-shot examples are solved problems shown before the
question; they must come from another split than the evaluated problem (checked here).

With ``prefill`` (the default) the answer is started for the model: the response opens with
```` ```lean4 ```` and the exact statement, so the model only writes the proof. The returned
:class:`Prompt` carries that ``response_prefix``; extraction runs on ``response_prefix + completion``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from leanfd.data.problem import Problem

STYLES = ("chat", "plain")

SYSTEM = (
    "You are an expert in the Lean 4 theorem prover. You write complete, correct Lean 4 proofs "
    "using only core Lean 4 (no Mathlib)."
)

INSTRUCTION = (
    "Prove the following theorem in Lean 4. Give the complete theorem with its proof in one "
    "```lean4 code block. Do not use `sorry`."
)


@dataclass(frozen=True)
class Prompt:
    """``text`` goes to the sampler as is (special tokens written out); ``response_prefix`` is the
    part of the answer already written inside ``text`` (empty without prefill)."""

    text: str
    response_prefix: str = ""


def _code(problem: Problem) -> str:
    header = problem.header.strip()
    return (header + "\n\n" if header else "") + problem.statement.rstrip()


def _question(problem: Problem, context: str | None = None) -> str:
    parts = [INSTRUCTION]
    if problem.informal:
        parts.append(f"Informal statement: {problem.informal.strip()}")
    parts.append(f"```lean4\n{_code(problem)}\n```")
    if context and context.strip():
        parts.append(context.strip())
    return "\n\n".join(parts)


def _answer(problem: Problem) -> str:
    if not problem.reference_proof:
        raise ValueError(f"few-shot example {problem.name!r} has no reference proof; pick solved problems")
    return f"```lean4\n{_code(problem)} {problem.reference_proof.strip()}\n```"


def _check_examples(problem: Problem, examples: Sequence[Problem], allow_same_split: bool) -> None:
    for ex in examples:
        if ex.name == problem.name:
            raise ValueError(
                f"few-shot example {ex.name!r} is the problem being asked; drop it from the examples"
            )
        if not allow_same_split and ex.split is not None and ex.split == problem.split:
            raise ValueError(
                f"few-shot example {ex.name!r} (split {ex.split!r}) would leak into the evaluation of "
                f"{problem.name!r} (split {problem.split!r}): take examples from another split"
            )


def build_prompt(
    problem: Problem,
    tokenizer=None,
    *,
    style: str = "chat",
    examples: Sequence[Problem] = (),
    prefill: bool = True,
    system: str | None = SYSTEM,
    context: str | None = None,
    allow_same_split: bool = False,
) -> Prompt:
    """The prompt for ``problem``.

    Args:
        problem: the problem to prove.
        tokenizer: needed for ``style="chat"`` (its ``apply_chat_template`` renders the messages).
        style: ``"chat"`` or ``"plain"``.
        examples: solved problems shown first (each needs ``reference_proof``; never from the
            evaluated split).
        prefill: start the answer with the ```` ```lean4 ```` fence and the statement.
        system: the system message (chat) or preamble line (plain); ``None`` for none.
        context: text appended to the question after its code block (a trainer's feedback for
            the teacher); the rest of the prompt, and so its tokens, stay the same.
        allow_same_split: let examples come from the problem's own split (training prompts, where
            the examples are training problems; never the problem itself). Evaluation keeps the
            default, which refuses examples from the evaluated split.
    """
    if style not in STYLES:
        raise ValueError(f"prompt style {style!r}: expected one of {STYLES}")
    _check_examples(problem, examples, allow_same_split)
    prefix = f"```lean4\n{_code(problem)}" if prefill else ""
    if style == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError(
                "style='chat' needs a tokenizer with a chat template; use style='plain' for base models"
            )
        messages = [{"role": "system", "content": system}] if system else []
        for ex in examples:
            messages.append({"role": "user", "content": _question(ex)})
            messages.append({"role": "assistant", "content": _answer(ex)})
        messages.append({"role": "user", "content": _question(problem, context)})
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return Prompt(text=text + prefix, response_prefix=prefix)
    chunks = [system] if system else []
    for ex in examples:
        chunks.append(f"{_question(ex)}\n\n{_answer(ex)}")
    chunks.append(f"{_question(problem, context)}\n\n{prefix}")
    return Prompt(text="\n\n".join(chunks), response_prefix=prefix)
