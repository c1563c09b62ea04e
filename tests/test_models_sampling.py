"""Samplers on the tiny random Llama: per-token logprobs/entropies equal a fresh forward pass at
the sampling temperature, seeding, stop handling; the top-K approximation used for vLLM."""

from __future__ import annotations

import math
import os

import pytest
import torch

from leanfd.models.sampling import (
    TransformersSampler,
    VLLMSampler,
    tempered_token_stats,
    topk_tempered_stats,
)
from leanfd.models.testing import tiny_random_policy

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


# ------------------------------------------------------------------- the decode loop (new path)

SYSTEM = (
    "<|im_start|>system\nYou are an expert in the Lean 4 theorem prover. You write complete, correct "
    "Lean 4 proofs.<|im_end|>\n"
)
#: Prompts sharing a long prefix (a system message), of different lengths: the shared prefix is
#: prefilled once and each prompt's rest on top of it.
SHARED = [
    SYSTEM + "<|im_start|>user\ntheorem t : 1 + 1 = 2 :=<|im_end|>\n<|im_start|>assistant\n",
    SYSTEM + "<|im_start|>user\nA much longer question, so that the rows of the batch have different "
    "lengths and positions.<|im_end|>\n<|im_start|>assistant\n",
    SYSTEM + "<|im_start|>user\nshort<|im_end|>\n",
]


def ids_of(result):
    return [[s.token_ids for s in ss] for ss in result]


def test_shared_prefix_is_used(tiny):
    sampler = TransformersSampler(tiny, progress=False)
    sampler.sample(SHARED, n=2, max_new_tokens=4, seed=0)
    ids = [tiny.tokenizer(p, add_special_tokens=False)["input_ids"] for p in SHARED]
    shared = len(os.path.commonprefix(ids))
    assert shared >= len(tiny.tokenizer(SYSTEM, add_special_tokens=False)["input_ids"])
    # the common prefix once, then each prompt's rest once (not n times)
    assert sampler.stats.prefill_tokens == shared + sum(len(x) - shared for x in ids)


@pytest.mark.parametrize("prompts", [PROMPTS, SHARED], ids=["two", "shared-prefix"])
def test_greedy_matches_the_old_sampler(tiny, prompts):
    new = TransformersSampler(tiny, batch_size=2, progress=False)
    old = TransformersSampler(tiny, batch_size=2, progress=False, naive=True)
    a = new.sample(prompts, n=1, temperature=0, max_new_tokens=16)
    b = old.sample(prompts, n=1, temperature=0, max_new_tokens=16)
    assert ids_of(a) == ids_of(b)
    for x, y in zip(a, b, strict=True):
        assert x[0].logprobs == pytest.approx(y[0].logprobs, abs=2e-4)
        assert x[0].entropies == pytest.approx(y[0].entropies, abs=2e-4)


@pytest.mark.model
@pytest.mark.slow
def test_greedy_matches_the_old_sampler_on_smollm2_demo_prompts():
    """SmolLM2-135M on prompts as ``leanfd eval --few-shot 3`` builds them (a long shared prefix),
    stopping at the closing fence: the same greedy tokens as the old sampler."""
    from leanfd.data import load_suite
    from leanfd.data.few_shot import few_shot_examples
    from leanfd.models.policy import load_policy
    from leanfd.models.prompts import build_prompt

    policy = load_policy("smollm2-135m")
    examples = few_shot_examples(load_suite("core"), exclude_split="test", k=3, seed=0)
    prompts = [
        build_prompt(p, policy.tokenizer, examples=examples).text
        for p in load_suite("core", split="test")[:3]
    ]
    kw = dict(n=1, temperature=0, max_new_tokens=24, stop=["```"])
    a = TransformersSampler(policy, progress=False).sample(prompts, **kw)
    b = TransformersSampler(policy, progress=False, naive=True).sample(prompts, **kw)
    assert ids_of(a) == ids_of(b)
    assert [s[0].text for s in a] == [s[0].text for s in b]
    for x, y in zip(a, b, strict=True):
        assert x[0].logprobs == pytest.approx(y[0].logprobs, abs=1e-3)


