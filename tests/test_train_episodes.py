"""Training on multi-turn episodes (``leanfd train --max-turns T``): the losses count the policy's
tokens only, the FD teacher reads the same ids after a prompt holding the feedback (and empty
feedback is the identity), GRPO's reward is the episode's result, T = 1 without tools is the
single-attempt path, resume, and the CLI end to end through the embedded Lean.

The Lean-free tests use a scripted sampler and a rule verifier (from the episode eval tests) with
the tiny random model: what they check is the bookkeeping, which needs no real proof.
"""

from __future__ import annotations

import csv
import json

import pytest
import torch
from test_eval_episodes import DECIDE, OMEGA, RuleVerifier, ScriptedSampler, Shared, teach_episodes
from typer.testing import CliRunner

from leanfd.train import losses as L
from leanfd.train.config import TrainConfig
from leanfd.train.episodes import NO_ATTEMPT, episode_columns
from leanfd.train.rollout import pack, teacher_context
from leanfd.train.runlog import METRIC_COLUMNS
from leanfd.train.trainer import Trainer

ROWS = [
    {
        "name": "two",
        "split": "valid",
        "statement": "theorem two : 2 + 2 = 4 :=",
        "reference_proof": "by decide",
    },
    {
        "name": "comm",
        "split": "valid",
        "statement": "theorem comm (a b : Nat) : a + b = b + a :=",
        "reference_proof": "by omega",
    },
    {
        "name": "nine",
        "split": "test",
        "statement": "theorem nine : 3 * 3 = 9 :=",
        "reference_proof": "by decide",
    },
]


class Verifier(RuleVerifier):
    """The rule verifier with what a trainer's background start calls."""

    def warm_up(self, imports):
        pass


@pytest.fixture
def suite(tmp_path):
    path = tmp_path / "suite.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return str(path)


def _cfg(tmp_path, suite, **kw) -> TrainConfig:
    base = dict(
        out=str(tmp_path / "run"),
        suite=suite,
        steps=1,
        problems_per_step=2,
        group_size=2,
        max_new_tokens=16,
        micro_batch_size=4,
        max_turns=2,
        feedback="errors",
        teacher="live",
        evaluate=False,
        save_every=1,
        progress=False,
        tensorboard=False,
        lr=1e-2,
    )
    base.update(kw)
    return TrainConfig(**base)


def _tiny():
    from leanfd.models.testing import tiny_random_policy

    return tiny_random_policy(0)


def _scripted(trainer, script):
    """The trainer's rollouts answer from ``script`` (episode key -> its turns' texts)."""
    trainer.sampler = ScriptedSampler(trainer.tokenizer, script)
    return trainer.sampler


# The stream's first two problems are two then comm (seed 0); keys are problem * G + sample.
SCRIPT = {
    0: ["no idea<|im_end|>", "still none<|im_end|>"],  # two: never checks
    1: [DECIDE],  # two: proved at turn 1
    2: [DECIDE, OMEGA],  # comm: decide fails, omega proves at turn 2
    3: [DECIDE, DECIDE],  # comm: never proved
}


def _batch(trainer):
    batch = trainer.rollouts(0)
    assert [r.problem.name for r in batch.rollouts] == ["two", "two", "comm", "comm"]
    return batch


# ------------------------------------------------------------------------------------------- losses


