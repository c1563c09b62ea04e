"""Samplers on the tiny random Llama: per-token logprobs/entropies equal a fresh forward pass at
the sampling temperature, seeding, stop handling; the top-K approximation used for vLLM."""

from __future__ import annotations

import math

import pytest
import torch

from leanfd.models.policy import tiny_random_policy
from leanfd.models.sampling import (
    TransformersSampler,
    VLLMSampler,
    tempered_token_stats,
    topk_tempered_stats,
)

PROMPTS = [
    "theorem t : 1 + 1 = 2 :=",
    "<|im_start|>user\nA much longer prompt, so that the batch needs left padding to line up.<|im_end|>\n",
]


@pytest.fixture(scope="module")
def tiny():
    return tiny_random_policy(seed=0)


def fresh_stats(policy, prompt: str, token_ids: list[int], temperature: float):
    prompt_ids = policy.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt_ids + token_ids])
    with torch.no_grad():
        logits = policy.model(ids).logits[0, len(prompt_ids) - 1 : -1]
    return tempered_token_stats(logits, torch.tensor(token_ids), temperature)


@pytest.mark.parametrize("temperature,top_p", [(0.7, 0.9), (1.3, 1.0)])
def test_logprobs_and_entropies_match_a_fresh_forward_pass(tiny, temperature, top_p):
    sampler = TransformersSampler(tiny, batch_size=3, progress=False)  # 2 prompts x 2 -> ragged batches
    out = sampler.sample(PROMPTS, n=2, temperature=temperature, top_p=top_p, max_new_tokens=12, seed=3)
    assert [len(s) for s in out] == [2, 2]
    for prompt, samples in zip(PROMPTS, out, strict=True):
        for s in samples:
            assert len(s.token_ids) == len(s.logprobs) == len(s.entropies) > 0
            lp, ent = fresh_stats(tiny, prompt, s.token_ids, temperature)
            assert torch.allclose(lp, torch.tensor(s.logprobs), atol=2e-4), (lp, s.logprobs)
            assert torch.allclose(ent, torch.tensor(s.entropies), atol=2e-4)
            # The reported law is the tempered one, not T=1: for T != 1 they differ measurably.
            lp1, _ = fresh_stats(tiny, prompt, s.token_ids, 1.0)
            assert not torch.allclose(lp1, torch.tensor(s.logprobs), atol=1e-3)
            assert all(e >= 0 for e in s.entropies)
            assert all(e <= math.log(len(tiny.tokenizer)) + 1e-3 for e in s.entropies)


def test_seeded_and_independent_of_global_rng(tiny):
    sampler = TransformersSampler(tiny, batch_size=4, progress=False)
    a = sampler.sample(PROMPTS, n=2, temperature=1.0, max_new_tokens=8, seed=11)
    torch.manual_seed(12345)  # global RNG state must not matter
    b = sampler.sample(PROMPTS, n=2, temperature=1.0, max_new_tokens=8, seed=11)
    c = sampler.sample(PROMPTS, n=2, temperature=1.0, max_new_tokens=8, seed=12)
    ids = lambda r: [[s.token_ids for s in ss] for ss in r]  # noqa: E731
    assert ids(a) == ids(b)
    assert ids(a) != ids(c)
    assert sampler.stats.sequences == 4 and sampler.stats.new_tokens == 32


def test_stops_at_eos_and_keeps_the_stop_token(tiny):
    # Make the end-of-turn token overwhelmingly likely: it must end every sample after 1 token.
    eos = tiny.tokenizer.eos_token_id
    head = tiny.model.get_output_embeddings()
    saved = head.weight.data[eos].clone()
    try:
        # Align the eos row with the prompt's last hidden state and give it a large norm: its logit
        # then dominates at the first step.
        with torch.no_grad():
            out = tiny.model.model(
                tiny.tokenizer(PROMPTS[0], return_tensors="pt")["input_ids"]
            ).last_hidden_state
            direction = out[0, -1] / out[0, -1].norm()
            head.weight.data[eos] = 200.0 * direction
        sampler = TransformersSampler(tiny, batch_size=2, progress=False)
        s = sampler.sample(PROMPTS[:1], n=2, temperature=1.0, max_new_tokens=6, seed=0)[0]
        for x in s:
            assert x.stopped and x.token_ids == [eos]
            assert x.text == ""
            assert x.logprobs[0] > -1e-3  # ~probability 1
    finally:
        head.weight.data[eos] = saved


