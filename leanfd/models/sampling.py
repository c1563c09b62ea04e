"""Samplers: n completions per prompt with, for every generated token, its log-probability and the
entropy of the distribution it was drawn from, both at the sampling temperature.

Two backends behind one ``sample`` signature: :class:`TransformersSampler` (CPU or GPU, the one the
tests run) and :class:`VLLMSampler` (GPU, optional extra ``gpu``).

What the numbers mean (the trainers rely on it): ``logprobs[t] = log softmax(logits_t / T)[y_t]``
over the *full* vocabulary, i.e. exactly what a fresh forward pass of the same model over
``prompt + y`` gives at temperature ``T`` — top-p truncation changes which tokens can be drawn but
is not folded into the reported log-probabilities (a trainer's forward pass cannot know it either).
``entropies[t] = H(softmax(logits_t / T))``. With ``temperature == 0`` (greedy) both are reported at
``T = 1``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class Sample:
    """One completion. ``token_ids`` are the generated tokens (the stop token included when the
    model emitted one, so a trainer also learns to stop); ``text`` is their decoding without special
    tokens; ``logprobs``/``entropies`` have one entry per token id; ``stopped`` is False when the
    completion hit ``max_new_tokens``."""

    text: str
    token_ids: list[int]
    logprobs: list[float]
    entropies: list[float]
    stopped: bool = True


@dataclass
class SamplerStats:
    """What the last ``sample`` call did: for throughput reports."""

    sequences: int = 0
    new_tokens: int = 0
    seconds: float = 0.0
    per_batch: list[float] = field(default_factory=list)


class Sampler(Protocol):
    def sample(
        self,
        prompts: Sequence[str],
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        seed: int = 0,
        stop: Sequence[str] = (),
    ) -> list[list[Sample]]:
        """``n`` samples for each prompt, in prompt order. Prompts are text already rendered by a
        template (special tokens written out; the sampler adds none). A sample also ends right
        after the token that completes one of the ``stop`` strings (kept in the text and tokens)."""
        ...


def _check_args(
    prompts: Sequence[str], n: int, temperature: float, top_p: float, max_new_tokens: int
) -> None:
    if isinstance(prompts, str):
        raise TypeError("prompts must be a sequence of strings, not one string; wrap it in a list")
    if n < 1:
        raise ValueError(f"n={n}: need at least one sample per prompt")
    if temperature < 0:
        raise ValueError(f"temperature={temperature}: must be >= 0 (0 means greedy)")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p={top_p}: must be in (0, 1]")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens}: must be >= 1")


def tempered_token_stats(logits, tokens, temperature: float):
    """Per-token log-probability and entropy at a temperature.

    Args:
        logits: ``(..., V)`` raw model logits (float).
        tokens: ``(...)`` token ids whose log-probability to take.
        temperature: ``T > 0``; ``0`` is treated as ``1`` (greedy decoding has no sampling law).

    Returns:
        ``(logprobs, entropies)``, both ``(...)``: ``log softmax(logits/T)[tokens]`` and
        ``-sum p log p`` of ``softmax(logits/T)``, computed in float32.
    """
    import torch

    t = temperature if temperature > 0 else 1.0
    logp = torch.log_softmax(logits.float() / t, dim=-1)
    token_logp = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    entropy = -(logp.exp() * logp).sum(-1)
    return token_logp, entropy


def _eos_ids(policy) -> set[int]:
    ids: set[int] = set()
    for src in (getattr(policy.model.generation_config, "eos_token_id", None), policy.tokenizer.eos_token_id):
        if src is None:
            continue
        ids.update(src if isinstance(src, (list, tuple)) else [src])
    return ids


class TransformersSampler:
    """Sampling with ``model.generate`` (CPU or GPU), batched over prompts × samples.

    ``batch_size`` is the number of sequences per ``generate`` call. Seeded: the same prompts,
    arguments and ``batch_size`` give the same samples. Memory per call grows with
    ``batch_size × max_new_tokens × vocab`` for the per-step logits (e.g. 16 × 256 × 49k floats
    ≈ 0.8 GB), which is why the statistics are reduced step by step.
    """

    def __init__(self, policy, *, batch_size: int = 16, progress: bool = True):
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: must be >= 1")
        self.policy = policy
        self.batch_size = batch_size
        self.progress = progress
        self.stats = SamplerStats()

    def sample(
        self,
        prompts: Sequence[str],
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        seed: int = 0,
        stop: Sequence[str] = (),
    ) -> list[list[Sample]]:
        import torch
        from tqdm.auto import tqdm
        from transformers import GenerationConfig

        _check_args(prompts, n, temperature, top_p, max_new_tokens)
        model, tok = self.policy.model, self.policy.tokenizer
        device = next(model.parameters()).device
        eos = _eos_ids(self.policy)
        greedy = temperature == 0
        gen_config = GenerationConfig(
            do_sample=not greedy,
            temperature=None if greedy else temperature,
            top_p=None if greedy else top_p,
            top_k=0,  # transformers defaults to top-k 50; we sample from the full (top-p) distribution
            max_new_tokens=max_new_tokens,
            pad_token_id=tok.pad_token_id,
            eos_token_id=sorted(eos),
            output_logits=True,
            return_dict_in_generate=True,
            stop_strings=list(stop) or None,
        )
        rows = [(i, j) for i in range(len(prompts)) for j in range(n)]
        results: list[list[Sample | None]] = [[None] * n for _ in prompts]
        self.stats = SamplerStats()
        t_start = time.perf_counter()
        bar = tqdm(total=len(rows), desc="sampling", unit="sample", disable=not self.progress, leave=False)
        for b, start in enumerate(range(0, len(rows), self.batch_size)):
            chunk = rows[start : start + self.batch_size]
            t0 = time.perf_counter()
            enc = tok(
                [prompts[i] for i, _ in chunk],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            ).to(device)
            with (
                torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []),
                torch.no_grad(),
            ):
                torch.manual_seed(seed * 1_000_003 + b)
                out = model.generate(**enc, generation_config=gen_config, tokenizer=tok if stop else None)
            new = out.sequences[:, enc["input_ids"].shape[1] :]
            # Reduce each step's (B, V) logits to two (B,) vectors right away; stacking all steps
            # first would hold B × L × V floats at once.
            lps, ents = [], []
            for step, logits in enumerate(out.logits):
                lp, ent = tempered_token_stats(logits, new[:, step], temperature)
                lps.append(lp)
                ents.append(ent)
            lp_all = torch.stack(lps, 1).cpu().tolist()
            ent_all = torch.stack(ents, 1).cpu().tolist()
            new_ids = new.cpu().tolist()
            for r, (i, j) in enumerate(chunk):
                ids = new_ids[r]
                at_eos = next((t for t, x in enumerate(ids) if x in eos), None)
                at_stop = _stop_index(tok, ids if at_eos is None else ids[:at_eos], stop)
                # A finished row is padded with pad_token_id, often the eos id itself: cut at the
                # first real end, the stop string's token coming before any padding.
                end = at_stop if at_stop is not None else at_eos
                length = len(ids) if end is None else end + 1
                ids = ids[:length]
                text_ids = ids[:-1] if at_stop is None and at_eos is not None else ids
                results[i][j] = Sample(
                    text=tok.decode(text_ids, skip_special_tokens=True),
                    token_ids=ids,
                    logprobs=lp_all[r][:length],
                    entropies=ent_all[r][:length],
                    stopped=end is not None,
                )
                self.stats.new_tokens += length
            self.stats.per_batch.append(time.perf_counter() - t0)
            bar.update(len(chunk))
        bar.close()
        self.stats.sequences = len(rows)
        self.stats.seconds = time.perf_counter() - t_start
        return results  # type: ignore[return-value]


def _stop_index(tok, ids: list[int], stop: Sequence[str]) -> int | None:
    """Index of the token whose decoding first completes a stop string, or None. Binary search:
    once a prefix's text holds a stop string, every longer prefix does."""
    if not stop or not ids or not any(s in tok.decode(ids) for s in stop):
        return None
    lo, hi = 0, len(ids) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if any(s in tok.decode(ids[: mid + 1]) for s in stop):
            hi = mid
        else:
            lo = mid + 1
    return lo


