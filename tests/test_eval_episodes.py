"""Episode evaluation (``leanfd eval --max-turns T --tools ...``): the lockstep driver with a scripted
sampler and a stand-in verifier (no Lean, no model), the options, and end to end with the tiny
model and the embedded Lean: files, success by turn, the policy mask, resume per episode, and T = 1
without tools staying the single-turn path.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from leanfd.cli import app
from leanfd.data.problem import Problem
from leanfd.env.episode import LeanEnv
from leanfd.env.lockstep import run_episodes, turn_seed
from leanfd.eval.config import EvalConfig
from leanfd.eval.episodes import NO_CHECK, episode_outcome, episode_record, summarize_episodes
from leanfd.lean.types import Verdict

PROBLEMS = [
    Problem("two", "theorem two : 2 + 2 = 4 :="),
    Problem("comm", "theorem comm (a b : Nat) : a + b = b + a :="),
]
DECIDE = "```lean\nby decide\n```<|im_end|>"
OMEGA = "```lean\nby omega\n```<|im_end|>"


@pytest.fixture(scope="module")
def tok():
    from leanfd.models.policy import smollm2_tokenizer

    return smollm2_tokenizer()


class RuleVerifier:
    """Stands in for Lean: ``by omega`` proves anything, ``by decide`` only statements without
    variables."""

    backend, policy, supports_mathlib = "fake", "strict", False

    def verify(self, attempts, **kw):
        out = []
        for a in attempts:
            ok = a.proof == "by omega" or (a.proof == "by decide" and "(" not in a.problem.statement)
            out.append(Verdict(True, "proved") if ok else Verdict(False, "failed", reason="no"))
        return out


class ScriptedSampler:
    """Answers each episode's turns from a script (by key), with made-up log-probs and entropies,
    and records every call."""

    def __init__(self, tok, script: dict[int, list[str]]):
        self.tok, self.script, self.calls, self.given = tok, script, [], {}

    def sample(self, *, prompt_ids, keys, n, temperature, top_p, max_new_tokens, seed, stop):
        assert n == 1 and len(prompt_ids) == len(keys)
        self.calls.append((list(keys), seed))
        out = []
        for k in keys:
            turns = self.given.setdefault(k, [])
            ids = self.tok.encode(self.script[k][len(turns)], add_special_tokens=False)
            turns.append(ids)
            out.append(
                [SimpleNamespace(token_ids=ids, logprobs=[-0.5] * len(ids), entropies=[0.25] * len(ids))]
            )
        return out


def test_lockstep_batches_every_live_episode_and_masks_exactly_the_policy_ids(tok):
    envs = [LeanEnv(p, tok, max_turns=3, verifier=RuleVerifier()) for p in PROBLEMS for _ in range(2)]
    script = {
        0: [DECIDE],  # two: proved at turn 1
        1: ["hmm<|im_end|>", DECIDE],  # no action, then proved at turn 2
        2: [DECIDE, OMEGA],  # comm: decide fails, omega proves at turn 2
        3: [DECIDE, DECIDE, "still stuck<|im_end|>"],  # never proved
    }
    sampler = ScriptedSampler(tok, script)
    done = []
    runs, stats = run_episodes(
        envs,
        sampler,
        keys=[0, 1, 2, 3],
        temperature=1.0,
        top_p=1.0,
        max_new_tokens=64,
        seed=7,
        on_done=done.append,
    )
    # One call per round, holding exactly the live episodes; the round's seed is turn_seed(seed, t).
    assert sampler.calls == [([0, 1, 2, 3], 7), ([1, 2, 3], turn_seed(7, 1)), ([3], turn_seed(7, 2))]
    assert [r.key for r in done] == [0, 1, 2, 3] and stats.rounds == 3
    for r in runs:
        ep = r.episode
        policy = [t for t, m in zip(ep.ids, ep.mask, strict=True) if m]
        assert policy == [t for turn in sampler.given[r.key] for t in turn]  # exactly the model's ids
        assert [ep.ids[t.start : t.end] for t in ep.turns] == sampler.given[r.key]
        assert [lp for lp, m in zip(ep.logprobs, ep.mask, strict=True) if m] == [-0.5] * len(policy)
        assert len(r.entropies) == len(policy) and ep.transcript == tok.decode(
            ep.ids, skip_special_tokens=False
        )
    outcomes = [episode_outcome(r.episode.to_dict()) for r in runs]
    assert [o[2] for o in outcomes] == [1, 2, 2, None]
    assert outcomes[2][0] == "by omega" and outcomes[3][1]["status"] == "failed"
    assert episode_outcome({"turns": [{"calls": [], "verdicts": []}]}) == (None, NO_CHECK, None)

    records = [episode_record(envs[i].problem, i % 2, r) for i, r in enumerate(runs)]
    json.dumps(records)
    assert [r["checks"] for r in records] == [1, 1, 2, 2] and [r["turns"] for r in records] == [1, 2, 2, 3]
    by_problem = {"two": records[:2], "comm": records[2:]}
    df = summarize_episodes(by_problem, (1, 2), {"n": 2}, 3)
    assert list(df["pass@k_turn1"]) == pytest.approx([0.25, 0.5])  # the T=1 baseline: first turns
    assert list(df["pass@k_turn2"]) == pytest.approx([0.75, 1.0])
    assert list(df["pass@k_turn3"]) == list(df["pass@k"])
    assert df.loc[0, "avg@n_turn3"] == df.loc[0, "avg@n"] == 0.75
    assert df.loc[0, "turns_per_episode"] == 2.0 and df.loc[0, "checks_per_episode"] == 1.5
    assert df.loc[0, "new_tokens"] == sum(r["policy_tokens"] for r in records)
    assert df.loc[0, "entropy_per_token"] == pytest.approx(0.25)
    assert list(df.columns[-2:]) == ["pass@k_lo", "pass@k_hi"]


def test_a_turn_is_cut_to_what_its_episode_may_still_take(tok):
    env = LeanEnv(PROBLEMS[1], tok, max_turns=3, max_tokens=10_000, verifier=RuleVerifier())
    budget = len(env.reset().ids) + 5  # the prompt and 5 tokens
    env = LeanEnv(PROBLEMS[1], tok, max_turns=3, max_tokens=budget, verifier=RuleVerifier())
    sampler = ScriptedSampler(tok, {0: ["word " * 20 + "<|im_end|>"]})
    (run,), _ = run_episodes([env], sampler, keys=[0], temperature=1.0, top_p=1.0, max_new_tokens=64, seed=0)
    assert sum(run.episode.mask) == 5 == len(run.entropies) and run.episode.stop == "max_tokens"
    with pytest.raises(ValueError, match="distinct"):
        run_episodes([env, env], sampler, keys=[1, 1], temperature=1.0, top_p=1.0, max_new_tokens=4, seed=0)


def test_episode_options(tmp_path):
    base = dict(out=tmp_path, n=2, ks=(1, 2))
    single = EvalConfig(**base)
    assert not single.episodes and EvalConfig(**base, max_turns=1, tools=()).identity() == single.identity()
    assert "max_turns" not in single.identity()  # a single-turn run's config.json is as before
    cfg = EvalConfig(**base, max_turns=3, tools="check,search,goals")
    assert cfg.episodes and cfg.tools == ("check", "search", "goals")
    assert cfg.identity()["max_turns"] == 3 and cfg.identity()["tools"] == ["check", "search", "goals"]
    assert EvalConfig(**base, tools="check").episodes  # one turn, in the episode format
    for kw, match in [
        (dict(tools="check,grep"), "--tools"),
        (dict(max_turns=0), "--max-turns"),
        (dict(max_turns=2, verify_policy="strict,published"), "one preset"),
        (dict(max_turns=2, few_shot=2), "--few-shot"),
    ]:
        with pytest.raises(ValueError, match=match):
            EvalConfig(**base, **kw)
    res = CliRunner().invoke(app, ["eval", "--help"])
    assert "--max-turns" in res.output and "--tools" in res.output and "--max-episode-tokens" in res.output


# ------------------------------------------------------------------ end to end: tiny model, real Lean

SUITE = [
    {"name": "two_add_two", "statement": "theorem two_add_two : 2 + 2 = 4 :=", "split": "test"},
    {"name": "add_comm'", "statement": "theorem add_comm' (a b : Nat) : a + b = b + a :=", "split": "test"},
    {"name": "three_mul_five", "statement": "theorem three_mul_five : 3 * 5 = 15 :=", "split": "test"},
    {"name": "seven_sub", "statement": "theorem seven_sub : 7 - 3 = 4 :=", "split": "test"},
]


@pytest.fixture(scope="module")
def suite_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("suite") / "tiny.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in SUITE))
    return path


def teach_episodes(suite_path, verifier, max_turns: int = 3, tools=()):
    """The tiny random model taught, on scripted episodes played in the real env, to answer
    ``by decide`` first and ``by omega`` after Lean's error (cross-entropy on the policy tokens
    only, until their mean loss is < 0.005). ``max_turns`` and ``tools`` must be the run's: they
    are in the system prompt, and a tiny model taught under another prompt samples off script."""
    from leanfd.data import load_suite
    from leanfd.models.testing import tiny_random_policy

    policy = tiny_random_policy(seed=0)
    tok, model = policy.tokenizer, policy.model
    rows = []
    for p in load_suite(suite_path, split="test"):
        env = LeanEnv(p, tok, tools=tools, max_turns=max_turns, verifier=verifier)
        env.reset()
        for answer in (DECIDE, OMEGA):
            _, _, done, _ = env.step(tok.encode(answer, add_special_tokens=False))
            if done:
                break
        ep = env.episode
        policy_at = torch.tensor([i for i, m in enumerate(ep.mask) if m])
        rows.append((torch.tensor([ep.ids]), policy_at, torch.tensor(ep.ids)[policy_at]))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small runs 10x slower on threads that contend for busy cores
    try:
        loss = teach_steps(model, opt, rows)
    finally:
        torch.set_num_threads(threads)
    model.eval()
    assert loss / len(rows) < 0.005, "the tiny model did not learn the scripted episodes"
    return policy


def teach_steps(model, opt, rows) -> float:
    for _ in range(800):
        loss = 0.0
        for ids, policy_at, target in rows:
            # The vocabulary projection only where a policy token is predicted: the rest is context.
            hidden = model.model(input_ids=ids).last_hidden_state[0, policy_at - 1]
            loss = loss + torch.nn.functional.cross_entropy(model.lm_head(hidden), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if loss.item() / len(rows) < 0.005:
            break
    return loss.item()


class Shared:
    """The session's warm verifier, lent to a run that would close its own."""

    def __init__(self, v):
        self._v = v

    def __getattr__(self, name):
        return getattr(self._v, name)

    def close(self):
        pass


