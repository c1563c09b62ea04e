"""Samplers: n completions per prompt with, for every generated token, its log-probability and the
entropy of the distribution it was drawn from, both at the sampling temperature.

Two backends behind one ``sample`` signature: :class:`TransformersSampler` (CPU or GPU, the one the
tests run) and :class:`VLLMSampler` (GPU, optional extra ``gpu``). Prompts are text (tokenised here,
no special tokens added) or token ids (``prompt_ids=``, for multi-turn episodes: token in, token out).

What the numbers mean (the trainers rely on it): ``logprobs[t] = log softmax(logits_t / T)[y_t]``
over the *full* vocabulary, i.e. exactly what a fresh forward pass of the same model over
``prompt + y`` gives at temperature ``T`` — top-p truncation changes which tokens can be drawn but
is not folded into the reported log-probabilities (a trainer's forward pass cannot know it either).
``entropies[t] = H(softmax(logits_t / T))``. With ``temperature == 0`` (greedy) both are reported at
``T = 1``.

Randomness: sample ``j`` of a prompt with key ``k`` (its index in the call, or ``keys[i]``) draws from
its own generator seeded by ``(seed, k, j)`` (:func:`sample_seed`), so which other prompts share the
call, the batch size and the order of work never change its stream.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import time
from collections import deque
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
    """What the last ``sample`` call did: for throughput reports. ``prefill_tokens`` counts prompt
    tokens run through the model; ``decode_steps`` the batched one-token forward calls after them
    and ``decode_rows`` their rows summed (rows per step shrink as samples finish). ``prefill_s``:
    the seconds of ``seconds`` spent prefilling prompts (the decode loop's; the rest is decoding)."""

    sequences: int = 0
    new_tokens: int = 0
    seconds: float = 0.0
    per_batch: list[float] = field(default_factory=list)
    prefill_tokens: int = 0
    decode_steps: int = 0
    decode_rows: int = 0
    prefill_s: float = 0.0


class Sampler(Protocol):
    def sample(
        self,
        prompts: Sequence[str] | None = None,
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        seed: int = 0,
        stop: Sequence[str] = (),
        *,
        prompt_ids: Sequence[Sequence[int]] | None = None,
        keys: Sequence[int] | None = None,
    ) -> list[list[Sample]]:
        """``n`` samples for each prompt, in prompt order. Prompts are text already rendered by a
        template (special tokens written out; the sampler adds none), or ``prompt_ids``, their token
        ids (exactly one of the two). A sample also ends right after the token that completes one of
        the ``stop`` strings (kept in the text and tokens). ``keys`` (one int per prompt, default
        the prompt's index) name each prompt's random streams: give a prompt the same key in any
        call and its samples repeat whatever else the call holds."""
        ...


def _prompt_ids(tokenizer, prompts, prompt_ids) -> list[list[int]]:
    """Token ids of the prompts, exactly one of text (tokenised without added special tokens, as the
    trainers' ``encode`` does) or ids."""
    if (prompts is None) == (prompt_ids is None):
        raise TypeError("pass exactly one of prompts (text) or prompt_ids (token ids)")
    if prompts is not None:
        if isinstance(prompts, str):
            raise TypeError("prompts must be a sequence of strings, not one string; wrap it in a list")
        if not prompts:
            return []
        return [list(x) for x in tokenizer(list(prompts), add_special_tokens=False)["input_ids"]]
    if prompt_ids and isinstance(prompt_ids[0], int):
        raise TypeError("prompt_ids must be a sequence of token-id lists, one per prompt; wrap it in a list")
    return [[int(t) for t in ids] for ids in prompt_ids]


def _check_args(
    prompts: Sequence | None,
    n: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    keys: Sequence[int] | None = None,
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
    if keys is not None and prompts is not None and len(keys) != len(prompts):
        raise ValueError(f"keys: got {len(keys)} for {len(prompts)} prompts; give one int per prompt")


def sample_seed(seed: int, key: int, index: int) -> int:
    """The seed of one sample's random stream: sample ``index`` of the prompt with ``key``, in a call
    seeded with ``seed``. A hash (numpy's ``SeedSequence``), so nearby triples give unrelated streams."""
    mask = (1 << 64) - 1
    return int(np.random.SeedSequence([seed & mask, key & mask, index]).generate_state(1, np.uint64)[0])


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


#: Top-p looks for the nucleus among this many most likely tokens first and sorts the whole
#: vocabulary only for rows whose nucleus is wider (a full sort per step costs more than the rest).
_TOP_P_CANDIDATES = 64


def _draw(logits, generators, temperature: float, top_p: float):
    """Next token of each row and its statistics, from ``(B, V)`` logits.

    Greedy (``temperature == 0``) takes the argmax. Otherwise row ``b`` draws uniforms from
    ``generators[b]`` and inverts the CDF of ``softmax(logits/T)`` in vocabulary order until the
    token is in the nucleus (the most likely tokens whose preceding mass is below ``top_p``, as
    transformers' top-p warper keeps): the nucleus's renormalised law. Vocabulary order and
    rejection, rather than inverting the sorted nucleus's CDF, keep a draw stable under the last-bit
    differences a different batch shape makes in the logits: near-ties can swap places in a sorted
    order, and the nucleus's total mass moves every draw, while here only a draw that lands on a
    token at the very edge of the nucleus can change.
    Returns ``(tokens, logprobs, entropies)`` as ``(B,)`` tensors (see :func:`tempered_token_stats`).
    """
    import torch

    t = temperature if temperature > 0 else 1.0
    logp = torch.log_softmax(logits.float() / t, dim=-1)  # as tempered_token_stats
    probs = logp.exp()
    entropy = -(probs * logp).sum(-1)
    if temperature == 0:
        tokens = logits.argmax(-1)
    else:
        floor = None  # per row, the least probability a token of the nucleus has
        if top_p < 1:
            k = min(_TOP_P_CANDIDATES, probs.shape[-1])
            mass = probs.topk(k, dim=-1).values
            if not bool((mass.sum(-1) >= top_p).all()):
                mass = probs.sort(dim=-1, descending=True).values
            inside = (mass.cumsum(-1) - mass) < top_p
            floor = mass.gather(-1, inside.sum(-1, keepdim=True) - 1)
        cdf = probs.double().cumsum(-1)
        total = cdf[:, -1:]
        last = (cdf < total).sum(-1, keepdim=True)  # u * total can round up to total: then this token
        tokens = torch.zeros((len(generators), 1), dtype=torch.long, device=logits.device)
        todo = list(range(len(generators)))
        while todo:  # draws outside the nucleus are redrawn, from the same row's stream
            rows = torch.tensor(todo, device=logits.device)
            u = torch.tensor(
                [[float(torch.rand((), generator=generators[b], dtype=torch.float64))] for b in todo],
                dtype=torch.float64,
                device=logits.device,
            )
            pick = torch.minimum(torch.searchsorted(cdf[rows], u * total[rows], right=True), last[rows])
            tokens[rows] = pick
            if floor is None:
                break
            ok = (probs[rows].gather(-1, pick) >= floor[rows])[:, 0].tolist()
            todo = [b for b, good in zip(todo, ok, strict=True) if not good]
        tokens = tokens[:, 0]
    return tokens, logp.gather(-1, tokens[:, None])[:, 0], entropy


def _shared_prefix_len(prompts: Sequence[Sequence[int]], minimum: int) -> int:
    """Tokens every prompt starts with (at least one token of each is left to prefill on its own, so
    each has its own last logits), or 0 when that is shorter than ``minimum`` or there is one prompt."""
    if len(prompts) < 2:
        return 0
    k = min(len(os.path.commonprefix(list(prompts))), min(map(len, prompts)) - 1)
    return k if k >= minimum else 0


def _fast_path_blocker(model) -> str | None:
    """Why the slot-cache decode loop cannot run this model (None if it can): it feeds each layer a
    4D additive mask and one KV buffer per layer, which fits full-attention layers under the
    ``sdpa``/``eager`` implementations."""
    cfg = model.config
    impl = getattr(cfg, "_attn_implementation", None)
    if impl not in ("sdpa", "eager"):
        return f"attention implementation {impl!r}"
    layer_types = getattr(cfg, "layer_types", None)
    if layer_types and any(t != "full_attention" for t in layer_types):
        return "layers other than full attention"
    if getattr(cfg, "sliding_window", None) and getattr(cfg, "use_sliding_window", True):
        return "sliding-window attention"
    return None


@functools.cache
def _slot_cache_type():
    """The KV cache of the decode loop, a transformers ``Cache`` over per-layer buffers of shape
    ``(rows, kv_heads, columns, head_dim)`` that the loop owns.

    Why not ``DynamicCache``: it appends each step with ``torch.cat``, copying every row's whole
    cache once per step and layer (on CPU a large share of a decode step: 0.6 GB per step at 16
    rows of 800 tokens for SmolLM2), and its rows share one length, so refilling a finished row
    with a new prompt means re-padding everyone. Here
    row ``r`` holds its prompt's KV (copied from the prompt's single prefill: the cache is expanded,
    not the prompt) from column 0, writes its next key at column ``lens[r]`` in place, and the
    4D mask the loop passes hides the columns past each row's length. A finished row is refilled
    with a waiting sample or replaced by the last row, so the batch only holds running samples.
    Defined lazily so that importing this module does not import transformers.
    """
    import torch
    from transformers.cache_utils import Cache, DynamicLayer

    class SlotLayer(DynamicLayer):
        def __init__(self, owner, index: int):
            super().__init__()
            self.owner, self.index = owner, index

        def update(self, key_states, value_states, *args, **kwargs):
            return self.owner.write(self.index, key_states, value_states)

        def get_seq_length(self) -> int:
            return self.owner.width

    class SlotCache(Cache):
        def __init__(self, num_layers: int, rows: int, max_columns: int, grow: int = 128):
            super().__init__(layers=[SlotLayer(self, i) for i in range(num_layers)])
            self.rows, self.max_columns, self.grow = rows, max_columns, grow
            self.keys: list = []
            self.values: list = []
            self.columns = 0
            self.width = 0
            self._n = 0
            self._lens = None
            self._arange = None

        def reserve(self, columns: int, like) -> None:
            """Room for ``columns`` per row; ``like``: one prompt's ``[(keys, values)]`` per layer."""
            if columns <= self.columns:
                return
            new = min(self.max_columns, max(columns, self.columns + self.grow))
            for i, (k, v) in enumerate(like):
                bk = k.new_zeros((self.rows, k.shape[1], new, k.shape[3]))
                bv = v.new_zeros((self.rows, v.shape[1], new, v.shape[3]))
                if self.columns:
                    bk[:, :, : self.columns] = self.keys[i]
                    bv[:, :, : self.columns] = self.values[i]
                    self.keys[i], self.values[i] = bk, bv
                else:
                    self.keys.append(bk)
                    self.values.append(bv)
            self.columns = new

        def load(self, slot: int, kv, length: int) -> None:
            """Put one prompt's KV (``[(1, H, length, D)] * 2`` per layer) in row ``slot``."""
            self.reserve(length + 1, kv)
            for i, (k, v) in enumerate(kv):
                self.keys[i][slot, :, :length] = k[0]
                self.values[i][slot, :, :length] = v[0]

        def move(self, src: int, dst: int, length: int) -> None:
            for k, v in zip(self.keys, self.values, strict=True):
                k[dst, :, :length] = k[src, :, :length]
                v[dst, :, :length] = v[src, :, :length]

        def step(self, lens) -> None:
            """The next forward writes row ``r``'s key at column ``lens[r]`` and sees columns
            ``[0, max(lens)]``."""
            self._n = lens.shape[0]
            self._lens = lens
            self._arange = torch.arange(self._n, device=lens.device)
            self.width = int(lens.max()) + 1
            if self.width > self.columns:
                self.reserve(
                    self.width, [(k[:1], v[:1]) for k, v in zip(self.keys, self.values, strict=True)]
                )

        def write(self, i: int, key_states, value_states):
            k, v = self.keys[i], self.values[i]
            # Under autocast (the trainer's bf16 mixed precision) a layer's keys and values can come
            # in another dtype than the prompt's; index_put does not cast, so cast here.
            k[self._arange, :, self._lens] = key_states[:, :, 0].to(k.dtype)
            v[self._arange, :, self._lens] = value_states[:, :, 0].to(v.dtype)
            return k[: self._n, :, : self.width], v[: self._n, :, : self.width]

    return SlotCache


class _StopCheck:
    """Whether the newest token completes a stop string. Decodes only the last tokens: enough that a
    stop string completed by the newest token lies inside the window with margin (every token
    decodes to at least one byte), so the answer is that of decoding the whole completion."""

    def __init__(self, tokenizer, stop: Sequence[str]):
        self.tokenizer, self.stop = tokenizer, tuple(stop)
        self.window = max((len(s.encode()) for s in self.stop), default=0) + 8

    def __call__(self, ids: list[int]) -> bool:
        if not self.stop:
            return False
        text = self.tokenizer.decode(ids[-self.window :])
        return any(s in text for s in self.stop)


@dataclass
class _Row:
    """One sample while it is being drawn."""

    prompt: int
    index: int
    generator: object  # torch.Generator, None when greedy
    ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    entropies: list[float] = field(default_factory=list)
    text_ids: list[int] | None = None  # set when finished
    stopped: bool = False


class TransformersSampler:
    """Sampling with a transformers causal LM (CPU or GPU): a decode loop of its own over the model's
    forward, in which no work is repeated.

    - The prefix all prompts of a call share (system message, few-shot examples) is prefilled once
      when it has at least ``min_shared_prefix`` tokens (shorter, the extra forward call is not
      worth it; at the demo's settings the 603 shared tokens cut the prefill from 9463 to 4036
      tokens: ``benchmarks/eval_speed.py --no-shared-prefix``). Each distinct prompt's remaining
      tokens are prefilled once, on top of it, and that KV cache is copied into each of the
      prompt's ``n`` rows.
    - Up to ``batch_size`` samples decode together, one token each per forward call; a finished
      sample leaves the batch at once and a waiting one takes its row.
    - Per step only the ``(rows, V)`` logits of that step exist; they are reduced to each row's
      token, log-probability and entropy right away.
    - Each sample has its own random generator (:func:`sample_seed`), so a prompt's samples are the
      same alone or in any batch, with any ``batch_size``. The model's arithmetic can differ in its
      last bits with the batch's shape, which could only flip a draw that lands within that rounding
      of a boundary between two tokens (never seen in the fp32 tests).

    ``naive=True`` is the previous implementation, kept for benchmarks: ``model.generate`` on
    prompt x sample rows, ``batch_size`` rows per call, each call decoding until its longest row
    ends, seeded per call (``keys`` ignored). Models the loop does not cover (sliding-window or
    flash attention) take that path too.
    """

    def __init__(
        self,
        policy,
        *,
        batch_size: int = 16,
        progress: bool = True,
        naive: bool = False,
        min_shared_prefix: int = 16,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: must be >= 1")
        self.policy = policy
        self.batch_size = batch_size
        self.progress = progress
        self.naive = naive
        self.min_shared_prefix = min_shared_prefix
        self.stats = SamplerStats()
        self._warned = False

    def sample(
        self,
        prompts: Sequence[str] | None = None,
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        seed: int = 0,
        stop: Sequence[str] = (),
        *,
        prompt_ids: Sequence[Sequence[int]] | None = None,
        keys: Sequence[int] | None = None,
    ) -> list[list[Sample]]:
        ids = _prompt_ids(self.policy.tokenizer, prompts, prompt_ids)
        _check_args(ids, n, temperature, top_p, max_new_tokens, keys)
        empty = [i for i, x in enumerate(ids) if not x]
        if empty:
            raise ValueError(f"prompt {empty[0]} has no tokens; every prompt needs at least one")
        self.stats = SamplerStats(sequences=len(ids) * n)
        t0 = time.perf_counter()
        blocker = None if self.naive else _fast_path_blocker(self.policy.model)
        if blocker and not self._warned:
            self._warned = True
            logging.getLogger(__name__).warning(
                "TransformersSampler: %s is not covered by the decode loop; sampling with model.generate "
                "(the old path: prompts prefilled per sample, seeded per batch, keys ignored)",
                blocker,
            )
        if self.naive or blocker:
            out = self._sample_naive(ids, n, temperature, top_p, max_new_tokens, seed, stop)
        else:
            keys = list(range(len(ids))) if keys is None else [int(k) for k in keys]
            out = self._sample_cached(ids, n, temperature, top_p, max_new_tokens, seed, stop, keys)
            self.stats.per_batch.append(time.perf_counter() - t0)
        self.stats.seconds = time.perf_counter() - t0
        return out

    def _sample_cached(self, prompt_ids, n, temperature, top_p, max_new_tokens, seed, stop, keys):
        import torch
        from tqdm.auto import tqdm

        model, tok = self.policy.model, self.policy.tokenizer
        device = next(model.parameters()).device
        eos = _eos_ids(self.policy)
        greedy = temperature == 0
        stats = self.stats
        stop_check = _StopCheck(tok, stop)
        results: list[list[Sample | None]] = [[None] * n for _ in prompt_ids]
        bar = tqdm(
            total=len(prompt_ids) * n, desc="sampling", unit="sample", disable=not self.progress, leave=False
        )

        # Identical prompts are prefilled once; all distinct ones share the prefix they start with.
        distinct: dict[tuple[int, ...], int] = {}
        which = [distinct.setdefault(tuple(x), len(distinct)) for x in prompt_ids]
        uniq = [list(x) for x in distinct]
        unplaced = [0] * len(uniq)
        for u in which:
            unplaced[u] += n
        shared = _shared_prefix_len(uniq, self.min_shared_prefix)
        queue = deque((i, j) for i in range(len(prompt_ids)) for j in range(n))
        rows: list[_Row] = []  # the running batch: row r of the cache is rows[r]
        lens: list[int] = []  # columns filled in each row's cache
        prompt_kv: dict[int, tuple[list, object]] = {}  # distinct prompt -> (KV per layer, last logits)
        slots = None

        def finish(row: _Row) -> None:
            results[row.prompt][row.index] = Sample(
                text=tok.decode(row.text_ids, skip_special_tokens=True),
                token_ids=row.ids,
                logprobs=row.logprobs,
                entropies=row.entropies,
                stopped=row.stopped,
            )
            stats.new_tokens += len(row.ids)
            bar.update(1)

        def push(row: _Row, token: int, lp: float, ent: float) -> bool:
            """Append a drawn token; True when the sample is complete."""
            row.ids.append(token)
            row.logprobs.append(lp)
            row.entropies.append(ent)
            if token in eos:
                row.text_ids, row.stopped = row.ids[:-1], True
            elif stop_check(row.ids):
                row.text_ids, row.stopped = row.ids, True
            elif len(row.ids) >= max_new_tokens:
                row.text_ids = row.ids
            return row.text_ids is not None

        def prefill(u: int):
            t0 = time.perf_counter()
            ids = uniq[u]
            out = model(
                input_ids=torch.tensor([ids[shared:]], device=device),
                past_key_values=prefix,
                position_ids=torch.arange(shared, len(ids), device=device)[None],
                use_cache=True,
                logits_to_keep=1,
            )
            kv = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
            if prefix is not None:
                prefix.crop(shared - len(ids))  # back to the shared prefix for the next prompt
            stats.prefill_tokens += len(ids) - shared
            stats.prefill_s += time.perf_counter() - t0
            return kv, out.logits[0, -1]

        def start(slot: int) -> bool:
            """Take waiting samples until one needs a row and put it in ``slot`` (== len(rows) to
            append); False when none waits."""
            nonlocal slots
            while queue:
                i, j = queue.popleft()
                u = which[i]
                if u not in prompt_kv:
                    prompt_kv[u] = prefill(u)
                kv, last = prompt_kv[u]
                unplaced[u] -= 1
                if not unplaced[u]:
                    del prompt_kv[u]
                gen = None if greedy else torch.Generator().manual_seed(sample_seed(seed, keys[i], j))
                row = _Row(i, j, gen)
                token, lp, ent = _draw(last[None], [gen], temperature, top_p)
                if push(row, int(token[0]), float(lp[0]), float(ent[0])):
                    finish(row)
                    continue
                if slots is None:
                    slots = _slot_cache_type()(
                        len(kv),
                        min(self.batch_size, len(queue) + 1),
                        max(map(len, uniq)) + max_new_tokens,
                    )
                slots.load(slot, kv, len(uniq[u]))
                if slot == len(rows):
                    rows.append(row)
                    lens.append(len(uniq[u]))
                else:
                    rows[slot], lens[slot] = row, len(uniq[u])
                return True
            return False

        with torch.no_grad():
            prefix = None
            if shared:
                t0 = time.perf_counter()
                prefix = model(
                    input_ids=torch.tensor([uniq[0][:shared]], device=device),
                    use_cache=True,
                    logits_to_keep=1,
                ).past_key_values
                stats.prefill_tokens += shared
                stats.prefill_s += time.perf_counter() - t0
            while queue or rows:
                while len(rows) < self.batch_size and start(len(rows)):
                    pass
                if not rows:
                    break
                lens_t = torch.tensor(lens, device=device)
                slots.step(lens_t)
                cols = torch.arange(slots.width, device=device)
                mask = torch.zeros((len(rows), 1, 1, slots.width), dtype=slots.keys[0].dtype, device=device)
                mask.masked_fill_((cols[None] > lens_t[:, None])[:, None, None], torch.finfo(mask.dtype).min)
                logits = model(
                    input_ids=torch.tensor([[r.ids[-1]] for r in rows], device=device),
                    position_ids=lens_t[:, None],
                    attention_mask=mask,
                    past_key_values=slots,
                    use_cache=True,
                ).logits[:, -1]
                stats.decode_steps += 1
                stats.decode_rows += len(rows)
                tokens, lps, ents = _draw(logits, [r.generator for r in rows], temperature, top_p)
                tokens, lps, ents = tokens.tolist(), lps.tolist(), ents.tolist()
                done = []
                for r, row in enumerate(rows):
                    lens[r] += 1
                    if push(row, tokens[r], lps[r], ents[r]):
                        done.append(r)
                # Highest first: every row after r is then running, so the last one can move into r.
                for r in reversed(done):
                    finish(rows[r])
                    if not start(r):
                        last = len(rows) - 1
                        if r != last:
                            slots.move(last, r, lens[last])
                            rows[r], lens[r] = rows[last], lens[last]
                        rows.pop()
                        lens.pop()
        bar.close()
        return results

    def _sample_naive(self, prompt_ids, n, temperature, top_p, max_new_tokens, seed, stop):
        import torch
        from tqdm.auto import tqdm
        from transformers import GenerationConfig

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
        rows = [(i, j) for i in range(len(prompt_ids)) for j in range(n)]
        results: list[list[Sample | None]] = [[None] * n for _ in prompt_ids]
        bar = tqdm(total=len(rows), desc="sampling", unit="sample", disable=not self.progress, leave=False)
        for b, start in enumerate(range(0, len(rows), self.batch_size)):
            chunk = rows[start : start + self.batch_size]
            t0 = time.perf_counter()
            # The same left-padded tensors ``tok(texts, padding=True)`` gives.
            enc = tok.pad({"input_ids": [prompt_ids[i] for i, _ in chunk]}, return_tensors="pt").to(device)
            self.stats.prefill_tokens += int(enc["input_ids"].numel())
            with (
                torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []),
                torch.no_grad(),
            ):
                torch.manual_seed(seed * 1_000_003 + b)
                out = model.generate(**enc, generation_config=gen_config, tokenizer=tok if stop else None)
            new = out.sequences[:, enc["input_ids"].shape[1] :]
            self.stats.decode_steps += new.shape[1]
            self.stats.decode_rows += new.numel()
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


class LlamaCppSampler:
    """Sampling a GGUF file with llama.cpp (``pip install 'leanfd[llamacpp]'``, a source build of
    ``llama-cpp-python``): for evaluation only, where its quantised CPU kernels beat the
    transformers sampler at batch 1 (``benchmarks/llamacpp_speed.py``).

    Two limits to know:

    - Its log-probabilities and entropies are exact for *its own* forward pass, over the quantised
      weights of the GGUF file, evaluated as it evaluates them (llama.cpp's numbers also move with
      the batch shape: ~0.05 nats between one batch and token by token on SmolLM2 Q4_1): not the
      float weights a trainer's forward pass uses, so they are not a trainer's ``π_old``.
    - It samples a GGUF file only: a LoRA checkpoint has to be merged and converted first.

    Otherwise it is the transformers sampler's twin: the same tokenisation (``tokenizer``, default:
    the one transformers reads from the GGUF), the same draw from ``softmax(logits / T)`` restricted
    to the top-p nucleus, with one generator per sample seeded by ``(seed, key, index)``, the same
    full-vocabulary statistics, stop strings and end-of-sequence handling. Samples run one at a time
    over llama.cpp's KV cache: a prompt is prefilled once for its ``n`` samples, and the next prompt
    reuses the (64-token chunks of) prefix it shares with it, evaluated the same way whatever came
    before, so a prompt's samples do not depend on the other prompts of the call.
    """

    def __init__(self, gguf, *, tokenizer=None, n_ctx: int = 4096, threads: int | None = None, progress=True):
        try:
            import llama_cpp
        except ImportError as e:
            raise ImportError(
                "LlamaCppSampler needs llama-cpp-python: pip install 'leanfd[llamacpp]' (builds llama.cpp)"
            ) from e
        from pathlib import Path

        path = Path(gguf)
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file {path} does not exist; pass the .gguf file to sample")
        if tokenizer is None:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        threads = threads or os.cpu_count()
        self.llm = llama_cpp.Llama(
            model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False
        )
        self.tokenizer = tokenizer
        self.eos = {int(self.llm.token_eos())} | (
            {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
        )
        self.progress = progress
        self.stats = SamplerStats()

    #: Prompts are evaluated in chunks of this many tokens at fixed positions, and only whole chunks
    #: are reused from the previous prompt: llama.cpp's results for a token depend on the size of the
    #: batch it is evaluated in, so a prompt's cache, and so its samples, must not depend on what
    #: was evaluated before it.
    CHUNK = 64

    def _logits(self):
        import llama_cpp
        import torch

        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(self.llm.ctx), shape=(self.llm.n_vocab(),))
        return torch.from_numpy(logits.copy())

    def _prefill(self, ids: list[int]):
        """Put ``ids`` in the context (reusing the whole chunks it shares with what is there); the
        last token's logits. The last token is evaluated alone, as every decode step is."""
        llm = self.llm
        held = llm.input_ids[: llm.n_tokens].tolist()
        keep = min(len(os.path.commonprefix([held, ids])), len(ids) - 1) // self.CHUNK * self.CHUNK
        llm.n_tokens = keep  # eval() drops the cache past n_tokens before it decodes
        for start in range(keep, len(ids) - 1, self.CHUNK):
            llm.eval(ids[start : min(start + self.CHUNK, len(ids) - 1)])
        llm.eval(ids[-1:])
        self.stats.prefill_tokens += len(ids) - keep
        return self._logits()

    def sample(
        self,
        prompts: Sequence[str] | None = None,
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        seed: int = 0,
        stop: Sequence[str] = (),
        *,
        prompt_ids: Sequence[Sequence[int]] | None = None,
        keys: Sequence[int] | None = None,
    ) -> list[list[Sample]]:
        import torch
        from tqdm.auto import tqdm

        ids = _prompt_ids(self.tokenizer, prompts, prompt_ids)
        _check_args(ids, n, temperature, top_p, max_new_tokens, keys)
        keys = list(range(len(ids))) if keys is None else [int(k) for k in keys]
        too_long = [i for i, x in enumerate(ids) if not x or len(x) + max_new_tokens > self.llm.n_ctx()]
        if too_long:
            raise ValueError(
                f"prompt {too_long[0]} ({len(ids[too_long[0]])} tokens) plus max_new_tokens={max_new_tokens} "
                f"does not fit the context of {self.llm.n_ctx()} tokens (or is empty); raise n_ctx"
            )
        self.stats = SamplerStats(sequences=len(ids) * n)
        stop_check = _StopCheck(self.tokenizer, stop)
        t0 = time.perf_counter()
        results: list[list[Sample]] = []
        bar = tqdm(total=len(ids) * n, desc="sampling", unit="sample", disable=not self.progress, leave=False)
        for i, prompt in enumerate(ids):
            first = self._prefill(prompt)
            samples = []
            for j in range(n):
                self.llm.n_tokens = len(prompt)  # back to the prompt's end: its cache is kept
                gen = (
                    None if temperature == 0 else torch.Generator().manual_seed(sample_seed(seed, keys[i], j))
                )
                out, lps, ents, logits = [], [], [], first
                text_ids, stopped = None, False
                while text_ids is None:
                    token, lp, ent = _draw(logits[None], [gen], temperature, top_p)
                    out.append(int(token[0]))
                    lps.append(float(lp[0]))
                    ents.append(float(ent[0]))
                    if out[-1] in self.eos:
                        text_ids, stopped = out[:-1], True
                    elif stop_check(out):
                        text_ids, stopped = out, True
                    elif len(out) >= max_new_tokens:
                        text_ids = out
                    else:
                        self.llm.eval(out[-1:])
                        logits = self._logits()
                        self.stats.decode_steps += 1
                        self.stats.decode_rows += 1
                samples.append(
                    Sample(self.tokenizer.decode(text_ids, skip_special_tokens=True), out, lps, ents, stopped)
                )
                self.stats.new_tokens += len(out)
                bar.update(1)
            results.append(samples)
        bar.close()
        self.stats.seconds = time.perf_counter() - t0
        self.stats.per_batch.append(self.stats.seconds)
        return results


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
    sampling_params)`` where each prompt is a ``TokensPrompt(prompt_token_ids=...)`` and
    ``sampling_params`` is one ``SamplingParams(n, temperature, top_p, max_tokens, seed, logprobs=K)``
    per prompt; each ``CompletionOutput`` carries ``token_ids`` and ``logprobs`` (one
    ``{token_id: Logprob}`` dict per position holding the top-K plus the sampled token, at ``T = 1``
    under vLLM's default ``raw_logprobs`` mode). Log-probabilities and entropies at ``T`` come from
    :func:`topk_tempered_stats` (exact log-probs at ``T = 1``; see its approximation note). Text
    prompts are tokenised here, without added special tokens, exactly as :class:`TransformersSampler`
    does. Each prompt's request is seeded by ``(seed, key)`` (:func:`sample_seed` with index 0), so
    its samples do not depend on the other prompts of the call.
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
        prompts: Sequence[str] | None = None,
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        seed: int = 0,
        stop: Sequence[str] = (),
        *,
        prompt_ids: Sequence[Sequence[int]] | None = None,
        keys: Sequence[int] | None = None,
    ) -> list[list[Sample]]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        ids = _prompt_ids(self.tokenizer, prompts, prompt_ids)
        _check_args(ids, n, temperature, top_p, max_new_tokens, keys)
        keys = list(range(len(ids))) if keys is None else [int(k) for k in keys]
        params = [
            SamplingParams(
                n=n,
                temperature=temperature,
                top_p=top_p,
                top_k=0,
                max_tokens=max_new_tokens,
                seed=sample_seed(seed, key, 0) % (1 << 63),
                logprobs=self.logprobs_topk,
                stop=list(stop) or None,
                include_stop_str_in_output=True,  # same text as TransformersSampler
            )
            for key in keys
        ]
        t0 = time.perf_counter()
        outputs = self.llm.generate(
            [TokensPrompt(prompt_token_ids=x) for x in ids], params, use_tqdm=self.progress
        )
        results: list[list[Sample]] = []
        self.stats = SamplerStats()
        for request in outputs:
            samples = []
            for comp in request.outputs:
                out_ids = list(comp.token_ids)
                lps, ents = [], []
                for tok_id, dist in zip(out_ids, comp.logprobs or [], strict=False):
                    top = {int(k): float(v.logprob) for k, v in dist.items()}
                    lp, ent = topk_tempered_stats(
                        list(top.values()), top[tok_id], self.vocab_size, temperature
                    )
                    lps.append(lp)
                    ents.append(ent)
                samples.append(
                    Sample(
                        text=comp.text,
                        token_ids=out_ids,
                        logprobs=lps,
                        entropies=ents,
                        stopped=comp.finish_reason == "stop",  # eos or a stop string
                    )
                )
                self.stats.new_tokens += len(out_ids)
            results.append(samples)
        self.stats.sequences = len(ids) * n
        self.stats.seconds = time.perf_counter() - t0
        self.stats.prefill_tokens = sum(map(len, ids))
        return results
