"""The episode protocol without Lean: reading actions, rendering feedback, and the token-in/token-out
record on real tokenizers and templates (SmolLM2's own, and TRL's Qwen2.5, Qwen3 and Llama-3.1
templates). The turns here never reach Lean (unknown tools, malformed calls, no action)."""

from __future__ import annotations

import warnings

import pytest

from leanfd.data.problem import Problem
from leanfd.env.actions import parse_action
from leanfd.env.episode import LeanEnv, supports_native_tools
from leanfd.env.library import NameIndex, is_searchable, query_words
from leanfd.env.tools import ToolError, cap, error_feedback, goal_before, goals_at, is_file, make_attempt
from leanfd.lean.types import LeanMessage, Verdict

P = Problem("lt", "theorem lt (a b : Nat) (h : a < b) : a + 1 ≤ b :=")
NO_LEAN = object()  # a verifier that must never be used: these turns do not reach Lean


@pytest.fixture(scope="module")
def smollm2():
    from leanfd.models.policy import smollm2_tokenizer

    return smollm2_tokenizer()


def _with_template(tok, name: str):
    import copy

    from trl import chat_template_utils as ctu

    tok = copy.deepcopy(tok)
    tok.chat_template = getattr(ctu, f"{name}_chat_template")
    if name.startswith("llama3"):  # Llama 3's control tokens, single tokens as in a Llama tokenizer
        tok.add_special_tokens(
            {
                "additional_special_tokens": [
                    "<|eot_id|>",
                    "<|start_header_id|>",
                    "<|end_header_id|>",
                    "<|python_tag|>",
                ]
            }
        )
    return tok


# -- actions ------------------------------------------------------------------------------------


def test_parse_action_shapes():
    calls = parse_action(
        'I will look.\n<tool_call>\n{"name": "search", "arguments": {"query": "lt_irrefl"}}\n</tool_call>'
        '<tool_call>{"name": "read", "arguments": "{\\"name\\": \\"Nat.lt_irrefl\\"}"}</tool_call><|im_end|>'
    )
    assert [(c.name, c.arguments, c.error) for c in calls] == [
        ("search", {"query": "lt_irrefl"}, None),
        ("read", {"name": "Nat.lt_irrefl"}, None),  # arguments given as a JSON string
    ]
    (c,) = parse_action('{"name": "check", "parameters": {"code": "by omega"}}<|eot_id|>')  # Llama 3.1
    assert (c.name, c.arguments, c.source) == ("check", {"code": "by omega"}, "json")
    (c,) = parse_action("Draft:\n```lean\nby simp\n```\nFinal:\n```lean4\nby\n  omega\n```")
    assert (c.name, c.arguments, c.source) == ("check", {"code": "by\n  omega"}, "lean_block")
    assert parse_action("I give up.") == []


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('<tool_call>{"name": "search", "arguments": {"query": }}</tool_call>', "not valid JSON"),
        ('<tool_call>{"arguments": {}}</tool_call>', 'needs a "name"'),
        ('<tool_call>["search"]</tool_call>', 'needs a "name"'),
        ('<tool_call>{"name": "search", "arguments": [1]}</tool_call>', "must be a JSON object"),
        ('<tool_call>{"name": "search"', "not closed"),
    ],
)
def test_malformed_calls_say_what_is_wrong(text, error):
    (c,) = parse_action(text)
    assert c.error and error in c.error


def test_at_most_four_calls_per_turn():
    calls = parse_action('<tool_call>{"name": "read", "arguments": {"name": "x"}}</tool_call>' * 6)
    assert len(calls) == 5 and calls[-1].error and "first 4" in calls[-1].error


# -- tools' text, without Lean ------------------------------------------------------------------


def test_code_is_a_proof_or_a_file():
    assert not is_file("by\n  intro h\n  omega") and not is_file("fun h => h")
    assert is_file(
        "theorem helper : 1 = 1 := rfl\n\ntheorem lt (a b : Nat) (h : a < b) : a + 1 ≤ b := by omega"
    )
    assert is_file("import Std\ntheorem lt : True := trivial")
    assert make_attempt(P, "by omega").proof == "by omega"
    # a file, helpers and all, is a whole-file attempt (never rewritten into a proof)
    helpers = "theorem helper : 1 = 1 := rfl\n\n" + P.statement + " by omega"
    attempt = make_attempt(P, helpers)
    assert (attempt.file, attempt.proof, attempt.problem) == (helpers, None, P)
    with pytest.raises(ToolError, match="limit"):
        make_attempt(P, "by " + "simp; " * 20_000)


