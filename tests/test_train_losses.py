"""Identities of the FD and GRPO losses, and GRPO against TRL's own loss code on identical tensors."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from leanfd.train import losses as L

B, T, V = 3, 5, 11


def _logits(seed: int, scale: float = 2.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, V, generator=g, dtype=torch.float64) * scale


def _tokens(seed: int = 0) -> torch.Tensor:
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


def _mask() -> torch.Tensor:
    return torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.float64)


FD_CASES = [
    ("full", "reverse_kl", 0.5),
    ("full", "forward_kl", 0.5),
    ("full", "jsd", 0.3),
    ("topk", "reverse_kl", 0.5),
    ("topk", "forward_kl", 0.5),
    ("topk", "jsd", 0.7),
    ("sampled", "reverse_kl", 0.5),
]


# ------------------------------------------------------------------------------------------ FD


@pytest.mark.parametrize("estimator,div,alpha", FD_CASES)
def test_fd_teacher_equals_student_gives_zero_loss_and_zero_gradient(estimator, div, alpha):
    s = _logits(1).requires_grad_(True)
    out = L.fd_loss(
        s, s.detach().clone(), _tokens(), _mask(), divergence=div, alpha=alpha, estimator=estimator, topk=4
    )
    out.loss.backward()
    assert abs(out.loss.item()) < 1e-12
    assert s.grad.abs().max().item() < 1e-12
    assert out.metrics["fd_kl"] < 1e-12


@pytest.mark.parametrize("estimator,div,alpha", FD_CASES)
def test_fd_teacher_differs_gives_positive_divergence_and_gradient(estimator, div, alpha):
    # the converse of the identity above: the loss is not trivially zero
    s = _logits(1).requires_grad_(True)
    out = L.fd_loss(
        s, _logits(2), _tokens(), _mask(), divergence=div, alpha=alpha, estimator=estimator, topk=4
    )
    out.loss.backward()
    assert s.grad.abs().max().item() > 1e-3
    assert out.metrics["fd_kl"] > 1e-3
    if estimator != "sampled":
        assert out.loss.item() > 1e-3


def test_fd_teacher_gets_no_gradient():
    s = _logits(1).requires_grad_(True)
    t = _logits(2).requires_grad_(True)
    L.fd_loss(s, t, _tokens(), _mask(), divergence="forward_kl").loss.backward()
    assert t.grad is None


def test_kl_directions_match_torch_kl_div():
    log_s = F.log_softmax(_logits(1), -1)
    log_t = F.log_softmax(_logits(2), -1)
    # F.kl_div(input, target, log_target=True) is KL(target ‖ input)
    rev = F.kl_div(log_t, log_s, reduction="none", log_target=True).sum(-1)
    fwd = F.kl_div(log_s, log_t, reduction="none", log_target=True).sum(-1)
    torch.testing.assert_close(L.reverse_kl(log_s, log_t), rev)
    torch.testing.assert_close(L.forward_kl(log_s, log_t), fwd)
    assert not torch.allclose(rev, fwd)


def test_jsd_endpoints_equal_the_kls():
    log_s = F.log_softmax(_logits(1), -1)
    log_t = F.log_softmax(_logits(2), -1)
    fwd, rev = L.forward_kl(log_s, log_t), L.reverse_kl(log_s, log_t)
    torch.testing.assert_close(L.generalized_jsd(log_s, log_t, 0.0), fwd)
    torch.testing.assert_close(L.generalized_jsd(log_s, log_t, 1.0), rev)
    # ... and those endpoints are the limits of the normalised mixture form (first order in alpha)
    for a, tol in [(1e-5, 5e-3), (1e-7, 5e-5)]:  # the error shrinks linearly in alpha
        torch.testing.assert_close(L.generalized_jsd(log_s, log_t, a) / a, fwd, rtol=tol, atol=0.0)
        torch.testing.assert_close(L.generalized_jsd(log_s, log_t, 1 - a) / a, rev, rtol=tol, atol=0.0)
    # symmetric in the middle: JSD(1/2) is the classic JSD
    torch.testing.assert_close(L.generalized_jsd(log_s, log_t, 0.5), L.generalized_jsd(log_t, log_s, 0.5))


@pytest.mark.parametrize("div,alpha", [("reverse_kl", 0.5), ("forward_kl", 0.5), ("jsd", 0.4)])
def test_topk_with_k_equal_vocab_equals_full(div, alpha):
    s1 = _logits(3).requires_grad_(True)
    s2 = s1.detach().clone().requires_grad_(True)
    t = _logits(4)
    full = L.fd_loss(s1, t, _tokens(), _mask(), divergence=div, alpha=alpha, estimator="full")
    topk = L.fd_loss(s2, t, _tokens(), _mask(), divergence=div, alpha=alpha, estimator="topk", topk=V)
    full.loss.backward()
    topk.loss.backward()
    torch.testing.assert_close(topk.loss, full.loss)
    torch.testing.assert_close(s2.grad, s1.grad)


def test_topk_tail_bucket_is_a_distribution_and_bounds_full_kl():
    s, t = _logits(3), _logits(4)
    idx = torch.topk(t, 3, -1).indices
    lp = L._tail_bucket(s, idx)
    assert lp.shape == (B, T, 4)
    torch.testing.assert_close(lp.exp().sum(-1), torch.ones(B, T, dtype=lp.dtype))
    # a coarser partition never increases a KL (data processing inequality)
    full = L.reverse_kl(F.log_softmax(s, -1), F.log_softmax(t, -1))
    coarse = L.reverse_kl(L._tail_bucket(s, idx), L._tail_bucket(t, idx))
    assert (coarse <= full + 1e-12).all()


def test_sampled_token_estimator_matches_full_reverse_kl_gradient_in_expectation():
    # one position, many sampled tokens y ~ p_S: the mean estimator gradient is ∇ KL(p_S‖p_T)
    torch.manual_seed(0)
    n = 200_000
    s0 = torch.randn(V, dtype=torch.float64) * 1.5
    t0 = torch.randn(V, dtype=torch.float64) * 1.5

    s = s0.clone().requires_grad_(True)
    L.reverse_kl(F.log_softmax(s, -1), F.log_softmax(t0, -1)).backward()
    exact = s.grad.clone()

    s = s0.clone().requires_grad_(True)
    y = torch.multinomial(F.softmax(s0, -1), n, replacement=True)
    x = L.FDInputs(s.expand(1, n, V), t0.expand(1, n, V), y.unsqueeze(0), "reverse_kl", 1.0, 0)
    L.fd_sampled_token(x).mean().backward()
    assert exact.abs().max() > 0.05
    torch.testing.assert_close(s.grad, exact, atol=0.01, rtol=0.0)


def test_sampled_token_refuses_other_divergences():
    with pytest.raises(ValueError, match="reverse KL"):
        L.fd_loss(_logits(1), _logits(2), _tokens(), _mask(), divergence="forward_kl", estimator="sampled")


@pytest.mark.parametrize("estimator,div,alpha", FD_CASES)
def test_fd_masked_tokens_are_ignored(estimator, div, alpha):
    mask = _mask()
    s1 = _logits(1).requires_grad_(True)
    t1 = _logits(2)
    # change the masked positions wildly in both teacher and student: loss and unmasked grads unchanged
    s2 = s1.detach().clone()
    t2 = t1.clone()
    s2[mask == 0] = torch.randn_like(s2[mask == 0]) * 10
    t2[mask == 0] = torch.randn_like(t2[mask == 0]) * 10
    s2.requires_grad_(True)
    kw = dict(divergence=div, alpha=alpha, estimator=estimator, topk=4)
    o1 = L.fd_loss(s1, t1, _tokens(), mask, **kw)
    o2 = L.fd_loss(s2, t2, _tokens(), mask, **kw)
    o1.loss.backward()
    o2.loss.backward()
    torch.testing.assert_close(o1.loss, o2.loss)
    assert (s2.grad[mask == 0] == 0).all()
    torch.testing.assert_close(s1.grad[mask == 1], s2.grad[mask == 1])


def test_fd_temperature_divides_logits():
    s, t = _logits(1), _logits(2)
    a = L.fd_loss(s, t, _tokens(), _mask(), temperature=2.0)
    b = L.fd_loss(s / 2, t / 2, _tokens(), _mask())
    torch.testing.assert_close(a.loss, b.loss)


def test_fd_truncated_importance_weight():
    s = _logits(1)
    t = _logits(2)
    tok, mask = _tokens(), _mask()
    logp = L.token_logprobs(s, tok)
    on = L.fd_loss(s, t, tok, mask, aggregation="token-mean")
    same = L.fd_loss(s, t, tok, mask, old_logp=logp, aggregation="token-mean")
    torch.testing.assert_close(same.loss, on.loss)  # weight 1 when on-policy
    far = L.fd_loss(s, t, tok, mask, old_logp=logp - 5.0, is_cap=2.0, aggregation="token-mean")
    torch.testing.assert_close(far.loss, 2.0 * on.loss)  # exp(5) truncated at the cap
    assert far.metrics["is_weight_mean"] == pytest.approx(2.0)


# ------------------------------------------------------------------------------------------ GRPO


def test_group_advantages_formula_and_zero_std():
    r = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    adv, zero = L.compute_advantages(r, group_size=3, scale="group")
    g1 = torch.tensor([1.0, 0.0, 0.0])
    torch.testing.assert_close(adv[:3], (g1 - g1.mean()) / (g1.std() + 1e-4))
    torch.testing.assert_close(adv[3:], torch.zeros(3))
    assert zero.tolist() == [False] * 3 + [True] * 3
    none, _ = L.compute_advantages(r.view(2, 3), scale="none")
    torch.testing.assert_close(none, torch.tensor([[2 / 3, -1 / 3, -1 / 3], [0.0, 0.0, 0.0]]))
    batch, _ = L.compute_advantages(r, group_size=3, scale="batch")
    torch.testing.assert_close(batch[:3], (g1 - g1.mean()) / (r.std() + 1e-4))
    with pytest.raises(ValueError, match="group_size"):
        L.compute_advantages(r, group_size=4)
    with pytest.raises(ValueError, match="advantage scale"):
        L.compute_advantages(r, group_size=3, scale="nope")


def _trl_loss(loss_type, logp, old_logp, adv, mask, *, eps_low, eps_high, beta, ref_logp, max_len):
    """TRL 1.16's ``GRPOTrainer._compute_loss`` run on our tensors, without building a trainer.

    ``_compute_loss`` reads a handful of attributes from ``self`` and obtains the per-token log-probs
    from ``self._get_per_token_logps_and_entropies``; we pass an object that has exactly those
    attributes and whose log-prob method returns our tensor, and the batch dict with our old
    log-probs, advantages, reference log-probs and completion mask. Everything after the log-prob
    call is TRL's own code: the ratio, clip, k3 KL and the ``loss_type`` aggregation.
    """
    trl = pytest.importorskip("trl")
    from accelerate import Accelerator
    from trl.trainer.grpo_trainer import GRPOTrainer

    fake = SimpleNamespace(
        _get_per_token_logps_and_entropies=lambda *a, **k: (logp, torch.zeros_like(logp), None),
        top_entropy_quantile=1.0,
        off_policy_mask_threshold=None,
        importance_sampling_level="token",
        beta=beta,
        args=SimpleNamespace(use_bias_correction_kl=False, delta=None, steps_per_generation=1),
        loss_type=loss_type,
        epsilon_low=eps_low,
        epsilon_high=eps_high,
        use_vllm=False,
        model=SimpleNamespace(training=True),
        current_gradient_accumulation_steps=1,
        accelerator=Accelerator(cpu=True),
        _entropy_bonus_enabled=False,
        aux_loss_enabled=False,
        _metrics=defaultdict(lambda: defaultdict(list)),
        max_completion_length=max_len,
    )
    b, t = logp.shape
    inputs = {
        "prompt_ids": torch.zeros(b, 2, dtype=torch.long),
        "prompt_mask": torch.ones(b, 2, dtype=torch.long),
        "completion_ids": torch.zeros(b, t, dtype=torch.long),
        "completion_mask": mask.long(),
        "advantages": adv,
        "old_per_token_logps": old_logp,
        "ref_per_token_logps": ref_logp,
        "num_items_in_batch": mask.sum(),
    }
    assert trl.__version__.startswith("1.")
    return GRPOTrainer._compute_loss(fake, None, inputs), fake._metrics["train"]


@pytest.mark.parametrize(
    "loss_type,aggregation",
    [
        ("grpo", "seq-mean-token-mean"),
        ("bnpo", "token-mean"),
        ("dapo", "token-mean"),
        ("dr_grpo", "seq-sum-norm"),
    ],
)
@pytest.mark.parametrize("beta", [0.0, 0.04])
def test_grpo_loss_equals_trl(loss_type, aggregation, beta):
    g = torch.Generator().manual_seed(7)
    b, t, max_len = 6, 7, 9
    old = -torch.rand(b, t, generator=g) * 3
    logp0 = old + torch.randn(b, t, generator=g) * 0.3  # ratios spread across the clip range
    ref = old + torch.randn(b, t, generator=g) * 0.2
    adv = torch.randn(b, generator=g)
    mask = (torch.arange(t) < torch.tensor([7, 5, 3, 7, 1, 4]).unsqueeze(1)).float()
    eps_low, eps_high = 0.2, 0.28

    logp_ours = logp0.clone().requires_grad_(True)
    ours = L.grpo_loss(
        logp_ours,
        old,
        adv,
        mask,
        eps_low=eps_low,
        eps_high=eps_high,
        ref_logp=ref,
        beta=beta,
        aggregation=aggregation,
        max_len=max_len,
    )
    ours.loss.backward()
    logp_trl = logp0.clone().requires_grad_(True)
    theirs, metrics = _trl_loss(
        loss_type,
        logp_trl,
        old,
        adv,
        mask,
        eps_low=eps_low,
        eps_high=eps_high,
        beta=beta,
        ref_logp=ref,
        max_len=max_len,
    )
    theirs.backward()
    torch.testing.assert_close(ours.loss, theirs, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(logp_ours.grad, logp_trl.grad, rtol=1e-6, atol=1e-7)
    assert 0.0 < ours.metrics["clip_frac"] < 1.0
    assert ours.metrics["clip_frac"] == pytest.approx(metrics["clip_ratio/region_mean"][0], abs=1e-6)
    if beta:
        assert ours.metrics["ref_kl"] == pytest.approx(metrics["kl"][0], rel=1e-5)


def test_grpo_on_policy_gradient_is_advantage_weighted_logprob_gradient():
    # at ratio 1 (old = current) the surrogate's gradient is −A/|seq| per token
    logp = (-torch.rand(2, 3)).requires_grad_(True)
    adv = torch.tensor([1.5, -0.5])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    out = L.grpo_loss(logp, logp.detach(), adv, mask)
    out.loss.backward()
    expected = -adv[:, None] * mask / mask.sum(-1, keepdim=True) / 2
    torch.testing.assert_close(logp.grad, expected)
    assert out.metrics["clip_frac"] == 0.0


def test_grpo_beta_needs_reference():
    x = torch.zeros(1, 2)
    with pytest.raises(ValueError, match="ref_logp"):
        L.grpo_loss(x, x, torch.zeros(1), torch.ones(1, 2), beta=0.1)


def test_unknown_names_say_what_exists():
    with pytest.raises(ValueError, match="reverse_kl"):
        L.fd_loss(_logits(1), _logits(2), _tokens(), _mask(), divergence="kl")
    with pytest.raises(ValueError, match="token-mean"):
        L.aggregate(torch.zeros(1, 1), torch.ones(1, 1), "mean")