@pytest.mark.lean
@pytest.mark.slow
def test_cli_eval_max_turns_writes_episodes_and_resumes_per_episode(
    tmp_path, suite_path, verifier, monkeypatch
):
    import leanfd.lean
    import leanfd.models.policy
    from leanfd.eval.results import read_samples
    from leanfd.models.sampling import TransformersSampler

    policy = teach_episodes(suite_path, verifier)
    monkeypatch.setattr(leanfd.models.policy, "load_policy", lambda *a, **kw: policy)
    monkeypatch.setattr(leanfd.lean, "Verifier", lambda **kw: Shared(verifier))
    drawn: dict[int, list[list[int]]] = {}
    real_sample = TransformersSampler.sample

    def spy(self, *a, **kw):
        out = real_sample(self, *a, **kw)
        for k, (s,) in zip(kw["keys"], out, strict=True):
            drawn.setdefault(k, []).append(s.token_ids)
        return out

    monkeypatch.setattr(TransformersSampler, "sample", spy)
    run = tmp_path / "run"
    args = [
        "eval",
        "--suite",
        str(suite_path),
        "--model",
        "tiny",
        "--max-turns",
        "3",
        "--limit",
        "4",
        "-n",
        "2",
    ]
    args += [
        "-k",
        "1,2",
        "--temperature",
        "0.5",
        "--max-new-tokens",
        "16",
        "--backend",
        "embedded",
        "--out",
        str(run),
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "turns.png" in res.output and "per episode:" in res.output
    assert "episode time: prefill" in res.output and "environment (tools and Lean)" in res.output
    for name in ("samples.jsonl", "summary.csv", "passk.png", "turns.png"):
        assert (run / name).stat().st_size > 0
    assert (run / "turns.png").read_bytes()[:4] == b"\x89PNG"
    recs = read_samples(run)
    assert len(recs) == 8 and {(r["problem"], r["sample"]) for r in recs} == {
        (p["name"], j) for p in SUITE for j in range(2)
    }
    for r in recs:
        ep = r["episode"]
        assert len(ep["ids"]) == len(ep["mask"]) == len(ep["logprobs"]) and ep["turns"]
        # The mask marks exactly the ids the model drew, turn by turn.
        assert [t for t, m in zip(ep["ids"], ep["mask"], strict=True) if m] == [
            t for turn in drawn[r["key"]] for t in turn
        ]
        assert r["policy_tokens"] == len(r["entropies"]) and r["env_tokens"] >= ep["prompt_len"]
        assert all(lp is None for lp, m in zip(ep["logprobs"], ep["mask"], strict=True) if not m)
        assert r["verdict"]["ok"] == ep["proved"] == (r["proved_turn"] is not None)
    proved_at = {(r["problem"], r["sample"]): r["proved_turn"] for r in recs}
    assert any(proved_at[("add_comm'", j)] == 2 for j in range(2)), proved_at  # fixed after Lean's error
    assert sum(t == 1 for t in proved_at.values()) >= 4, proved_at
    df = pd.read_csv(run / "summary.csv")
    assert list(df["k"]) == [1, 2] and df.loc[0, "max_turns"] == 3
    by_turn = [df.loc[0, f"pass@k_turn{t}"] for t in (1, 2, 3)]
    assert by_turn == sorted(by_turn) and by_turn[-1] == df.loc[0, "pass@k"] and by_turn[1] > by_turn[0]

    # Resume per episode: drop one episode and cut the last line; only that episode is played again.
    lines = (run / "samples.jsonl").read_text().splitlines()
    gone = json.loads(lines[3])
    (run / "samples.jsonl").write_text("\n".join(lines[:3] + lines[4:]) + "\n" + lines[0][:40])
    drawn.clear()
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "resumed: 7 episodes already done" in res.output
    assert list(drawn) == [gone["key"]]
    again = {(r["problem"], r["sample"]): r for r in read_samples(run)}
    assert len(again) == 8
    redo = again[(gone["problem"], gone["sample"])]
    assert redo["episode"]["ids"] == gone["episode"]["ids"]  # the same draws, alone or in the batch
    assert pd.read_csv(run / "summary.csv")["pass@k"].tolist() == df["pass@k"].tolist()
    res = CliRunner().invoke(app, [*args[:-2], "--tools", "check,search", "--out", str(run)])
    assert res.exit_code != 0 and "tools" in res.output


@pytest.mark.lean
@pytest.mark.slow
def test_one_turn_without_tools_is_the_single_turn_path(tmp_path, suite_path, verifier, monkeypatch):
    import leanfd.eval.episodes
    from leanfd.eval.evaluate import evaluate
    from leanfd.eval.results import read_samples
    from leanfd.models.testing import tiny_random_policy

    def refuse(*a, **kw):
        raise AssertionError("T=1 without tools must not run episodes")

    monkeypatch.setattr(leanfd.eval.episodes, "evaluate_episodes", refuse)
    policy = tiny_random_policy(seed=1)
    base = dict(
        suite=str(suite_path), n=2, ks=(1, 2), max_new_tokens=8, limit=2, backend="embedded", progress=False
    )
    evaluate(EvalConfig(out=tmp_path / "a", **base), policy=policy, verifier=verifier)
    evaluate(EvalConfig(out=tmp_path / "b", max_turns=1, tools=(), **base), policy=policy, verifier=verifier)
    a, b = read_samples(tmp_path / "a"), read_samples(tmp_path / "b")

    def same(r):  # what was sampled and judged; not how long it took
        return {**r, "timing": None, "verdict": {**r["verdict"], "time_s": None}}

    assert [same(r) for r in a] == [same(r) for r in b] and len(a) == 4
    assert (tmp_path / "a" / "config.json").read_bytes() == (tmp_path / "b" / "config.json").read_bytes()
    assert not (tmp_path / "b" / "turns.png").exists()