def topk_tempered_stats(
    topk_logprobs: Sequence[float], sampled_logprob: float, vocab_size: int, temperature: float
) -> tuple[float, float]:
    """Sampled-token log-probability and entropy at temperature ``T`` from top-K log-probabilities
    at ``T = 1`` (what vLLM returns by default, ``logprobs_mode="raw_logprobs"``).

    Documented approximation: the mass ``r = 1 - sum(top-K probs)`` the engine does not report is
    spread evenly over the ``V - K`` unreported tokens. Exact when ``K = V``; the log-probability is
    exact at ``T = 1`` whatever K; at ``T = 1`` the entropy is an upper bound (an even spread
    maximises the tail's entropy), and the bias shrinks as K grows or the tail thins.

    Args:
        topk_logprobs: ``(K,)`` log-probabilities at ``T = 1`` of distinct tokens (include the
            sampled token).
        sampled_logprob: the sampled token's log-probability at ``T = 1``.
        vocab_size: ``V``.
        temperature: ``T`` (``0`` is treated as ``1``).
    """
    t = temperature if temperature > 0 else 1.0
    lp = np.asarray(topk_logprobs, dtype=np.float64)
    k = lp.size
    tail_mass = max(0.0, 1.0 - float(np.exp(lp).sum()))
    m = vocab_size - k
    terms = list(lp / t)
    tail_each = None
    if m > 0 and tail_mass > 1e-12:
        tail_each = math.log(tail_mass / m) / t  # tempered log-weight of one tail token
        terms.append(math.log(m) + tail_each)
    log_z = float(np.logaddexp.reduce(np.asarray(terms)))
    p = np.exp(lp / t - log_z)
    entropy = float(-(p * (lp / t - log_z)).sum())
    if tail_each is not None:
        q = tail_each - log_z
        entropy += -m * math.exp(q) * q
    return sampled_logprob / t - log_z, entropy