def test_unstopped_sample_reports_it(tiny):
    s = TransformersSampler(tiny, progress=False).sample(PROMPTS[:1], n=1, max_new_tokens=5, seed=1)[0][0]
    assert not s.stopped and len(s.token_ids) == 5
    assert s.text == tiny.tokenizer.decode(s.token_ids, skip_special_tokens=True)


def test_greedy_is_deterministic_and_reports_t1(tiny):
    sampler = TransformersSampler(tiny, progress=False)
    a = sampler.sample(PROMPTS[:1], n=1, temperature=0, max_new_tokens=6, seed=0)[0][0]
    b = sampler.sample(PROMPTS[:1], n=1, temperature=0, max_new_tokens=6, seed=99)[0][0]
    assert a.token_ids == b.token_ids
    lp, _ = fresh_stats(tiny, PROMPTS[0], a.token_ids, 1.0)
    assert torch.allclose(lp, torch.tensor(a.logprobs), atol=2e-4)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"n": 0}, "n=0"),
        ({"temperature": -1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
    ],
)
def test_sampler_rejects_bad_arguments(tiny, kwargs, match):
    with pytest.raises(ValueError, match=match):
        TransformersSampler(tiny, progress=False).sample(PROMPTS, **kwargs)
    with pytest.raises(TypeError, match="sequence of strings"):
        TransformersSampler(tiny, progress=False).sample("one prompt")


def test_topk_stats_exact_with_full_vocabulary():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(50, generator=g) * 3
    raw = torch.log_softmax(logits, -1)
    for temperature in (0.5, 1.0, 1.7):
        want_lp, want_h = tempered_token_stats(logits, torch.tensor(7), temperature)
        lp, h = topk_tempered_stats(raw.tolist(), float(raw[7]), 50, temperature)
        assert lp == pytest.approx(float(want_lp), abs=1e-5)
        assert h == pytest.approx(float(want_h), abs=1e-5)


def test_topk_stats_approximation_bounds():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(1000, generator=g) * 4
    raw = torch.log_softmax(logits, -1)
    top = torch.topk(raw, 20).values
    # T = 1: the sampled token's logprob is exact; the entropy is an upper bound (uniform tail).
    lp, h = topk_tempered_stats(top.tolist(), float(top[3]), 1000, 1.0)
    _, true_h = tempered_token_stats(logits, torch.tensor(0), 1.0)
    assert lp == pytest.approx(float(top[3]), abs=1e-9)
    assert h >= float(true_h) - 1e-6


def test_vllm_sampler_says_how_to_install_on_cpu():
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"leanfd\[gpu\]"):
            VLLMSampler("unused")
    else:  # pragma: no cover - GPU machines
        pytest.skip("vLLM installed: the GPU path is exercised elsewhere")


def test_stop_strings_end_a_sample_after_the_completing_token(tiny):
    sampler = TransformersSampler(tiny, batch_size=4, progress=False)
    free = sampler.sample(PROMPTS[:1], n=4, temperature=1.0, max_new_tokens=20, seed=5)[0]
    # A stop string the unconstrained samples do produce: a character from their texts.
    stop = next(ch for ch in "etaoins" if sum(ch in s.text for s in free) >= 2)
    out = sampler.sample(PROMPTS[:1], n=4, temperature=1.0, max_new_tokens=20, seed=5, stop=[stop])[0]
    n_stopped = 0
    for s, f in zip(out, free, strict=True):
        assert len(s.token_ids) == len(s.logprobs) == len(s.entropies)
        assert s.token_ids == f.token_ids[: len(s.token_ids)]  # same draw, cut earlier
        assert s.logprobs == pytest.approx(f.logprobs[: len(s.token_ids)], abs=1e-5)
        if stop in f.text:
            n_stopped += 1
            assert s.stopped and stop in s.text
            assert stop not in tiny.tokenizer.decode(s.token_ids[:-1])
        else:
            assert s.token_ids == f.token_ids
    assert n_stopped >= 2