def test_masked_losses_equal_the_losses_on_the_policy_tokens_alone():
    """Hand-built tensors: an episode's completion with environment tokens masked out gives the
    losses (and gradients) of the policy tokens laid out alone."""
    g = torch.Generator().manual_seed(0)
    B, T, V = 3, 9, 11
    logits = torch.randn(B, T, V, generator=g, requires_grad=True)
    t_logits = torch.randn(B, T, V, generator=g)
    tokens = torch.randint(0, V, (B, T), generator=g)
    # 1 = policy token, 0 = environment token or padding (rows end at different lengths)
    mask = torch.tensor(
        [[1, 1, 0, 0, 0, 1, 1, 1, 0], [1, 0, 0, 1, 1, 0, 0, 0, 0], [0, 1, 1, 1, 1, 1, 0, 1, 1]]
    ).float()
    adv = torch.tensor([1.0, -0.5, 0.25])
    n = int(mask.sum(1).max())
    keep = [torch.nonzero(mask[i]).squeeze(1) for i in range(B)]

    def alone(x):  # the policy tokens of each row, moved to the front, zero-padded
        out = x.new_zeros((B, n, *x.shape[2:]))
        for i in range(B):
            out[i, : len(keep[i])] = x[i, keep[i]]
        return out

    mask_alone = torch.stack([torch.arange(n) < len(k) for k in keep]).float()
    for aggregation in ("token-mean", "seq-mean-token-mean", "seq-sum-norm"):
        for fn in ("grpo", "fd"):
            results = []
            for lg, tl, tk, m in (
                (logits, t_logits, tokens, mask),
                (None, alone(t_logits), alone(tokens), mask_alone),
            ):
                logits.grad = None
                lg = alone(logits) if lg is None else lg
                if fn == "grpo":
                    lp = L.token_logprobs(lg, tk)
                    out = L.grpo_loss(lp, lp.detach(), adv, m, aggregation=aggregation, max_len=12)
                else:
                    out = L.fd_loss(lg, tl, tk, m, aggregation=aggregation, max_len=12)
                out.loss.backward()
                results.append((out.loss.detach(), logits.grad.clone()))
            (a, ga), (b, gb) = results
            torch.testing.assert_close(a, b, msg=f"{fn} {aggregation}")
            torch.testing.assert_close(ga, gb, msg=f"{fn} {aggregation}")
            assert ga[mask == 0].abs().max() == 0  # no gradient through an environment token's logits


def test_pack_zeroes_the_environment_tokens_of_each_completion():
    p = pack([[1, 2], [3]], [[4, 5, 6], [7, 8]], pad_id=0, masks=[[1, 0, 1], None])
    assert p.completion_mask.tolist() == [[1, 0, 1], [1, 1, 0]]
    assert p.completion_ids.tolist() == [[4, 5, 6], [7, 8, 0]]  # masked tokens stay as context
    with pytest.raises(ValueError, match="mask 0 has 2 entries for 3 tokens"):
        pack([[1]], [[4, 5, 6]], pad_id=0, masks=[[1, 0]])


# ------------------------------------------------------------------------------------------- rollouts


def test_episode_rollouts_record_rewards_feedback_and_the_teachers_context(suite, tmp_path):
    trainer = Trainer(
        _cfg(tmp_path, suite, method="fd", sibling_demo=True), policy=_tiny(), verifier=Verifier()
    )
    sampler = _scripted(trainer, SCRIPT)
    batch = _batch(trainer)
    tok = trainer.tokenizer
    assert [r.reward for r in batch.rollouts] == [0.0, 1.0, 1.0, 0.0]
    assert [len(r.episode["episode"]["turns"]) for r in batch.rollouts] == [2, 1, 2, 2]
    for r in batch.rollouts:
        policy = [t for t, m in zip(r.completion_ids, r.mask, strict=True) if m]
        assert policy == [t for turn in sampler.given[batch.rollouts.index(r)] for t in turn]
        assert r.policy_tokens == len(r.entropies) == len(policy)
    no_check, first, proved, failed = batch.rollouts
    assert proved.feedback is None and first.feedback is None  # proved: no teacher (fd_on_success off)
    # the last failed check's feedback (Lean's errors), and the proved sibling as a demonstration
    assert failed.proof == "by decide" and "by omega" in failed.feedback
    assert no_check.proof is None and no_check.verdict.reason == "the episode made no check"
    assert no_check.feedback.startswith(NO_ATTEMPT) and "by decide" in no_check.feedback  # sibling demo
    for r in (failed, no_check):
        teacher = tok.decode(r.teacher_prompt_ids, skip_special_tokens=False)
        student = tok.decode(r.prompt_ids, skip_special_tokens=False)
        opening = student.index("Prove this theorem:\n```lean") + 20
        end = student.index("\n```", opening) + 4  # the end of the question's code block
        # the feedback sits in the first user message, right after the question; the rest is the same
        assert teacher == student[:end] + "\n\n" + teacher_context(r.feedback) + student[end:]
    rows = {c for c in episode_columns(2)}
    assert rows <= set(batch.stats) and batch.stats["success@turn1"] == 0.25
    assert batch.stats["success@turn2"] == 0.5 and batch.stats["turns_mean"] == 7 / 4
    # the scripted sampler times no prefill: all its time counts as decode
    assert batch.stats["prefill_s"] == 0 and batch.stats["decode_s"] == pytest.approx(batch.sample_s)


