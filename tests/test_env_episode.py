"""Scripted episodes on the real embedded Lean: the plain protocol with SmolLM2's tokenizer and
native tool calling with TRL's Qwen2.5 template (fail, look, fix, prove), recorded token in /
token out."""

from __future__ import annotations

import copy
import json

import pytest

from leanfd.data.problem import Problem
from leanfd.env import LeanEnv

pytestmark = pytest.mark.lean

P = Problem("lt", "theorem lt (a b : Nat) (h : a < b) : a + 1 ≤ b :=")


@pytest.fixture(scope="module")
def smollm2():
    from leanfd.models.policy import smollm2_tokenizer

    return smollm2_tokenizer()


def _check_record(tok, env: LeanEnv, policy: list[list[int]]) -> None:
    ep = env.episode
    assert tok.decode(ep.ids, skip_special_tokens=False) == ep.transcript
    assert [ep.ids[t.start : t.end] for t in ep.turns] == policy
    assert sum(ep.mask) == sum(map(len, policy))
    assert all(ep.mask[i] == 1 for t in ep.turns for i in range(t.start, t.end))
    json.dumps(ep.to_dict())  # the record serialises as it is


def test_plain_protocol_episode(verifier, smollm2):
    env = LeanEnv(P, smollm2, verifier=verifier, max_turns=5)
    assert env.protocol == "plain"
    obs = env.reset()
    assert "<tool_call>" in obs.text and P.statement in obs.text and obs.remaining_tokens > 0
    turns = [
        "Maybe simp works.\n```lean\nby simp\n```<|im_end|>",
        '<tool_call>{"name": "search", "arguments": {"query": "succ_le_of_lt", "limit": 2}}</tool_call>'
        '<tool_call>{"name": "goals", "arguments": {"code": "by\\n  sorry", "line": 2}}</tool_call><|im_end|>',
        '<tool_call>{"name": "goals", "arguments": {"code": "by sorry"}}</tool_call><|im_end|>',
        "The whole theorem:\n```lean\ntheorem lt (a b : Nat) (h : a < b) : a + 1 ≤ b := by\n  omega\n```<|im_end|>",
    ]
    policy, rewards = [], []
    for text in turns:
        ids = smollm2.encode(text, add_special_tokens=False)
        policy.append(ids)
        obs, reward, done, info = env.step(ids)
        rewards.append(reward)
    ep = env.episode
    assert rewards == [0.0, 0.0, 0.0, 1.0] and done and ep.stop == "proved" and ep.proved
    t0, t1, t2, t3 = ep.turns
    assert t0.verdicts[0]["status"] == "failed" and "Lean found 1 error" in t0.observation
    assert "Goal before the error" in t0.observation and "> 1 | by simp" in t0.observation
    assert t1.observation.startswith("Result of search:\n") and "Nat.succ_le_of_lt" in t1.observation
    assert "Result of goals:\nGoals before line 2:\na b : Nat" in t1.observation
    assert "error: " in t2.observation and "line" in t2.observation  # a missing argument, answered
    assert t3.verdicts[0]["status"] == "proved" and not t3.appended
    _check_record(smollm2, env, policy)


def test_native_tool_calling_episode(verifier, smollm2):
    from trl.chat_template_utils import qwen2_5_chat_template

    tok = copy.deepcopy(smollm2)
    tok.chat_template = qwen2_5_chat_template
    env = LeanEnv(P, tok, verifier=verifier, max_turns=3, feedback="critique")
    assert env.protocol == "native" and env.prefix_preserving
    obs = env.reset()
    assert '"name": "check"' in obs.text and "<tools>" in obs.text
    calls = [
        {"name": "check", "arguments": {"code": "by\n  intro x\n  omega"}},
        {"name": "check", "arguments": {"code": "by omega"}},
    ]
    policy = []
    for call in calls:
        ids = tok.encode(f"<tool_call>\n{json.dumps(call)}\n</tool_call><|im_end|>", add_special_tokens=False)
        policy.append(ids)
        obs, reward, done, info = env.step(ids)
    ep = env.episode
    first = ep.turns[0]
    assert (
        first.messages[0]["role"] == "tool"
        and "Step 1 is where it goes wrong: `intro x`" in first.observation
    )
    assert "<tool_response>" in tok.decode(ep.ids[first.end :])
    assert reward == 1.0 and done and ep.stop == "proved"
    _check_record(tok, env, policy)


def test_nothing_the_model_writes_changes_the_statement(verifier, smollm2):
    env = LeanEnv(P, smollm2, verifier=verifier)
    env.reset()
    weaker = "```lean\ntheorem lt (a b : Nat) (h : a < b) : a ≤ b := by omega\n```<|im_end|>"
    _, reward, done, info = env.step(smollm2.encode(weaker, add_special_tokens=False))
    assert reward == 0.0 and not done and info["verdicts"][0]["status"] == "forbidden"