def test_error_feedback_kimina_format():
    proof = "by\n  have h2 : a + 2 ≤ b := by omega\n  exact h2\n  rfl\n  rfl"
    goals = [
        {"line": 2, "col": 2, "end_line": 3, "end_col": 10, "before": "a b : Nat\n⊢ a + 1 ≤ b", "after": ""},
        {"line": 2, "col": 31, "end_line": 2, "end_col": 36, "before": "h : a < b\n⊢ a + 2 ≤ b", "after": ""},
    ]
    errs = [
        LeanMessage("error", 2, 31, 2, 36, "omega could not prove the goal"),
        LeanMessage("error", 4, 2, 4, 5, "no goals"),
        LeanMessage("error", 5, 2, 5, 5, "no goals"),
        LeanMessage("error", 5, 2, 5, 5, "no goals again"),
    ]
    text = error_feedback(proof, Verdict(False, "failed", errs, goals=goals))
    assert text.startswith("Lean found 4 errors. The first 3 are shown.")
    assert "Error 1 at line 2, column 31: omega could not prove the goal" in text
    assert "Goal before the error:\nh : a < b\n⊢ a + 2 ≤ b" in text  # the innermost tactic's goal
    assert "> 2 |   have h2" in text and "  4 |   rfl" in text.split("Error 2")[0]  # ±2 lines, marked
    assert "no goals again" not in text
    short = error_feedback(proof, Verdict(False, "failed", errs, goals=goals), max_chars=300)
    assert len(short) <= 300 and "[… cut: errors" in short


def test_goal_lookup_by_position_and_line():
    entries = [
        {"line": 2, "col": 2, "end_line": 3, "end_col": 10, "before": "G0", "after": "none-seq"},
        {"line": 2, "col": 2, "end_line": 2, "end_col": 30, "before": "G0", "after": "G1"},
        {"line": 3, "col": 2, "end_line": 3, "end_col": 10, "before": "G1", "after": ""},
    ]
    assert goal_before(entries, 3, 5) == "G1" and goal_before(entries, 9, 0) is None
    assert goals_at(entries, 2) == "Goals before line 2:\nG0\nGoals after line 2:\nG1"
    assert goals_at(entries, 3).endswith("Goals after line 3:\nno goals")
    assert goals_at(entries, 5) == "Goals at line 5 (after the tactic ending on line 3):\nnone-seq"
    assert goals_at(entries, 1).startswith("Goals at line 1 (before the first tactic, line 2):\nG0")


def test_cap_says_when_it_cut():
    assert cap("short", 10) == "short"
    out = cap("x" * 10_000, 3000)
    assert len(out) <= 3000 and out.endswith("[… cut: 7040 more characters]")


def test_name_index_ranks_substring_then_words_then_fuzzy():
    names = ["Nat.add_comm", "Nat.add_comm_left", "Int.add_comm", "Nat.mul_comm", "Nat.rec", "Nat.add_le_add"]
    idx = NameIndex.build({"Init.Data.Nat": names})
    assert "Nat.rec" not in idx.names and not is_searchable("List.map.match_1")
    hits, how, total = idx.match("add_comm", 3)
    assert (how, total) == ("substring", 3)
    assert [idx.names[i] for i in hits] == ["Int.add_comm", "Nat.add_comm", "Nat.add_comm_left"]
    assert idx.match("add", 1)[2] == 4  # every substring match is counted, not only those shown
    hits, how, total = idx.match("comm mul", 5)
    assert how == "words" and [idx.names[i] for i in hits] == ["Nat.mul_comm"] and total == 1
    hits, how, total = idx.match("ad_comn", 2)
    assert how == "fuzzy" and idx.names[hits[0]].endswith("add_comm") and total >= len(hits)
    assert query_words("Nat.addComm") == ["nat", "add", "comm"]


# -- the token-in/token-out record on real templates -------------------------------------------


def _text(env: LeanEnv, messages: list[dict], generation_prompt: bool) -> str:
    kw = {"tools": env.schemas} if env.protocol == "native" else {}
    return env.tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=generation_prompt, **kw
    )


def _policy_ids(env: LeanEnv, conversation: list[dict], assistant: dict) -> list[int]:
    """The ids a model trained on this template emits for ``assistant``: the template's own
    rendering of the message, up to and including its end-of-turn token."""
    before = _text(env, conversation, True)
    after = _text(env, conversation + [assistant], False)
    assert after.startswith(before)
    eot = env.tokenizer.convert_ids_to_tokens(env.end_of_turn_id)
    own = after[len(before) :]
    return env.tokenizer.encode(own[: own.index(eot) + len(eot)], add_special_tokens=False)