def test_teacher_scores_exactly_the_policy_tokens(suite, tmp_path, monkeypatch):
    trainer = Trainer(
        _cfg(tmp_path, suite, method="fd", fd_on_success=True), policy=_tiny(), verifier=Verifier()
    )
    sampler = _scripted(trainer, SCRIPT)
    batch = _batch(trainer)
    seen = []
    real = L.fd_loss

    def spy(s_logits, t_logits, tokens, mask, **kw):
        seen.append((tokens.clone(), mask.clone()))
        return real(s_logits, t_logits, tokens, mask, **kw)

    monkeypatch.setattr(L, "fd_loss", spy)
    trainer.backward(0, batch)
    ((tokens, mask),) = seen
    for i, r in enumerate(batch.rollouts):
        scored = tokens[i][mask[i] == 1].tolist()
        assert scored == [t for turn in sampler.given[i] for t in turn]  # the model's own ids, no others
        assert r.feedback and r.teacher_prompt_ids != r.prompt_ids  # the feedback is in the teacher's prompt


def test_fd_identity_on_episodes_empty_feedback_and_teacher_is_student(suite, tmp_path, monkeypatch):
    import leanfd.train.episodes as E

    monkeypatch.setattr(E, "episode_feedback", lambda *a: "")
    cfg = _cfg(tmp_path, suite, method="fd", fd_on_success=True, sibling_demo=False, teacher="live")
    trainer = Trainer(cfg, policy=_tiny(), verifier=Verifier())
    _scripted(trainer, SCRIPT)
    batch = _batch(trainer)
    assert all(r.teacher_prompt_ids == r.prompt_ids for r in batch.rollouts)  # empty feedback adds nothing
    m = trainer.backward(0, batch)
    assert m["loss"] == pytest.approx(0.0, abs=1e-7) and m["train_tokens"] > 0
    grads = [p.grad for p in trainer.params if p.grad is not None]
    assert grads and max(float(g.abs().max()) for g in grads) <= 1e-7


def test_grpo_episodes_proved_at_the_second_turn_get_positive_advantage(suite, tmp_path):
    trainer = Trainer(
        _cfg(tmp_path, suite, method="grpo", turn_cost=0.1), policy=_tiny(), verifier=Verifier()
    )
    _scripted(trainer, SCRIPT)
    batch = _batch(trainer)
    assert [r.reward for r in batch.rollouts] == pytest.approx([-0.2, 0.9, 0.8, -0.2])  # proved - 0.1 x turns
    plan = trainer._plan(0, batch)
    adv = plan.advantages.tolist()
    assert adv[2] > 0 > adv[3] and adv[1] > 0 > adv[0]  # the forced second-turn proof is reinforced
    m = trainer.backward(0, batch)
    assert m["train_tokens"] == sum(r.policy_tokens for r in batch.rollouts)
    assert any(p.grad is not None and p.grad.abs().max() > 0 for p in trainer.params)


def test_one_turn_without_tools_is_the_single_attempt_path(suite, tmp_path, monkeypatch):
    import leanfd.train.trainer as T

    def refuse(*a, **kw):
        raise AssertionError("T=1 without tools must not run episodes")

    monkeypatch.setattr(T, "collect_episode_rollouts", refuse)
    defaults = TrainConfig()
    losses = []
    for name, kw in (
        ("a", {"max_turns": defaults.max_turns, "tools": defaults.tools}),
        ("b", {"max_turns": 1, "tools": ""}),
    ):
        cfg = _cfg(tmp_path / name, suite, method="fd", max_new_tokens=6, **kw)
        assert not cfg.episodes and cfg.max_policy_tokens == 6
        trainer = Trainer(cfg, policy=_tiny(), verifier=Verifier())
        (step,) = trainer.run()
        losses.append(step.metrics["loss"])
        with open(tmp_path / name / "run" / "metrics.csv") as f:
            assert next(csv.reader(f)) == METRIC_COLUMNS
        row = json.loads((tmp_path / name / "run" / "rollouts.jsonl").read_text().splitlines()[0])
        assert "episode" not in row
    assert losses[0] == losses[1] and losses[0] > 0


def test_episode_options_are_checked():
    with pytest.raises(ValueError, match="tools='check,prove'"):
        TrainConfig(tools="check,prove")
    with pytest.raises(ValueError, match="few_shot=2 with episodes"):
        TrainConfig(max_turns=2, few_shot=2)
    with pytest.raises(ValueError, match="turn_cost"):
        TrainConfig(max_turns=2, turn_cost=-1)
    cfg = TrainConfig(max_turns=3, max_new_tokens=10, tools="search")
    assert cfg.episodes and cfg.tools == ["search"] and cfg.max_policy_tokens == 30


