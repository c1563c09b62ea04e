"""Prompt templates: chat (the tokenizer's template) and plain, prefill, few-shot without leaks."""

from __future__ import annotations

import pytest

from leanfd.data.problem import Problem
from leanfd.models.extraction import extract_proof
from leanfd.models.policy import smollm2_tokenizer
from leanfd.models.prompts import build_prompt

P = Problem(
    name="two_add_two",
    statement="theorem two_add_two : 2 + 2 = 4 :=",
    split="test",
    informal="Show that 2 + 2 = 4.",
)
EX = Problem(
    name="zero_add'",
    statement="theorem zero_add' (n : Nat) : 0 + n = n :=",
    split="valid",
    reference_proof="by\n  simp",
)


@pytest.fixture(scope="module")
def tok():
    return smollm2_tokenizer()


def test_chat_prompt_uses_the_template_and_prefills(tok):
    pr = build_prompt(P, tok, style="chat")
    assert pr.text.count("<|im_start|>assistant\n") == 1
    assert pr.text.endswith("<|im_start|>assistant\n" + pr.response_prefix)
    assert pr.response_prefix == "```lean4\n" + P.statement
    assert "Show that 2 + 2 = 4." in pr.text and "```lean4" in pr.text
    # A model answer continuing the prefix extracts to the proof.
    assert extract_proof(pr.response_prefix + " by decide\n```", P.statement) == "by decide"


def test_chat_without_prefill(tok):
    pr = build_prompt(P, tok, style="chat", prefill=False)
    assert pr.response_prefix == "" and pr.text.endswith("<|im_start|>assistant\n")


def test_few_shot_chat_turns(tok):
    pr = build_prompt(P, tok, examples=[EX])
    assert pr.text.count("<|im_start|>user") == 2
    assert pr.text.count("<|im_start|>assistant") == 2
    assert "theorem zero_add' (n : Nat) : 0 + n = n := by\n  simp\n```" in pr.text
    assert pr.text.index("zero_add'") < pr.text.index("two_add_two")


def test_plain_prompt(tok):
    pr = build_prompt(P, style="plain", examples=[EX])
    assert "<|im_start|>" not in pr.text
    assert pr.text.endswith("```lean4\n" + P.statement)
    assert "0 + n = n := by\n  simp" in pr.text


def test_few_shot_from_the_evaluated_split_is_refused(tok):
    leak = Problem(name="other", statement="theorem other : True :=", split="test", reference_proof="trivial")
    with pytest.raises(ValueError, match="another split"):
        build_prompt(P, tok, examples=[leak])
    itself = Problem(name="two_add_two", statement=P.statement, split="valid", reference_proof="by decide")
    with pytest.raises(ValueError, match="the problem being asked"):
        build_prompt(P, tok, examples=[itself])
    # training prompts may show examples from the trained split, never the problem itself
    assert "theorem other" in build_prompt(P, tok, examples=[leak], allow_same_split=True).text
    with pytest.raises(ValueError, match="the problem being asked"):
        build_prompt(P, tok, examples=[itself], allow_same_split=True)


@pytest.mark.parametrize("style", ["chat", "plain"])
def test_context_goes_after_the_question_and_changes_nothing_else(tok, style):
    base = build_prompt(P, tok, style=style, examples=[EX])
    fb = build_prompt(P, tok, style=style, examples=[EX], context="Lean says: unsolved goals.")
    question_block = "```lean4\n" + P.statement + "\n```"
    assert fb.response_prefix == base.response_prefix and fb.text.endswith(base.response_prefix)
    assert fb.text.replace(question_block + "\n\nLean says: unsolved goals.", question_block, 1) == base.text
    assert build_prompt(P, tok, style=style, examples=[EX], context="  ").text == base.text


def test_example_without_reference_proof_is_refused(tok):
    with pytest.raises(ValueError, match="no reference proof"):
        build_prompt(P, tok, examples=[Problem(name="x", statement="theorem x : True :=", split="valid")])


def test_chat_needs_a_template():
    with pytest.raises(ValueError, match="style='plain'"):
        build_prompt(P, None, style="chat")
    with pytest.raises(ValueError, match="prompt style"):
        build_prompt(P, None, style="fancy")