@pytest.mark.parametrize(
    ("template", "protocol"), [(None, "plain"), ("qwen2_5", "native"), ("llama3_1", "native")]
)
def test_record_equals_the_templates_rendering_of_the_conversation(smollm2, template, protocol):
    tok = smollm2 if template is None else _with_template(smollm2, template)
    env = LeanEnv(P, tok, verifier=NO_LEAN, max_turns=3)
    assert env.protocol == protocol and env.prefix_preserving
    obs = env.reset()
    conversation = env.initial_messages()
    call = {"type": "function", "function": {"name": "nope", "arguments": {"x": 1}}}
    turns = [
        {"role": "assistant", "content": "", "tool_calls": [call]}
        if protocol == "native"
        else {
            "role": "assistant",
            "content": '<tool_call>{"name": "nope", "arguments": {"x": 1}}</tool_call>',
        },
        {"role": "assistant", "content": "Let me think."},
    ]
    policy = []
    for msg in turns:
        ids = _policy_ids(env, conversation, msg)
        policy.append(ids)
        obs, reward, done, info = env.step(ids, logprobs=[-0.5] * len(ids))
        assert not done and reward == 0.0 and obs.ids
        conversation += [msg, *env.episode.turns[-1].messages]
    ep = env.episode
    assert "unknown tool 'nope'" in ep.turns[0].observation and "No action found" in ep.turns[1].observation
    rendered = _text(env, conversation, True)
    assert tok.decode(ep.ids, skip_special_tokens=False) == ep.transcript == rendered
    if template != "llama3_1":  # SmolLM2's BPE merges "\n\n{" across Llama 3's turn boundary
        assert ep.ids == tok.encode(rendered, add_special_tokens=False)  # the template's own ids
    assert [i for i, m in enumerate(ep.mask) if m] == [
        i for t in ep.turns for i in range(t.start, t.end)
    ] and [ep.ids[t.start : t.end] for t in ep.turns] == policy
    assert [lp for lp, m in zip(ep.logprobs, ep.mask, strict=True) if m] == [-0.5] * sum(map(len, policy))
    assert all(lp is None for lp, m in zip(ep.logprobs, ep.mask, strict=True) if not m)


def test_qwen3_is_not_prefix_preserving_and_the_record_keeps_what_the_model_saw(smollm2):
    tok = _with_template(smollm2, "qwen3")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = LeanEnv(P, tok, verifier=NO_LEAN)
    assert not env.prefix_preserving and any("not prefix-preserving" in str(w.message) for w in caught)
    env.reset()
    text = '<think>\nsearch first\n</think>\n\n<tool_call>\n{"name": "nope", "arguments": {}}\n</tool_call><|im_end|>'
    ids = tok.encode(text, add_special_tokens=False)
    obs, _, _, info = env.step(ids)
    assert info["calls"][0]["result"].startswith("error: unknown tool")
    assert tok.decode(obs.ids) == "\n<|im_start|>user\n<tool_response>\n" + info["calls"][0]["result"] + (
        "\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
    )
    ep = env.episode
    assert ep.ids[ep.turns[0].start : ep.turns[0].end] == ids  # the reasoning the model wrote stays
    assert tok.decode(ep.ids) == ep.transcript


def test_turn_cut_by_a_token_limit_gets_the_end_of_turn_from_the_env(smollm2):
    env = LeanEnv(P, smollm2, verifier=NO_LEAN)
    env.reset()
    ids = smollm2.encode("I am still thinking about", add_special_tokens=False)
    obs, *_ = env.step(ids)
    assert obs.ids[0] == env.end_of_turn_id and env.episode.mask[len(env.episode.ids) - len(obs.ids)] == 0
    assert smollm2.decode(obs.ids).startswith("<|im_end|>\n<|im_start|>user\nNo action found")


def test_episode_limits_and_misuse(smollm2):
    env = LeanEnv(P, smollm2, verifier=NO_LEAN, max_turns=2, max_tokens=10_000)
    with pytest.raises(RuntimeError, match="reset"):
        env.step([1])
    env.reset()
    junk = smollm2.encode("hmm<|im_end|>", add_special_tokens=False)
    assert env.step(junk)[2] is False
    obs, reward, done, info = env.step(junk)
    assert done and info["stop"] == "max_turns" and obs.ids == [] and not env.episode.turns[-1].appended
    with pytest.raises(RuntimeError, match="done"):
        env.step(junk)
    fresh = LeanEnv(P, smollm2, verifier=NO_LEAN)
    fresh.reset()
    with pytest.raises(ValueError, match="log-probs"):
        fresh.step(junk, logprobs=[0.0])
    tight = LeanEnv(
        P, smollm2, verifier=NO_LEAN, max_tokens=len(env.episode.ids[: env.episode.prompt_len]) + 5
    )
    tight.reset()
    obs, _, done, info = tight.step(junk)
    assert done and info["stop"] == "max_tokens" and len(tight.episode.ids) <= tight.max_tokens


def test_native_needs_a_tool_template(smollm2):
    assert not supports_native_tools(smollm2)
    assert supports_native_tools(_with_template(smollm2, "qwen2_5"))
    with pytest.raises(ValueError, match="protocol='plain'"):
        LeanEnv(P, smollm2, verifier=NO_LEAN, protocol="native")
    with pytest.raises(ValueError, match="unknown tools"):
        LeanEnv(P, smollm2, verifier=NO_LEAN, tools=["check", "rm"])
