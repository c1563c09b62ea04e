"""The per-token feedback analysis (leanfd.train.feedback_alignment, `leanfd analyze-feedback`):
token -> step alignment, the gap split, the teacher = student identity, the controlled set's
corruptions (and, with real Lean, that each kept one fails at its corrupted step), the CLI's files."""

from __future__ import annotations

import json
import math

import pytest
import torch
from typer.testing import CliRunner

from leanfd.critic import conditions as C
from leanfd.critic.rule import step_aligned_critique
from leanfd.critic.steps import split_steps
from leanfd.data.problem import Problem
from leanfd.lean.types import LeanMessage, Verdict
from leanfd.train import controlled as K
from leanfd.train import feedback_alignment as FA

PROBLEM = Problem(
    "lt_succ",
    "theorem lt_succ (a b : Nat) (h : a < b) : a + 1 ≤ b :=",
    split="valid",
    reference_proof="by\n  have h2 : a < b := h\n  omega",
)
PROOF = "by\n  have h2 : a < b := h\n  simp\n  omega"
#: Lean's message for PROOF: `simp` (line 3) fails.
VERDICT = Verdict(False, "failed", [LeanMessage("error", 3, 2, 3, 6, "simp made no progress")])


@pytest.fixture(scope="module")
def policy():
    from leanfd.models.testing import tiny_random_policy

    return tiny_random_policy(0)


# ------------------------------------------------------------------------------ alignment


def test_a_token_belongs_to_the_step_holding_its_first_character():
    text = " by\n  simp\n  omega\n```"
    # " by" | "\n " | " si" | "mp\n  om" (straddles simp/omega) | "ega" | "\n" | "```"
    pieces = [" by", "\n ", " si", "mp\n  om", "ega", "\n", "```"]
    spans, k = [], 0
    for p in pieces:
        spans.append((k, k + len(p)))
        k += len(p)
    al = FA.align_tokens(text, spans, "by\n  simp\n  omega", failing=1)
    assert al.steps == [None, None, 0, 0, 1, None, None]  # "mp\n  om" starts inside simp
    assert al.segments == ["prefix", "prefix", "prefix", "prefix", "failing", None, None]


def test_prefilled_statement_and_closing_fence_are_excluded():
    # A completion that restates the theorem (no prefill): only the proof's tokens count.
    statement = "theorem t : True :="
    text = f"{statement} by\n  trivial\n```"
    pieces = ["theorem", " t", " :", " True", " :=", " by", "\n ", " trivial", "\n", "```"]
    assert "".join(pieces) == text
    spans, k = [], 0
    for p in pieces:
        spans.append((k, k + len(p)))
        k += len(p)
    al = FA.align_tokens(text, spans, "by\n  trivial", failing=0)
    assert al.segments == [None] * 5 + ["prefix", "prefix", "failing", None, None]


def test_token_spans_follow_the_tokenizer_through_multibyte_characters():
    from leanfd.models.policy import smollm2_tokenizer
    from leanfd.train.rollout import encode

    tok = smollm2_tokenizer()
    completion = " by\n  exact ⟨h₀, h⟩\n```"
    ids = encode(tok, completion)
    text, spans = FA.token_spans(tok, ids)
    assert text == completion
    assert spans[0][0] == 0 and max(b for _, b in spans) == len(text)
    assert all(a < b for a, b in spans) and [a for a, _ in spans] == sorted(a for a, _ in spans)
    anchors = FA.anchors(text, spans)
    assert text[anchors[0]] == "b"
    assert {text[a] for a in anchors} >= {"b", "e", "⟨", "h", "\n", "`"}


# ------------------------------------------------------------------------------ gaps


def test_the_split_sums_to_the_proof_tokens():
    values = [0.5, -1.0, 2.0, -0.25, 3.0, 9.0]
    segments = ["prefix", "prefix", "failing", "after", None, "failing"]
    g = FA.split_gaps(values, segments)
    assert sum(len(v) for v in g.values()) == 5
    assert sum(sum(v) for v in g.values()) == pytest.approx(
        sum(v for v, s in zip(values, segments, strict=True) if s)
    )


def test_attempt_rows_share_is_the_failing_steps_part_of_the_abs_gap():
    crit = step_aligned_critique(PROBLEM, PROOF, VERDICT)
    case = FA.Case("x", "a", PROBLEM, PROOF, [1, 2, 3, 4], VERDICT, crit)
    al = FA.TokenAlignment(0, [0, 1, 2, 3], [None] * 4, ["prefix", "failing", "failing", "after"])
    a = FA.Analysed(case, ["a", "b", "c", "d"], al, {"binary": [1.0, -2.0, 1.0, 4.0]}, {"binary": [0.0] * 4})
    (row,) = FA.attempt_rows(a)
    assert row["share_failing"] == pytest.approx(3 / 8)
    assert row["token_share_failing"] == pytest.approx(0.5)
    assert (row["abs_gap_prefix"], row["abs_gap_failing"], row["abs_gap_after"]) == (1.0, 1.5, 4.0)
    assert row["failing_step"] == "simp"


