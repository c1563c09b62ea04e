"""GRPO and Feedback Distillation losses as pure functions on tensors, registered by name.

Every function here takes tensors and returns tensors (plus detached diagnostics); none knows about
models, Lean or the training loop. The trainer only looks names up in the registries below
(``ADVANTAGE_ESTIMATORS``, ``AGGREGATIONS``, ``DIVERGENCES``, ``FD_ESTIMATORS``), so a new variant
is one registered function and never touches the loop (the verl ``core_algos`` pattern).

Shapes: ``B`` sequences (for GRPO ``B = P * G``: P problems, G samples each, grouped contiguously),
``T`` completion positions (right-padded), ``V`` vocabulary size. A ``mask`` of shape (B, T) is 1 on
completion tokens that count and 0 on padding (and on any prompt/observation token a caller chooses
to exclude). Logits and log-probabilities at position t are those that scored the completion token
``tokens[:, t]``.

Notation follows the papers (FD, arXiv 2605.30861; SDPO, arXiv 2601.20802): p_S is the student
π_θ(·|x, y_<t), p_T the teacher π_T(·|x, c, y_<t) on the SAME student prefix, sg = stop-gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


@dataclass
class LossOutput:
    """A scalar loss to backpropagate and detached per-batch diagnostics (plain floats)."""

    loss: Tensor
    metrics: dict[str, float] = field(default_factory=dict)


def _register(table: dict[str, Callable], name: str) -> Callable[[Callable], Callable]:
    def deco(fn: Callable) -> Callable:
        if name in table:
            raise ValueError(f"{name!r} is already registered")
        table[name] = fn
        return fn

    return deco


def _lookup(table: dict[str, Callable], name: str, what: str) -> Callable:
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown {what} {name!r}; choose one of {sorted(table)}") from None


# --------------------------------------------------------------------------------------------------
# Advantages (GRPO)
# --------------------------------------------------------------------------------------------------

#: name -> fn(rewards (P, G), eps) -> advantages (P, G)
ADVANTAGE_ESTIMATORS: dict[str, Callable[[Tensor, float], Tensor]] = {}


@_register(ADVANTAGE_ESTIMATORS, "group")
def advantage_group_std(rewards: Tensor, eps: float = 1e-4) -> Tensor:
    """GRPO (Shao et al. 2024): A_i = (r_i − mean_group) / (std_group + eps).

    rewards: (P, G) -> (P, G). std is the unbiased (Bessel) estimate, as in TRL's ``GRPOTrainer``.
    """
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True) if rewards.shape[1] > 1 else torch.zeros_like(mean)
    return (rewards - mean) / (std + eps)


@_register(ADVANTAGE_ESTIMATORS, "batch")
def advantage_batch_std(rewards: Tensor, eps: float = 1e-4) -> Tensor:
    """Group-mean baseline scaled by the whole batch's std (Hu et al., REINFORCE++; TRL ``scale_rewards="batch"``).

    rewards: (P, G) -> (P, G).
    """
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std() if rewards.numel() > 1 else torch.zeros(())
    return (rewards - mean) / (std + eps)


@_register(ADVANTAGE_ESTIMATORS, "none")
def advantage_no_std(rewards: Tensor, eps: float = 1e-4) -> Tensor:
    """Dr. GRPO (Liu et al. 2025): A_i = r_i − mean_group, no std scaling (``eps`` unused).

    rewards: (P, G) -> (P, G).
    """
    return rewards - rewards.mean(dim=1, keepdim=True)


def compute_advantages(
    rewards: Tensor, group_size: int | None = None, scale: str = "group", eps: float = 1e-4
) -> tuple[Tensor, Tensor]:
    """Group-relative advantages and the mask of zero-variance groups.

    rewards: (P*G,) with groups contiguous (then ``group_size`` = G is required) or (P, G).
    Returns ``(advantages, zero_std)`` with the shape of ``rewards``; ``zero_std`` is True for every
    sample whose group has identical rewards (such a group gives no learning signal).
    """
    flat = rewards.dim() == 1
    if flat:
        if group_size is None or group_size < 1 or rewards.numel() % group_size:
            raise ValueError(
                f"rewards of shape {tuple(rewards.shape)} need a group_size that divides it; got {group_size}"
            )
        grouped = rewards.reshape(-1, group_size)
    elif rewards.dim() == 2:
        grouped = rewards
    else:
        raise ValueError(f"rewards must be (P*G,) or (P, G); got shape {tuple(rewards.shape)}")
    grouped = grouped.float()
    adv = _lookup(ADVANTAGE_ESTIMATORS, scale, "advantage scale")(grouped, eps)
    zero_std = (grouped == grouped[:, :1]).all(dim=1, keepdim=True).expand_as(grouped)
    if flat:
        return adv.reshape(-1), zero_std.reshape(-1)
    return adv, zero_std


# --------------------------------------------------------------------------------------------------
# Aggregation of per-token losses
# --------------------------------------------------------------------------------------------------

#: name -> fn(per_token_loss (B, T), mask (B, T), max_len) -> scalar
AGGREGATIONS: dict[str, Callable[[Tensor, Tensor, int | None], Tensor]] = {}


@_register(AGGREGATIONS, "seq-mean-token-mean")
def agg_seq_mean_token_mean(per_token: Tensor, mask: Tensor, max_len: int | None = None) -> Tensor:
    """Mean over each sequence's tokens, then mean over sequences (original GRPO; TRL ``loss_type="grpo"``).

    (B, T), (B, T) -> (). A sequence with no unmasked token contributes 0.
    """
    mask = mask.to(per_token.dtype)
    return ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()


@_register(AGGREGATIONS, "token-mean")
def agg_token_mean(per_token: Tensor, mask: Tensor, max_len: int | None = None) -> Tensor:
    """Mean over all unmasked tokens of the batch (DAPO, Yu et al. 2025; TRL ``"bnpo"``/``"dapo"`` on one process).

    (B, T), (B, T) -> (). Long sequences weigh in proportion to their length.
    """
    mask = mask.to(per_token.dtype)
    return (per_token * mask).sum() / mask.sum().clamp(min=1.0)


@_register(AGGREGATIONS, "seq-sum-norm")
def agg_seq_sum_norm(per_token: Tensor, mask: Tensor, max_len: int | None = None) -> Tensor:
    """Sum of token losses divided by B * max_len, a constant (Dr. GRPO; TRL ``loss_type="dr_grpo"``).

    (B, T), (B, T) -> (). ``max_len`` is the generation budget (defaults to T).
    """
    mask = mask.to(per_token.dtype)
    return (per_token * mask).sum() / (per_token.shape[0] * (max_len or per_token.shape[1]))


def aggregate(per_token: Tensor, mask: Tensor, mode: str, max_len: int | None = None) -> Tensor:
    """Reduce a (B, T) per-token loss to a scalar with the named aggregation (see ``AGGREGATIONS``)."""
    return _lookup(AGGREGATIONS, mode, "loss aggregation")(per_token, mask, max_len)


def _masked_mean(x: Tensor, mask: Tensor) -> float:
    mask = mask.to(x.dtype)
    return float((x * mask).sum() / mask.sum().clamp(min=1.0))


# --------------------------------------------------------------------------------------------------
# GRPO policy loss
# --------------------------------------------------------------------------------------------------


def grpo_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
    ref_logp: Tensor | None = None,
    beta: float = 0.0,
    aggregation: str = "seq-mean-token-mean",
    max_len: int | None = None,
) -> LossOutput:
    """Per-token clipped surrogate with an optional k3 KL penalty to a reference policy.

    Shapes: ``logp``, ``old_logp``, ``ref_logp``, ``mask``: (B, T) log π(y_t) of the sampled
    tokens under the current, behaviour (sampling) and reference policy; ``advantages``: (B,) per
    sequence or (B, T) per token.

    L_t = −min(ρ_t A, clip(ρ_t, 1 − ε_low, 1 + ε_high) A) + β · k3_t, with ρ_t = exp(logp − old_logp)
    and k3_t = exp(ref − logp) − (ref − logp) − 1 (Schulman's unbiased, non-negative KL estimator),
    reduced with ``aggregation`` (``AGGREGATIONS``). ε_high > ε_low is DAPO's "clip-higher".

    Diagnostics: ``clip_frac`` (fraction of tokens whose gradient the clip removed), ``approx_kl``
    (mean of ½(logp − old_logp)², how far the update moved from the sampler), ``ref_kl`` (mean k3,
    if a reference is given), ``ratio_mean``.
    """
    if beta != 0.0 and ref_logp is None:
        raise ValueError("grpo_loss: beta != 0 needs ref_logp (the reference policy's log-probs)")
    adv = advantages.unsqueeze(-1) if advantages.dim() == 1 else advantages
    log_ratio = logp - old_logp
    ratio = torch.exp(log_ratio)
    clipped = torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high)
    per_token = -torch.min(ratio * adv, clipped * adv)
    metrics: dict[str, float] = {}
    if beta != 0.0 or ref_logp is not None:
        d = ref_logp - logp
        k3 = torch.exp(d) - d - 1.0
        if beta != 0.0:
            per_token = per_token + beta * k3
        metrics["ref_kl"] = _masked_mean(k3.detach(), mask)
    loss = aggregate(per_token, mask, aggregation, max_len)
    with torch.no_grad():
        is_clipped = ((ratio < 1.0 - eps_low) & (adv < 0)) | ((ratio > 1.0 + eps_high) & (adv > 0))
        metrics["clip_frac"] = _masked_mean(is_clipped.float(), mask)
        metrics["approx_kl"] = _masked_mean(0.5 * log_ratio.detach() ** 2, mask)
        metrics["ratio_mean"] = _masked_mean(ratio.detach(), mask)
    return LossOutput(loss, metrics)


# --------------------------------------------------------------------------------------------------
# Feedback Distillation: divergences between two distributions over the same support
# --------------------------------------------------------------------------------------------------

#: name -> fn(log_p_s (..., K), log_p_t (..., K), alpha) -> (...)
DIVERGENCES: dict[str, Callable[[Tensor, Tensor, float], Tensor]] = {}


def _kl(log_p: Tensor, log_q: Tensor) -> Tensor:
    """KL(p‖q) = Σ_k p_k (log p_k − log q_k) over the last dim. (..., K) -> (...).

    Entries with p_k = 0 contribute 0 (finite log-probs are assumed; see ``_tail_bucket``).
    """
    return (log_p.exp() * (log_p - log_q)).sum(-1)


@_register(DIVERGENCES, "reverse_kl")
def reverse_kl(log_s: Tensor, log_t: Tensor, alpha: float = 1.0) -> Tensor:
    """KL(p_S‖p_T): mode-seeking; the on-policy distillation default. (..., K) -> (...)."""
    return _kl(log_s, log_t)


@_register(DIVERGENCES, "forward_kl")
def forward_kl(log_s: Tensor, log_t: Tensor, alpha: float = 0.0) -> Tensor:
    """KL(p_T‖p_S): mass-covering. (..., K) -> (...)."""
    return _kl(log_t, log_s)


@_register(DIVERGENCES, "jsd")
def generalized_jsd(log_s: Tensor, log_t: Tensor, alpha: float = 0.5) -> Tensor:
    """Generalised Jensen–Shannon divergence with mixture weight α. (..., K) -> (...).

    Convention (as in GKD, Agarwal et al. 2024, arXiv 2306.13649, and TRL's SDPOTrainer):
    M = (1 − α) p_S + α p_T and JSD(α) = α KL(p_T‖M) + (1 − α) KL(p_S‖M); α = 0 is the forward KL
    KL(p_T‖p_S) and α = 1 the reverse KL KL(p_S‖p_T). The mixture form itself vanishes at both
    ends; what tends to the KLs is its normalised value: JSD(α)/α → KL(p_T‖p_S) as α → 0 and
    JSD(α)/(1 − α) → KL(p_S‖p_T) as α → 1 (first order in α), so the endpoints are defined as
    those KLs (tested). Note the loss scale therefore shrinks near the ends (≈ α·KL).
    """
    if alpha <= 0.0:
        return forward_kl(log_s, log_t)
    if alpha >= 1.0:
        return reverse_kl(log_s, log_t)
    log_m = torch.logaddexp(log_s + math.log1p(-alpha), log_t + math.log(alpha))
    return alpha * _kl(log_t, log_m) + (1.0 - alpha) * _kl(log_s, log_m)


def divergence(log_s: Tensor, log_t: Tensor, name: str, alpha: float = 0.5) -> Tensor:
    """The named divergence (``DIVERGENCES``) between two log-distributions over the last dim."""
    return _lookup(DIVERGENCES, name, "divergence")(log_s, log_t, alpha)


# --------------------------------------------------------------------------------------------------
# Feedback Distillation: estimators (which support the divergence is computed over)
# --------------------------------------------------------------------------------------------------


@dataclass
class FDInputs:
    """What every FD estimator receives (shapes in the field comments).

    ``student_logits`` carry the gradient; ``teacher_logits`` are detached by ``fd_loss``. Both are
    already divided by the temperature.
    """

    student_logits: Tensor  # (B, T, V)
    teacher_logits: Tensor  # (B, T, V), no grad
    tokens: Tensor  # (B, T) the student's sampled completion tokens
    divergence: str
    alpha: float
    topk: int


#: name -> fn(FDInputs) -> per-token loss (B, T)
FD_ESTIMATORS: dict[str, Callable[[FDInputs], Tensor]] = {}


@_register(FD_ESTIMATORS, "full")
def fd_full_vocab(x: FDInputs) -> Tensor:
    """Exact per-token divergence over the whole vocabulary. -> (B, T)."""
    return divergence(
        F.log_softmax(x.student_logits, -1), F.log_softmax(x.teacher_logits, -1), x.divergence, x.alpha
    )


def _tail_bucket(logits: Tensor, idx: Tensor) -> Tensor:
    """Log-probs of the tokens ``idx`` plus one bucket with the rest of the mass.

    logits (..., V), idx (..., k) -> (..., k + 1). The tail is the log-sum-exp of the logits outside
    ``idx`` (not log(1 − Σ top-k), which loses all precision when the top-k hold nearly all mass).
    When k = V the tail is empty: it gets a very negative but finite log-prob (probability exactly
    0 in float32), so the divergence terms stay 0 and gradients stay finite (−inf would make NaNs).
    """
    lse = torch.logsumexp(logits, -1, keepdim=True)
    top = torch.gather(logits, -1, idx)
    rest = logits.scatter(-1, idx, -1e4)  # exp(-1e4 - lse) == 0 in float32 and bfloat16
    tail = torch.logsumexp(rest, -1, keepdim=True)
    return torch.cat([top, tail], -1) - lse


@_register(FD_ESTIMATORS, "topk")
def fd_teacher_topk(x: FDInputs) -> Tensor:
    """Divergence over the teacher's top-k tokens plus one tail bucket (SDPO, arXiv 2601.20802, k = 100). -> (B, T).

    Both distributions are projected onto the same k + 1 outcomes (the teacher's top-k token ids and
    "anything else"), so the result is a true divergence between two distributions, and equals the
    full-vocabulary value when k = V.
    """
    k = min(x.topk, x.teacher_logits.shape[-1])
    idx = torch.topk(x.teacher_logits, k, dim=-1).indices
    return divergence(
        _tail_bucket(x.student_logits, idx), _tail_bucket(x.teacher_logits, idx), x.divergence, x.alpha
    )


@_register(FD_ESTIMATORS, "sampled")
def fd_sampled_token(x: FDInputs) -> Tensor:
    """Sampled-token estimator of the reverse KL, as a policy gradient. -> (B, T).

    With A_t = log p_T(y_t) − log p_S(y_t) (detached) the per-token loss is −A_t · log p_S(y_t).
    Since E_{y~p_S}[∇ log p_S(y)] = 0, its expected gradient over y_t ~ p_S is exactly
    ∇ KL(p_S‖p_T) at that position; valid only for the reverse KL (the samples come from p_S).
    Its value is not the KL (it is −A_t log p_S); ``fd_loss`` reports the KL separately.
    """
    if x.divergence != "reverse_kl":
        raise ValueError(
            f"the sampled-token FD estimator only estimates the reverse KL (samples come from the student); "
            f"got divergence={x.divergence!r}: use estimator='full' or 'topk' for it"
        )
    logp_s = torch.gather(F.log_softmax(x.student_logits, -1), -1, x.tokens.unsqueeze(-1)).squeeze(-1)
    logp_t = torch.gather(F.log_softmax(x.teacher_logits, -1), -1, x.tokens.unsqueeze(-1)).squeeze(-1)
    advantage = (logp_t - logp_s).detach()
    return -advantage * logp_s


def fd_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    tokens: Tensor,
    mask: Tensor,
    *,
    divergence: str = "reverse_kl",
    alpha: float = 0.5,
    estimator: str = "full",
    topk: int = 100,
    temperature: float = 1.0,
    old_logp: Tensor | None = None,
    is_cap: float | None = 2.0,
    aggregation: str = "token-mean",
    max_len: int | None = None,
) -> LossOutput:
    """Feedback Distillation: per-token divergence between p_S and sg[p_T] on the student's tokens.

    Shapes: ``student_logits``/``teacher_logits`` (B, T, V), the logits that score completion
    token t in the student's context (x, y_<t) and in the teacher's context (x, c, y_<t);
    ``tokens`` (B, T) the sampled completion tokens; ``mask`` (B, T) 1 on completion tokens that
    get a teacher (0 on padding, masked prompt/observation tokens and attempts without feedback);
    ``old_logp`` (B, T) log π_old(y_t) of the sampler, or None when on-policy.

    ``divergence`` ∈ ``DIVERGENCES`` (``alpha`` is JSD's mixture weight); ``estimator`` ∈
    ``FD_ESTIMATORS`` (``topk`` is k for ``"topk"``). Both logits are divided by ``temperature``.
    If ``old_logp`` is given and ``is_cap`` is not None, each token's loss is multiplied by the
    truncated importance weight sg[min(exp(log p_S(y_t) − old_logp), is_cap)] (off-policy updates).

    Diagnostics: ``fd_kl`` (exact full-vocab KL(p_S‖p_T) per token, the quantity FD drives down),
    ``fd_div`` (the chosen per-token divergence value; for ``sampled`` the surrogate),
    ``teacher_logp_gap`` (mean log p_T(y_t) − log p_S(y_t)), ``student_entropy``,
    ``is_weight_mean`` when importance weights are used.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student logits {tuple(student_logits.shape)} and teacher logits {tuple(teacher_logits.shape)} "
            "must have the same (B, T, V): score the same completion tokens in both contexts"
        )
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0; got {temperature}")
    s = student_logits / temperature
    t = teacher_logits.detach() / temperature
    x = FDInputs(s, t, tokens, divergence, alpha, topk)
    per_token = _lookup(FD_ESTIMATORS, estimator, "FD estimator")(x)
    metrics: dict[str, float] = {}
    log_s = F.log_softmax(s, -1)
    logp_s = torch.gather(log_s, -1, tokens.unsqueeze(-1)).squeeze(-1)
    if old_logp is not None and is_cap is not None:
        w = torch.exp((logp_s - old_logp).detach().clamp(-20.0, 20.0)).clamp(max=is_cap)
        per_token = per_token * w
        metrics["is_weight_mean"] = _masked_mean(w, mask)
    loss = aggregate(per_token, mask, aggregation, max_len)
    with torch.no_grad():
        log_s_d = log_s.detach()
        log_t = F.log_softmax(t, -1)
        logp_t = torch.gather(log_t, -1, tokens.unsqueeze(-1)).squeeze(-1)
        metrics["fd_kl"] = _masked_mean(_kl(log_s_d, log_t), mask)
        metrics["fd_div"] = _masked_mean(per_token.detach(), mask)
        metrics["teacher_logp_gap"] = _masked_mean(logp_t - logp_s.detach(), mask)
        metrics["student_entropy"] = _masked_mean(token_entropy(s.detach()), mask)
    return LossOutput(loss, metrics)


# --------------------------------------------------------------------------------------------------
# Small shared helpers
# --------------------------------------------------------------------------------------------------


def token_logprobs(logits: Tensor, tokens: Tensor, temperature: float = 1.0) -> Tensor:
    """log softmax(logits / temperature) at ``tokens``. (B, T, V), (B, T) -> (B, T)."""
    return torch.gather(F.log_softmax(logits / temperature, -1), -1, tokens.unsqueeze(-1)).squeeze(-1)


def token_entropy(logits: Tensor) -> Tensor:
    """Entropy H(softmax(logits)) in nats over the last dim. (..., V) -> (...)."""
    log_p = F.log_softmax(logits, -1)
    return -(log_p.exp() * log_p).sum(-1)