class VLLMSampler:
    """Sampling with vLLM (GPU only; ``pip install 'leanfd[gpu]'``).

    Written against vLLM's documented offline API: ``LLM(model=...)``, ``LLM.generate(prompts,
    SamplingParams(n, temperature, top_p, max_tokens, seed, logprobs=K))``; each
    ``CompletionOutput`` carries ``token_ids`` and ``logprobs`` (one ``{token_id: Logprob}`` dict per
    position holding the top-K plus the sampled token, at ``T = 1`` under vLLM's default
    ``raw_logprobs`` mode). Log-probabilities and entropies at ``T`` come from
    :func:`topk_tempered_stats` (exact log-probs at ``T = 1``; see its approximation note). Prompts are
    tokenised here, without added special tokens, exactly as :class:`TransformersSampler` does.
    Not importable on CPU-only machines; the CPU path covers the same interface.
    """

    def __init__(self, model: str, *, logprobs_topk: int = 20, progress: bool = True, **llm_kwargs):
        try:
            from vllm import LLM
        except ImportError as e:
            raise ImportError(
                "VLLMSampler needs vLLM on a CUDA machine: pip install 'leanfd[gpu]' "
                "(or use TransformersSampler / --backend transformers on CPU)"
            ) from e
        self.llm = LLM(model=str(model), **llm_kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.vocab_size = len(self.tokenizer)
        self.logprobs_topk = logprobs_topk
        self.progress = progress
        self.stats = SamplerStats()

    def sample(
        self,
        prompts: Sequence[str],
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        seed: int = 0,
        stop: Sequence[str] = (),
    ) -> list[list[Sample]]:
        from vllm import SamplingParams

        _check_args(prompts, n, temperature, top_p, max_new_tokens)
        params = SamplingParams(
            n=n,
            temperature=temperature,
            top_p=top_p,
            top_k=0,
            max_tokens=max_new_tokens,
            seed=seed,
            logprobs=self.logprobs_topk,
            stop=list(stop) or None,
            include_stop_str_in_output=True,  # same text as TransformersSampler
        )
        token_prompts = [
            {"prompt_token_ids": self.tokenizer(p, add_special_tokens=False)["input_ids"]} for p in prompts
        ]
        t0 = time.perf_counter()
        outputs = self.llm.generate(token_prompts, params, use_tqdm=self.progress)
        results: list[list[Sample]] = []
        self.stats = SamplerStats()
        for request in outputs:
            samples = []
            for comp in request.outputs:
                ids = list(comp.token_ids)
                lps, ents = [], []
                for tok_id, dist in zip(ids, comp.logprobs or [], strict=False):
                    top = {int(k): float(v.logprob) for k, v in dist.items()}
                    lp, ent = topk_tempered_stats(
                        list(top.values()), top[tok_id], self.vocab_size, temperature
                    )
                    lps.append(lp)
                    ents.append(ent)
                samples.append(
                    Sample(
                        text=comp.text,
                        token_ids=ids,
                        logprobs=lps,
                        entropies=ents,
                        stopped=comp.finish_reason == "stop",  # eos or a stop string
                    )
                )
                self.stats.new_tokens += len(ids)
            results.append(samples)
        self.stats.sequences = len(prompts) * n
        self.stats.seconds = time.perf_counter() - t0
        return results