@pytest.mark.parametrize("temperature,top_p", [(1.0, 1.0), (0.7, 0.9)])
def test_samples_do_not_depend_on_the_batch(tiny, temperature, top_p):
    """One generator per sample: a prompt sampled alone (under its key) or with others, with any
    batch size, gives the same tokens (the tiny model in fp32: exact equality of ids)."""
    kw = dict(n=3, temperature=temperature, top_p=top_p, max_new_tokens=12, seed=5)
    prompts = SHARED + PROMPTS
    alone = [
        TransformersSampler(tiny, batch_size=1, progress=False).sample([p], keys=[k], **kw)[0]
        for k, p in enumerate(prompts)
    ]
    alone_ids = [[s.token_ids for s in ss] for ss in alone]
    for batch_size in (1, 4, 16):
        together = TransformersSampler(tiny, batch_size=batch_size, progress=False).sample(prompts, **kw)
        assert ids_of(together) == alone_ids, batch_size
    # Keys, not positions, name the streams: reversed order with the same keys, same samples.
    rev = TransformersSampler(tiny, batch_size=4, progress=False).sample(
        prompts[::-1], keys=list(range(len(prompts)))[::-1], **kw
    )
    assert ids_of(rev)[::-1] == alone_ids
    # The streams are not all the same: samples of one prompt differ, and another seed changes them.
    assert len({tuple(x) for x in alone_ids[0]}) == 3
    other = TransformersSampler(tiny, progress=False).sample(prompts, **{**kw, "seed": 6})
    assert ids_of(other) != alone_ids


def test_prompt_ids_entry_point_for_multi_turn_episodes(tiny):
    tok = tiny.tokenizer
    sampler = TransformersSampler(tiny, batch_size=4, progress=False)
    by_text = sampler.sample(SHARED, n=2, max_new_tokens=8, seed=1)
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in SHARED]
    by_ids = sampler.sample(prompt_ids=ids, n=2, max_new_tokens=8, seed=1)
    assert ids_of(by_ids) == ids_of(by_text)
    # A second turn: episode 0's prompt + its sampled answer + the environment's reply, sampled in
    # one call with a first-turn prompt (different lengths, different turns).
    turn2 = (
        ids[0] + by_ids[0][0].token_ids + tok("\n<|im_start|>user\nerror: try again<|im_end|>\n")["input_ids"]
    )
    mixed = sampler.sample(prompt_ids=[turn2, ids[2]], keys=[100, 2], n=2, max_new_tokens=8, seed=1)
    assert ids_of(mixed)[1] == ids_of(by_ids)[2]  # same key, same samples, whatever else is in the call
    alone = sampler.sample(prompt_ids=[turn2], keys=[100], n=2, max_new_tokens=8, seed=1)
    assert ids_of(mixed)[0] == ids_of(alone)[0]
    for s in mixed[0]:  # positions and masks right for the long row: stats equal a fresh forward
        x = torch.tensor([turn2 + s.token_ids])
        with torch.no_grad():
            logits = tiny.model(x).logits[0, len(turn2) - 1 : -1]
        lp, ent = tempered_token_stats(logits, torch.tensor(s.token_ids), 1.0)
        assert torch.allclose(lp, torch.tensor(s.logprobs), atol=2e-4)
        assert torch.allclose(ent, torch.tensor(s.entropies), atol=2e-4)
    with pytest.raises(TypeError, match="exactly one"):
        sampler.sample(SHARED, prompt_ids=ids)
    with pytest.raises(TypeError, match="token-id lists"):
        sampler.sample(prompt_ids=ids[0])
    with pytest.raises(ValueError, match="no tokens"):
        sampler.sample(prompt_ids=[ids[0], []])
    with pytest.raises(ValueError, match="keys"):
        sampler.sample(prompt_ids=ids, keys=[1])


