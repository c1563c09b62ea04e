"""End to end: a real (tiny) model, the real evaluate loop, the embedded Lean; files and resume.

The tiny random Llama is first taught, by a few gradient steps, to answer " by decide" after the
prefilled statement, so the run has both proved attempts (decidable facts) and Lean-rejected ones
(`decide` cannot prove a statement with free variables): the counts in the summary then come from
real verdicts.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from leanfd.cli import app
from leanfd.data import load_suite
from leanfd.eval.evaluate import EvalConfig, evaluate
from leanfd.eval.results import read_samples
from leanfd.models.prompts import build_prompt
from leanfd.models.testing import tiny_random_policy

PROBLEMS = [
    {"name": "two_add_two", "statement": "theorem two_add_two : 2 + 2 = 4 :=", "split": "test"},
    {"name": "three_mul_five", "statement": "theorem three_mul_five : 3 * 5 = 15 :=", "split": "test"},
    {"name": "add_comm'", "statement": "theorem add_comm' (a b : Nat) : a + b = b + a :=", "split": "test"},
    {
        "name": "ex_valid",
        "statement": "theorem ex_valid : 1 = 1 :=",
        "split": "valid",
        "reference_proof": "rfl",
    },
]
TARGET = " by decide\n```"


@pytest.fixture(scope="module")
def suite_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("suite") / "tiny.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in PROBLEMS))
    return path


@pytest.fixture(scope="module")
def taught_policy(suite_path):
    return teach(suite_path, TARGET)


def teach(suite_path, answer: str):
    """The tiny random model after AdamW steps on prompt -> answer<|im_end|> (until the mean
    token loss is < 0.005, i.e. the answer has probability > 0.97)."""
    policy = tiny_random_policy(seed=0)
    tok, model = policy.tokenizer, policy.model
    rows = []
    for p in load_suite(suite_path, split="test"):
        prompt_ids = tok(build_prompt(p, tok).text, add_special_tokens=False)["input_ids"]
        target = tok(answer, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        rows.append((torch.tensor([prompt_ids + target]), torch.tensor(target)))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(200):
        loss = 0.0
        for ids, target in rows:
            # Only the answer positions need logits (logits_to_keep): the prompt is context.
            logits = model(input_ids=ids, logits_to_keep=len(target) + 1).logits[0, :-1]
            loss = loss + torch.nn.functional.cross_entropy(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if loss.item() / len(rows) < 0.005:
            break
    model.eval()
    assert loss.item() / len(rows) < 0.005, "the tiny model did not learn the target answer"
    return policy


@pytest.fixture(scope="module")
def verifier():
    from leanfd.lean import Verifier

    with Verifier(backend="embedded", workers=1) as v:
        yield v


def config(tmp_path, suite_path, **kw):
    base = dict(
        out=tmp_path / "run",
        suite=str(suite_path),
        split="test",
        model="tiny",
        n=2,
        ks=(1, 2),
        temperature=0.5,
        max_new_tokens=8,
        batch_size=4,  # 2 problems per generate call
        backend="embedded",
        workers=1,
        progress=False,
    )
    base.update(kw)
    return EvalConfig(**base)


@pytest.mark.lean
@pytest.mark.slow
def test_eval_end_to_end_with_resume(tmp_path, suite_path, taught_policy, verifier):
    # 1) An "interrupted" run: only the first two problems.
    first = evaluate(config(tmp_path, suite_path, limit=2), policy=taught_policy, verifier=verifier)
    run = tmp_path / "run"
    recs1 = read_samples(run)
    assert len(recs1) == 4 and first.skipped == 0
    # Simulate a crash mid-write: a half line and a problem with only one of its two samples.
    partial = dict(recs1[0], problem="add_comm'", sample=0)
    with (run / "samples.jsonl").open("a") as f:
        f.write(json.dumps(partial) + "\n" + '{"problem": "add_co')

    # 2) Resume on the full split: the two finished problems are not sampled again.
    result = evaluate(config(tmp_path, suite_path), policy=taught_policy, verifier=verifier)
    assert result.skipped == 2
    recs = read_samples(run)
    assert len(recs) == 6
    assert [r["completion"] for r in recs[:4]] == [r["completion"] for r in recs1]
    by_problem = {}
    for r in recs:
        by_problem.setdefault(r["problem"], []).append(r)
    assert sorted(by_problem) == ["add_comm'", "three_mul_five", "two_add_two"]
    assert sorted(r["sample"] for r in by_problem["add_comm'"]) == [0, 1]

    # Every record carries what a researcher needs, and verdicts come from Lean.
    for r in recs:
        assert len(r["token_ids"]) == len(r["logprobs"]) == len(r["entropies"]) > 0
        assert set(r["verdict"]) >= {"ok", "status", "messages", "time_s"}
        if r["proof"] == "by decide":
            want_ok = r["problem"] != "add_comm'"
            assert r["verdict"]["ok"] is want_ok, r
            if not want_ok:
                assert r["verdict"]["status"] == "failed"
                assert any(m["severity"] == "error" for m in r["verdict"]["messages"])
    proved = {p: sum(r["verdict"]["ok"] for r in rs) for p, rs in by_problem.items()}
    assert proved["add_comm'"] == 0
    assert proved["two_add_two"] + proved["three_mul_five"] >= 3, proved  # the taught answer works

    # summary.csv: one row per k, pass@k from the verdicts on disk.
    df = pd.read_csv(run / "summary.csv")
    assert list(df["k"]) == [1, 2]
    c = [proved[p] for p in sorted(proved)]
    want1 = sum(ci / 2 for ci in c) / 3
    want2 = sum(ci > 0 for ci in c) / 3
    assert df.loc[0, "pass@k"] == pytest.approx(want1)
    assert df.loc[1, "pass@k"] == pytest.approx(want2)
    assert df.loc[0, "avg@n"] == pytest.approx(want1)
    assert df.loc[0, "problems"] == 3 and df.loc[0, "n"] == 2 and df.loc[0, "model"] == "tiny"
    assert df.loc[0, "entropy_per_token"] >= 0 and df.loc[0, "verify_s"] > 0 and df.loc[0, "sample_s"] > 0
    assert (run / "passk.png").stat().st_size > 1000
    assert (run / "passk.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # 3) A third invocation has nothing left to sample and rewrites the same summary.
    again = evaluate(config(tmp_path, suite_path), policy=taught_policy, verifier=verifier)
    assert again.skipped == 3
    assert again.summary["pass@k"].tolist() == df["pass@k"].tolist()

    # 4) Resuming with other sampling settings is refused, naming the difference.
    with pytest.raises(ValueError, match="temperature"):
        evaluate(config(tmp_path, suite_path, temperature=0.9), policy=taught_policy, verifier=verifier)

    # 5) `leanfd plot` overlays runs.
    out = tmp_path / "overlay.png"
    res = CliRunner().invoke(app, ["plot", str(run), str(run), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "args,match",
    [
        (["-n", "4", "-k", "1,8"], "between 1 and n=4"),
        (["-n", "4", "-k", "1,x"], "comma-separated integers"),
        (["--temperature", "0", "-n", "4", "-k", "1"], "greedy"),
        (["--top-p", "1.5", "-n", "2", "-k", "1"], "top-p"),
        (["--prompt", "weird", "-n", "2", "-k", "1"], "chat or plain"),
    ],
)
def test_cli_eval_validates_inputs(tmp_path, args, match):
    res = CliRunner().invoke(app, ["eval", "--out", str(tmp_path / "r"), *args])
    assert res.exit_code == 2
    assert match in res.output
    assert not (tmp_path / "r").exists()


def test_cli_plot_names_a_missing_run(tmp_path):
    res = CliRunner().invoke(app, ["plot", str(tmp_path / "nope"), "-o", str(tmp_path / "x.png")])
    assert res.exit_code == 2 and "not a finished `leanfd eval` run" in res.output


@pytest.mark.lean
@pytest.mark.slow
def test_one_run_reports_pass_at_k_under_both_presets(tmp_path, suite_path, verifier):
    """A model that answers `native_decide`: strict refuses every proof, published accepts the
    decidable ones. One run, sampled once, reports both; the second preset re-checks in Lean only
    what it can change (here the refused proofs), and resume keeps the presets."""
    policy = teach(suite_path, " by native_decide\n```")
    cfg = config(tmp_path, suite_path, verify_policy="strict,published")
    df = evaluate(cfg, policy=policy, verifier=verifier).summary
    assert list(df["policy"]) == ["strict", "strict", "published", "published"]
    by = df.set_index(["policy", "k"])
    assert by.loc[("strict", 1), "solved"] == 0 and by.loc[("strict", 1), "pass@k"] == 0.0
    assert by.loc[("published", 1), "solved"] == 2, df  # the closed facts; add_comm' has variables
    assert by.loc[("published", 1), "pass@k"] > 0.5
    recs = read_samples(tmp_path / "run")
    for r in recs:
        assert r["verdict"]["policy"] == "strict" and r["verdicts"]["published"]["policy"] == "published"
        if r["proof"] == "by native_decide":
            assert r["verdict"]["status"] == "forbidden"
            if r["problem"] != "add_comm'":
                assert r["verdicts"]["published"]["status"] == "proved"
                assert "Lean.ofReduceBool" in r["verdicts"]["published"]["axioms"]
    with pytest.raises(ValueError, match="verify_policy: 'strict,published' on disk vs 'strict' now"):
        evaluate(config(tmp_path, suite_path), policy=policy, verifier=verifier)
    with pytest.raises(ValueError, match="--policy 'lenient'"):
        config(tmp_path, suite_path, verify_policy="lenient")