def test_empty_feedback_makes_the_teacher_the_student(policy, monkeypatch):
    from leanfd.train.rollout import encode

    monkeypatch.setitem(C.CONDITIONS, "empty", lambda problem, proof, verdict, critique=None: "")
    tok = policy.tokenizer
    crit = step_aligned_critique(PROBLEM, PROOF, VERDICT)
    case = FA.Case("x", "a", PROBLEM, PROOF, encode(tok, f" {PROOF}\n```"), VERDICT, crit)
    a = FA.analyse_case(case, policy.model, tok, ["empty", "binary", "critique"])
    assert max(abs(x) for x in a.gaps["empty"]) < 1e-5
    assert max(abs(x) for x in a.kls["empty"]) < 1e-5
    assert max(abs(x) for x in a.gaps["binary"]) > 1e-4  # the feedback does change the teacher
    assert (
        "".join(t for t, s in zip(a.tokens, a.alignment.segments, strict=True) if s == "failing") == " simp"
    )


def test_token_gaps_with_identical_prompts_are_zero(policy):
    ids = policy.tokenizer("hello there", add_special_tokens=False)["input_ids"]
    gap, kl = FA.token_gaps(policy.model, ids, [ids, ids[:-1]], [5, 6, 7], policy.tokenizer.eos_token_id)
    assert gap.shape == kl.shape == (2, 3)
    assert torch.allclose(gap[0], torch.zeros(3), atol=1e-5) and torch.allclose(
        kl[0], torch.zeros(3), atol=1e-5
    )
    assert not torch.allclose(gap[1], torch.zeros(3), atol=1e-5)


# ------------------------------------------------------------------------------ controlled set


def _core_multi_step(n: int = 6) -> list[Problem]:
    from leanfd.data import load_suite

    return [p for p in load_suite("core") if len(split_steps(p.reference_proof or "").steps) >= 3][:n]


def test_corruptions_change_one_step_and_name_where_it_fails():
    problems = _core_multi_step()
    pool = K.lemma_pool(problems)
    seen = set()
    for p in problems:
        for kind in K.KINDS:
            for c in K.corruptions(p, kind, pool)[:20]:
                seen.add(kind)
                assert c.proof != p.reference_proof
                step = c.expected_step()
                assert step is not None and step.start > 0
                if kind == "wrong_tactic":
                    assert step.text == c.replacement
                elif kind == "wrong_lemma":
                    assert c.replacement in step.text
                else:
                    assert c.proof.count("\n") < p.reference_proof.count("\n")
                    assert step.text in p.reference_proof  # the step after the dropped one, unchanged
    assert seen == set(K.KINDS)


def test_controlled_candidates_are_seeded():
    problems = _core_multi_step(10)
    a, b = K.candidates(problems, seed=3), K.candidates(problems, seed=3)
    assert [(c.problem.name, c.kind, c.proof) for c in a] == [(c.problem.name, c.kind, c.proof) for c in b]
    assert [c.kind for c in a[:3]] == list(K.KINDS)  # round-robin over kinds


@pytest.mark.lean
def test_kept_corruptions_fail_in_lean_at_the_corrupted_step(verifier):
    kept, counts = K.build_controlled_set(
        _core_multi_step(8), lambda atts: verifier.verify(atts), limit=4, seed=0, chunk=6, progress=False
    )
    assert kept and counts["kept"] == len(kept) <= 4
    for k in kept:
        assert not k.verdict.ok and k.verdict.errors
        assert k.critique.first_failing == k.corruption.expected_step().index
        assert k.critique.prefix.strip() not in ("", "by")


# ------------------------------------------------------------------------------ the command


def test_cli_writes_its_outputs(policy, tmp_path, monkeypatch):
    from leanfd.cli import app
    from leanfd.train.rollout import encode

    monkeypatch.setattr("leanfd.models.policy.load_policy", lambda spec, **kw: policy)
    suite = tmp_path / "suite.jsonl"
    row = {k: getattr(PROBLEM, k) for k in ("name", "statement", "split", "reference_proof")}
    suite.write_text(json.dumps(row) + "\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"suite": str(suite), "split": "valid", "few_shot": 0}))
    ids = encode(policy.tokenizer, f" {PROOF}\n```")
    rows = [
        {"problem": PROBLEM.name, "sample": i, "proof": PROOF, "verdict": VERDICT.to_dict(), "token_ids": ids}
        for i in range(2)
    ]
    rows.append(
        {"problem": PROBLEM.name, "sample": 2, "proof": None, "verdict": VERDICT.to_dict(), "token_ids": ids}
    )
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app, ["analyze-feedback", str(run), "-o", str(out), "--model", "tiny", "--figure-attempts", "1"]
    )
    assert res.exit_code == 0, res.output
    for f in ("summary.csv", "summary.json", "attempts.csv", "tokens.json", "token_gaps.png", "shares.png"):
        assert (out / f).stat().st_size > 0, f
    meta = json.loads((out / "summary.json").read_text())
    assert meta["counts"]["run"] == {
        "records": 3, "proved": 0, "no_proof": 1, "unlocated": 0, "unknown_problem": 0, "analysed": 2
    }  # fmt: skip
    conds = [r["condition"] for r in meta["summary"]]
    assert conds == list(C.CONDITIONS)
    assert all(0 <= r["share_failing"] <= 1 and not math.isnan(r["abs_gap_failing"]) for r in meta["summary"])