@pytest.mark.parametrize("batch_size", [16, 3])
def test_each_prompt_prefilled_once_and_finished_rows_leave_the_batch(tiny, batch_size):
    """Count what the model really runs (a hook on its embedding): each distinct prompt's tokens go
    through it once whatever n is, and each decode step holds only the unfinished samples."""
    sampler = TransformersSampler(tiny, batch_size=batch_size, progress=False)
    free = sampler.sample(PROMPTS, n=4, temperature=1.0, max_new_tokens=20, seed=5)
    texts = [s.text for ss in free for s in ss]
    # A stop string some samples produce and others do not: the text of one of their tokens.
    pieces = sorted({tiny.tokenizer.decode([t]) for ss in free for s in ss for t in s.token_ids[2:]})
    stop = next(c for c in pieces if c.strip() and 2 <= sum(c in t for t in texts) <= 6)
    calls: list[tuple[int, int]] = []
    hook = tiny.model.get_input_embeddings().register_forward_hook(
        lambda module, args, out: calls.append(tuple(args[0].shape))
    )
    try:
        out = sampler.sample(PROMPTS, n=4, temperature=1.0, max_new_tokens=20, seed=5, stop=[stop])
    finally:
        hook.remove()
    lengths = [len(s.token_ids) for ss in out for s in ss]
    assert len(set(lengths)) > 1  # some samples stopped early
    prompt_lens = sorted(len(tiny.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in PROMPTS)
    assert sorted(cols for rows, cols in calls if cols > 1) == prompt_lens  # one prefill per prompt
    decode = [rows for rows, cols in calls if cols == 1]
    # Every decode row is an unfinished sample's next token: no row is ever carried after its end.
    assert sum(decode) == sum(n - 1 for n in lengths) == sampler.stats.decode_rows
    assert max(decode) <= batch_size
    if batch_size >= len(lengths):  # all samples run from the start: step t holds those longer than t
        assert decode == [sum(n > t for n in lengths) for t in range(1, max(lengths))]


@pytest.mark.parametrize("temperature", [1.0, 0.02])
def test_top_p_draws_only_from_the_nucleus(tiny, temperature):
    """Flat (T=1: the nucleus spans thousands of tokens, full sort) and peaked (T=0.02: inside the
    top-64 candidates) distributions: every drawn token is in the nucleus of a fresh forward."""
    top_p = 0.5
    out = TransformersSampler(tiny, progress=False).sample(
        PROMPTS, n=3, temperature=temperature, top_p=top_p, max_new_tokens=10, seed=2
    )
    for prompt, ss in zip(PROMPTS, out, strict=True):
        ids = tiny.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        for s in ss:
            with torch.no_grad():
                logits = tiny.model(torch.tensor([ids + s.token_ids])).logits[0, len(ids) - 1 : -1]
            probs = torch.softmax(logits / temperature, -1)
            for t, tok_id in enumerate(s.token_ids):
                before = probs[t][probs[t] > probs[t, tok_id]].sum()  # mass of likelier tokens
                assert before < top_p + 1e-4


# ------------------------------------------------------------------------------------ llama.cpp


@pytest.fixture(scope="module")
def llamacpp():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is an optional extra (leanfd[llamacpp])")
    from leanfd.models.policy import alias_gguf_path, smollm2_tokenizer
    from leanfd.models.sampling import LlamaCppSampler

    return LlamaCppSampler(
        alias_gguf_path("smollm2-135m"), tokenizer=smollm2_tokenizer(), n_ctx=512, progress=False
    )


@pytest.mark.model
def test_llamacpp_sampler_stats_are_its_own_forward_and_seeded_per_sample(llamacpp):
    import llama_cpp

    tok = llamacpp.tokenizer
    prompts = [
        tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
        for q in ("What is 2 + 2?", "Name a prime number.")
    ]
    kw = dict(n=2, temperature=0.8, top_p=0.95, max_new_tokens=12, seed=3)
    out = llamacpp.sample(prompts, **kw)
    assert llamacpp.stats.new_tokens == sum(len(s.token_ids) for ss in out for s in ss)
    # Seeded per sample: the second prompt alone, under its key, draws the same tokens.
    alone = llamacpp.sample(prompts[1:], keys=[1], **kw)
    assert ids_of(alone)[0] == ids_of(out)[1]
    # Log-probs and entropies are those of llama.cpp's own (quantised) forward over prompt + sample,
    # evaluated as the sampler evaluates (the prompt in fixed chunks, then one token at a time).
    ids = tok(prompts[0], add_special_tokens=False)["input_ids"]
    s = out[0][0]
    llm = llamacpp.llm
    llm.n_tokens = 0
    logits = llamacpp._prefill(ids)
    whole = llama_cpp.Llama(model_path=llm.model_path, n_ctx=512, logits_all=True, verbose=False)
    whole.eval(ids + s.token_ids)
    for t, tok_id in enumerate(s.token_ids):
        lp, ent = tempered_token_stats(logits, torch.tensor(tok_id), 0.8)
        assert float(lp) == pytest.approx(s.logprobs[t], abs=1e-5)
        assert float(ent) == pytest.approx(s.entropies[t], abs=1e-5)
        # One batch over the whole sequence is the same model, up to llama.cpp's batch-shape rounding.
        lp_whole, _ = tempered_token_stats(
            torch.from_numpy(whole.scores[len(ids) - 1 + t]), torch.tensor(tok_id), 0.8
        )
        assert float(lp_whole) == pytest.approx(s.logprobs[t], abs=0.3)
        llm.eval([tok_id])
        logits = llamacpp._logits()
    # Stop strings end a sample after the completing token, as in the transformers sampler.
    stop = next(c for c in (tok.decode([t]) for t in s.token_ids[1:]) if c.strip())
    cut = llamacpp.sample(prompts[:1], stop=[stop], **kw)[0][0]
    assert cut.stopped and stop in cut.text and cut.token_ids == s.token_ids[: len(cut.token_ids)]


def test_eager_attention_takes_the_same_loop():
    """The loop's additive 4D mask under the ``eager`` attention implementation too."""
    policy = tiny_random_policy(seed=0)
    policy.model.set_attn_implementation("eager")
    out = TransformersSampler(policy, batch_size=3, progress=False).sample(
        PROMPTS, n=2, temperature=0.7, max_new_tokens=10, seed=3
    )
    for prompt, ss in zip(PROMPTS, out, strict=True):
        for s in ss:
            lp, ent = fresh_stats(policy, prompt, s.token_ids, 0.7)
            assert torch.allclose(lp, torch.tensor(s.logprobs), atol=2e-4)
            assert torch.allclose(ent, torch.tensor(s.entropies), atol=2e-4)


def test_models_outside_the_loop_fall_back_to_generate(caplog):
    policy = tiny_random_policy(seed=0)
    policy.model.config.sliding_window, policy.model.config.use_sliding_window = 8, True
    sampler = TransformersSampler(policy, batch_size=4, progress=False)
    with caplog.at_level("WARNING", logger="leanfd.models.sampling"):
        out = sampler.sample(PROMPTS, n=2, max_new_tokens=5, seed=0)
    assert "sliding-window" in caplog.text and "model.generate" in caplog.text
    longest = max(len(x) for x in policy.tokenizer(PROMPTS, add_special_tokens=False)["input_ids"])
    assert sampler.stats.prefill_tokens == 4 * longest  # generate's padded batch of 2 x 2 rows
    assert [len(ss) for ss in out] == [2, 2]


def test_decode_loop_runs_under_bf16_autocast(tiny):
    """The trainer's mixed precision (accelerate wraps the forward in bf16 autocast): the layers hand
    the cache keys and values in another dtype than the prompt's; the loop still samples, and its
    reported stats stay a proper law."""
    sampler = TransformersSampler(tiny, batch_size=3, progress=False)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = sampler.sample(PROMPTS, n=2, temperature=1.0, max_new_tokens=6, seed=5)
    assert [len(s) for s in out] == [2, 2]
    for samples in out:
        for s in samples:
            assert len(s.token_ids) == len(s.logprobs) > 0
            assert all(lp <= 0 for lp in s.logprobs) and all(e >= 0 for e in s.entropies)
