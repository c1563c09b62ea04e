"""The LM critic: answer parsing, fallback, fix verification with real Lean, and real models
(the tiny random Llama, SmolLM2) whose output may be poor, plus the ``leanfd critique`` command."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from leanfd.critic.lm import (
    CriticParseError,
    LMCritic,
    OpenAIChatGenerator,
    TransformersGenerator,
    build_messages,
    parse_answer,
    prefill_for,
)
from leanfd.critic.rule import step_aligned_critique
from leanfd.data.problem import Attempt, Problem

P_AND = Problem("c_and", "theorem c_and (p q : Prop) (hp : p) (hq : q) : p ∧ q :=")
BROKEN = "by\n  constructor\n  · exact hp\n  · exact hp"  # step 4 (`exact hp` on goal q) fails


def test_parse_answer():
    a = parse_answer("```lean\nby\n  omega\n```\nNOTES:\nstep 1: ok\n- Step 2 - was wrong\n", P_AND, "by\n  ")
    assert a.proof == "by\n  omega" and a.notes == {0: "ok", 1: "was wrong"}
    # a restated theorem is cut back to the proof
    a = parse_answer(f"```lean4\n{P_AND.statement} by\n  simp\n```", P_AND)
    assert a.proof == "by\n  simp"
    for answer, why in [
        ("no code here", "no closed"),
        ("```lean\nby\n  omega", "no closed"),
        ("```lean\n\n```", "empty"),
        ("```lean\ntheorem other : True := trivial\n```", "different theorem"),
        ("```lean\nby\n  simp\n```", "verified prefix"),
    ]:
        with pytest.raises(CriticParseError, match=why):
            parse_answer(answer, P_AND, "by\n  constructor\n  ")


def scripted(answer_after_prefill: str | None, full: str | None = None):
    """A stand-in generator with a fixed answer, to check parsing and verification exactly (the
    real models below cannot be steered to a given answer)."""
    calls = []

    def gen(messages, prefill=""):
        calls.append((messages, prefill))
        return full if full is not None else prefill + answer_after_prefill

    gen.calls = calls
    return gen


@pytest.mark.lean
def test_fix_verified_with_lean(verifier):
    v = verifier.verify([Attempt(P_AND, BROKEN)])[0]
    rule = step_aligned_critique(P_AND, BROKEN, v)
    assert rule.prefix == "by\n  constructor\n  · exact hp\n  · "
    good = scripted("exact hq\n```\nNOTES:\nstep 4: the goal is q, use hq\n")
    bad = scripted("exact hp\n  done\n```\n")
    c_good = LMCritic(good, verify_fix=True, verifier=verifier).critique(P_AND, BROKEN, v)
    c_bad = LMCritic(bad, verify_fix=True, verifier=verifier).critique(P_AND, BROKEN, v)
    # the prompt carried the analysis and the answer was prefilled with the verbatim prefix
    messages, prefill = good.calls[0]
    assert prefill == "```lean\n" + rule.prefix and "step 4" in messages[1]["content"]
    assert c_good.source == "lm" and c_good.corrected_proof == "by\n  constructor\n  · exact hp\n  · exact hq"
    assert c_good.fix_verified is True and c_good.details["corrected_step"] == "exact hq"
    assert c_good.steps[3].note == "the goal is q, use hq"
    assert c_good.first_failing == rule.first_failing and c_good.prefix == rule.prefix
    assert c_bad.source == "lm" and c_bad.fix_verified is False and c_bad.details["fix_status"] == "failed"


@pytest.mark.lean
def test_fallbacks(verifier):
    v = verifier.verify([Attempt(P_AND, BROKEN)])[0]
    rule = step_aligned_critique(P_AND, BROKEN, v)

    def boom(messages, prefill=""):
        raise ConnectionError("endpoint down")

    cases = [
        (scripted(None, full="I think the proof is fine."), "no closed"),
        (scripted(None, full="```lean\nby\n  simp\n```"), "verified prefix"),
        (scripted("exact hp\n```"), "identical"),
        (boom, "endpoint down"),
    ]
    for gen, why in cases:
        c = LMCritic(gen, verify_fix=True, verifier=verifier).critique(P_AND, BROKEN, v)
        assert c.source == "rule" and why in c.fallback_reason
        assert c.corrected_proof is None and c.fix_verified is None
        assert c.first_failing == rule.first_failing and c.diagnosis == rule.diagnosis


@pytest.mark.lean
@pytest.mark.slow
def test_tiny_random_model_end_to_end(verifier):
    """A real (random) Llama through transformers: garbage in, but the critique is still sound."""
    from leanfd.models.testing import tiny_random_policy

    pol = tiny_random_policy(seed=0)
    gen = TransformersGenerator(pol.model, pol.tokenizer, max_new_tokens=12)
    v = verifier.verify([Attempt(P_AND, BROKEN)])[0]
    c = LMCritic(gen, verify_fix=True, verifier=verifier).critique(P_AND, BROKEN, v)
    rule = step_aligned_critique(P_AND, BROKEN, v)
    assert c.first_failing == rule.first_failing and c.prefix == rule.prefix
    if c.source == "rule":
        assert c.fallback_reason
    else:
        assert c.corrected_proof.startswith(rule.prefix.rstrip()) and isinstance(c.fix_verified, bool)
    # greedy: the same answer twice
    msgs = build_messages(P_AND, BROKEN, v, rule)
    assert gen(msgs, prefill_for(rule)) == gen(msgs, prefill_for(rule))


@pytest.mark.lean
@pytest.mark.slow
@pytest.mark.model
def test_smollm2_critic(verifier):
    gen = TransformersGenerator.from_spec("smollm2-135m", max_new_tokens=24)
    v = verifier.verify([Attempt(P_AND, BROKEN)])[0]
    c = LMCritic(gen, verify_fix=True, verifier=verifier).critique(P_AND, BROKEN, v)
    assert c.source in ("rule", "lm")
    if c.source == "lm":
        assert c.corrected_proof.startswith(c.prefix.rstrip()) and isinstance(c.fix_verified, bool)
    else:
        assert c.fallback_reason


class _ChatServer(BaseHTTPRequestHandler):
    answer = ""
    seen: list = []

    def do_POST(self):  # noqa: N802 (http.server's API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, body))
        out = json.dumps(
            {"choices": [{"message": {"role": "assistant", "content": type(self).answer}}]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


def test_openai_compatible_endpoint():
    """The HTTP client against a local stand-in server (no OpenAI-compatible model server runs here)."""
    srv = HTTPServer(("127.0.0.1", 0), _ChatServer)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        _ChatServer.answer = (
            "```lean\nby\n  constructor\n  · exact hp\n  · exact hq\n```\nNOTES:\nstep 4: use hq"
        )
        gen = OpenAIChatGenerator(f"http://127.0.0.1:{srv.server_port}/v1", "critic-model")
        from leanfd.lean.types import LeanMessage, Verdict

        v = Verdict(
            False,
            "failed",
            [
                LeanMessage(
                    "error",
                    4,
                    4,
                    4,
                    12,
                    "Type mismatch\n  hp\nhas type\n  p\nbut is expected to have type\n  q",
                )
            ],
        )
        c = LMCritic(gen).critique(P_AND, BROKEN, v)
        path, body = _ChatServer.seen[-1]
        assert path == "/v1/chat/completions" and body["temperature"] == 0 and body["model"] == "critic-model"
        assert body["messages"][-1]["role"] == "user"  # a generic server gets no prefill
        assert c.source == "lm" and c.corrected_proof.endswith("· exact hq") and c.fix_verified is None
        assert c.steps[3].note == "use hq"
    finally:
        srv.shutdown()


@pytest.mark.lean
def test_cli_critique(tmp_path, verifier):
    from typer.testing import CliRunner

    from leanfd.cli import app

    v = verifier.verify([Attempt(P_AND, BROKEN)])[0]
    rows = [
        {
            "id": "given",
            "statement": P_AND.statement,
            "proof": BROKEN,
            "verdict": v.to_dict(),
            "reference_proof": "⟨hp, hq⟩",
        },
        {
            "id": "fresh",
            "statement": "theorem c_add (n : Nat) : n + 0 = n :=",
            "proof": "by\n  intro m\n  omega",
        },
    ]
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(app, ["critique", str(inp), "-o", str(out), "--backend", "embedded"])
    assert res.exit_code == 0, res.output
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["id"] for g in got] == ["given", "fresh"]
    assert (
        got[0]["first_failing_text"] == "exact hp"
        and got[0]["critique"]["prefix"] == "by\n  constructor\n  · exact hp\n  · "
    )
    assert got[1]["first_failing"] == 0 and got[1]["goal"] == "n : Nat\n⊢ n + 0 = n"
    assert set(got[0]["feedback"]) == {"binary", "errors", "reference", "critique", "critique+reference"}
    assert got[0]["feedback"]["reference"] and got[1]["feedback"]["reference"] is None
    assert "keep this part verbatim" in got[0]["feedback"]["critique"]

    inp.write_text('{"id": 1, "statement": "theorem x : True :=", "proof": "by trivial"}\n{"id": 2}\n')
    res = CliRunner().invoke(app, ["critique", str(inp), "-o", str(out)])
    assert res.exit_code == 2 and "in.jsonl:2: missing field(s) statement, proof" in res.output
