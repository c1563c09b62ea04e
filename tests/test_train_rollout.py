"""Rollout layout: the teacher context reuses the student's completion tokens verbatim, and the packed
forward pass scores exactly the tokens (and log-probs) the sampler produced."""

from __future__ import annotations

import pytest
import torch

from leanfd.data.problem import Problem
from leanfd.train import losses as L
from leanfd.train.rollout import (
    SOLVE_AGAIN,
    completion_logits,
    encode,
    pack,
    student_prompt,
    teacher_prompt_text,
)

PROBLEM = Problem(
    name="two_two",
    statement="theorem two_two : 2 + 2 = 4 :=",
    informal="Two plus two is four.",
    split="valid",
)


@pytest.fixture(scope="module")
def tiny():
    from leanfd.models.testing import tiny_random_policy

    return tiny_random_policy(0)


def test_pack_layout_puts_every_completion_at_the_same_column():
    p = pack([[5, 6, 7], [8]], [[1, 2], [3, 4, 9]], pad_id=0)
    assert p.prompt_len == 3
    assert p.input_ids.tolist() == [[5, 6, 7, 1, 2, 0], [0, 0, 8, 3, 4, 9]]
    assert p.attention_mask.tolist() == [[1, 1, 1, 1, 1, 0], [0, 0, 1, 1, 1, 1]]
    assert p.position_ids.tolist() == [[0, 1, 2, 3, 4, 4], [0, 0, 0, 1, 2, 3]]
    assert p.completion_ids.tolist() == [[1, 2, 0], [3, 4, 9]]
    assert p.completion_mask.tolist() == [[1, 1, 0], [1, 1, 1]]


def test_teacher_prompt_inserts_feedback_after_the_question(tiny):
    tok = tiny.tokenizer
    student = student_prompt(PROBLEM, tok).text
    teacher = teacher_prompt_text(PROBLEM, tok, "Lean says: unsolved goals.")
    # same chat frame and the same prefilled answer; the feedback and the instruction in between
    assert teacher.endswith(student_prompt(PROBLEM, tok).response_prefix)
    assert "Lean says: unsolved goals.\n\n" + SOLVE_AGAIN in teacher
    assert teacher.index(PROBLEM.statement) < teacher.index("Lean says")  # after the question
    assert teacher.index("Lean says") < teacher.rindex(PROBLEM.statement)  # before the answer's prefill
    assert teacher.replace("\n\nLean says: unsolved goals.\n\n" + SOLVE_AGAIN, "", 1) == student


def test_teacher_sequence_ends_with_the_students_completion_tokens_verbatim(tiny):
    from leanfd.models.sampling import TransformersSampler

    tok = tiny.tokenizer
    prompt = student_prompt(PROBLEM, tok).text
    sample = TransformersSampler(tiny, progress=False).sample([prompt], n=2, max_new_tokens=6, seed=3)[0]
    completions = [s.token_ids for s in sample]
    teacher_ids = encode(tok, teacher_prompt_text(PROBLEM, tok, "The proof is incorrect."))
    t = pack([teacher_ids] * 2, completions, tok.pad_token_id)
    s = pack([encode(tok, prompt)] * 2, completions, tok.pad_token_id)
    assert torch.equal(t.completion_ids, s.completion_ids)
    for row, c in enumerate(completions):
        assert t.input_ids[row, t.prompt_len : t.prompt_len + len(c)].tolist() == c
        assert t.input_ids[row, : t.prompt_len].tolist()[-len(teacher_ids) :] == teacher_ids


def test_packed_forward_reproduces_the_samplers_logprobs(tiny):
    # the student's training forward (left-padded prompt, position ids from the mask, logits_to_keep)
    # must score the very distribution the sampler drew from, or GRPO's ratio and FD's estimator lie
    from leanfd.models.sampling import TransformersSampler

    tok = tiny.tokenizer
    other = Problem(name="t", statement="theorem t (a b : Nat) (h : a = b) : b = a :=", split="valid")
    prompts = [student_prompt(p, tok).text for p in (PROBLEM, other)]
    samples = TransformersSampler(tiny, progress=False).sample(
        prompts, n=2, max_new_tokens=7, temperature=0.8, seed=1
    )
    rows = [(encode(tok, pr), s) for pr, group in zip(prompts, samples, strict=True) for s in group]
    packed = pack([r[0] for r in rows], [r[1].token_ids for r in rows], tok.pad_token_id)
    with torch.no_grad():
        logp = L.token_logprobs(completion_logits(tiny.model, packed), packed.completion_ids, 0.8)
    for i, (_, s) in enumerate(rows):
        torch.testing.assert_close(logp[i, : len(s.logprobs)], torch.tensor(s.logprobs), atol=2e-4, rtol=0)