def test_episode_run_resumes_with_the_same_next_loss(suite, tmp_path):
    """The real tiny sampler (it writes no proof: every episode runs both turns) and the rule
    verifier: three steps at once, or two, a stop, and the third from the checkpoint."""
    kw = dict(method="fd", teacher="ema", ema_rate=0.5, save_every=100)
    full = Trainer(_cfg(tmp_path / "a", suite, steps=3, **kw), policy=_tiny(), verifier=Verifier())
    uninterrupted = full.run()
    Trainer(_cfg(tmp_path / "b", suite, steps=2, **kw), policy=_tiny(), verifier=Verifier()).run()
    resumed = Trainer(
        _cfg(tmp_path / "b", suite, steps=3, resume="auto", **kw), policy=_tiny(), verifier=Verifier()
    )
    (after,) = resumed.run()
    a, b = uninterrupted[2].metrics, after.metrics
    assert after.step == 3 and a["loss"] > 0
    assert abs(a["loss"] - b["loss"]) <= 1e-6 and a["turns_mean"] == b["turns_mean"] == 2.0
    with open(tmp_path / "b" / "run" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    assert list(rows[0]) == METRIC_COLUMNS + episode_columns(2)
    log = [json.loads(line) for line in (tmp_path / "b" / "run" / "rollouts.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [s for s in (1, 2, 3) for _ in range(4)]
    ep = log[0]["episode"]
    assert log[0]["turns"] == 2 and len(ep["ids"]) == len(ep["mask"]) and ep["prompt_len"] > 0


# ------------------------------------------------------------------------------------------- Lean


@pytest.mark.lean
@pytest.mark.slow
def test_cli_train_fd_on_episodes_through_the_embedded_lean(tmp_path, verifier, monkeypatch):
    """``leanfd train --method fd --max-turns 2 --steps 2 --eval-limit 2 --eval-n 1`` with the tiny
    model taught to answer ``by decide`` then ``by omega`` after Lean's error."""
    import leanfd.lean
    import leanfd.models.policy
    from leanfd.cli import app

    suite = tmp_path / "suite.jsonl"
    rows = [
        {"name": "two_add_two", "statement": "theorem two_add_two : 2 + 2 = 4 :=", "split": "test"},
        {
            "name": "add_comm'",
            "statement": "theorem add_comm' (a b : Nat) : a + b = b + a :=",
            "split": "test",
        },
    ]
    suite.write_text("".join(json.dumps(r) + "\n" for r in rows))
    policy = teach_episodes(suite, verifier, max_turns=2)
    monkeypatch.setattr(leanfd.models.policy, "load_policy", lambda *a, **kw: policy)
    monkeypatch.setattr(leanfd.lean, "Verifier", lambda *a, **kw: Shared(verifier))
    out = tmp_path / "run"
    args = ["train", "--method", "fd", "--max-turns", "2", "--steps", "2", "--eval-limit", "2"]
    args += ["--eval-n", "1", "--eval-ks", "1", "--suite", str(suite), "--train-split", "test"]
    args += [
        "--problems-per-step",
        "2",
        "--group-size",
        "2",
        "--max-new-tokens",
        "16",
        "--temperature",
        "0.5",
    ]
    args += ["--backend", "embedded", "--model", "tiny", "--out", str(out), "--no-progress"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    with open(out / "metrics.csv") as f:
        metrics = list(csv.DictReader(f))
    assert [int(m["step"]) for m in metrics] == [1, 2] and list(
        metrics[0]
    ) == METRIC_COLUMNS + episode_columns(2)
    for m in metrics:
        s1, s2 = float(m["success@turn1"]), float(m["success@turn2"])
        assert s1 <= s2 == float(m["reward_mean"]) and float(m["checks_mean"]) >= 1
    log = [json.loads(line) for line in (out / "rollouts.jsonl").read_text().splitlines()]
    assert len(log) == 8
    comm = [r for r in log if r["problem"] == "add_comm'"]
    assert any(r["proved_turn"] == 2 for r in comm), comm  # decide failed in Lean, omega proved it
    for r in log:
        ep = r["episode"]
        assert r["reward"] == float(ep["proved"]) and len(ep["ids"]) == len(ep["mask"])
        assert (r["feedback"] is None) == ep["proved"]
    for tag in ("before", "after"):
        for name in ("samples.jsonl", "summary.csv", "passk.png", "turns.png"):
            assert (out / "eval" / tag / name).stat().st_size > 0
    assert (out / "checkpoints" / "step-000002" / "trainer_state.pt").exists()
