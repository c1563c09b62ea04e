"""The teacher's forward over a shared prompt prefix run once (its KV cache copied into every row)
gives the logits of the plain packed forward, and so the same FD loss."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from leanfd.lean.types import Verdict
from leanfd.train.rollout import (
    Rollout,
    completion_logits,
    completion_logits_reusing_prefix,
    encode,
    pack,
    shared_prefix_len,
    student_prompt,
    teacher_prompt_text,
)


@pytest.fixture(scope="module")
def tiny():
    from leanfd.models.testing import tiny_random_policy

    policy = tiny_random_policy(0)
    policy.model.eval()
    return policy


def _rows(vocab: int, seed: int = 0):
    """Prompts with a 96-token common prefix, then suffixes and completions of different lengths
    (one completion empty, as a row that stopped at once)."""
    g = torch.Generator().manual_seed(seed)

    def ids(n: int) -> list[int]:
        return torch.randint(5, vocab, (n,), generator=g).tolist()

    prefix = ids(96)
    prompts = [prefix + ids(n) for n in (1, 7, 30, 12)]
    completions = [ids(n) for n in (9, 0, 4, 15)]
    return prompts, completions


def _assert_same_on_completions(prompts, completions, got: torch.Tensor, want: torch.Tensor, pad: int):
    mask = pack(prompts, completions, pad).completion_mask.bool()
    assert got.shape == want.shape
    assert mask.sum() == sum(map(len, completions))
    torch.testing.assert_close(got[mask], want[mask], atol=1e-4, rtol=0)


def test_shared_prefix_len_leaves_every_prompt_a_token():
    assert shared_prefix_len([[1, 2, 3, 4], [1, 2, 3, 5, 6]]) == 3
    assert shared_prefix_len([[1, 2, 3], [1, 2, 3, 4]]) == 2  # the shorter prompt keeps its last token
    assert shared_prefix_len([[1, 2], [1, 2]]) == 1
    assert shared_prefix_len([[7, 2], [1, 2]]) == 0


@pytest.mark.parametrize("lora", [False, True])
def test_reused_prefix_gives_the_plain_forward_logits(tiny, lora):
    model, pad = tiny.model, tiny.tokenizer.pad_token_id
    if lora:
        from peft import LoraConfig, get_peft_model

        torch.manual_seed(0)
        # init_lora_weights=False: a random B, so the adapter changes the logits
        cfg = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
        model = get_peft_model(model, cfg).eval()
    prompts, completions = _rows(len(tiny.tokenizer))
    with torch.no_grad():
        want = completion_logits(model, pack(prompts, completions, pad))
        got = completion_logits_reusing_prefix(model, prompts, completions, pad, "cpu")
        if lora:  # the frozen-teacher path: adapter off
            with model.disable_adapter():
                off = completion_logits_reusing_prefix(model, prompts, completions, pad, "cpu")
            assert (off - got).abs().max() > 1e-3
        if lora:
            model.unload()  # leave the shared base model as it was
    _assert_same_on_completions(prompts, completions, got, want, pad)


def test_reused_prefix_gives_the_plain_forward_gradient(tiny):
    """The policy's update (student_prefix_cache): the LoRA gradient of a loss on the logits is the
    plain forward's, though the prefix ran once for all rows."""
    from peft import LoraConfig, get_peft_model

    pad = tiny.tokenizer.pad_token_id
    torch.manual_seed(0)
    cfg = LoraConfig(r=4, target_modules=["q_proj", "k_proj", "v_proj"], init_lora_weights=False)
    model = get_peft_model(tiny.model, cfg).train()
    try:
        prompts, completions = _rows(len(tiny.tokenizer))
        mask = pack(prompts, completions, pad).completion_mask.bool()
        grads = []
        for reuse in (False, True):
            model.zero_grad()
            if reuse:
                logits = completion_logits_reusing_prefix(model, prompts, completions, pad, "cpu")
            else:
                logits = completion_logits(model, pack(prompts, completions, pad))
            logits[mask].log_softmax(-1)[:, :50].sum().backward()
            grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad})
        assert grads[0].keys() == grads[1].keys() and grads[0]
        for n in grads[0]:
            torch.testing.assert_close(grads[1][n], grads[0][n], atol=1e-4, rtol=1e-3, msg=n)
        assert any(g.abs().max() > 1e-3 for g in grads[0].values())
    finally:
        model.unload()
        tiny.model.eval()


def test_short_shared_prefix_falls_back_to_the_plain_forward(tiny):
    pad = tiny.tokenizer.pad_token_id
    prompts, completions = _rows(len(tiny.tokenizer))
    prompts = [p[90:] for p in prompts]  # 6 shared tokens, under the threshold
    with torch.no_grad():
        want = completion_logits(tiny.model, pack(prompts, completions, pad))
        got = completion_logits_reusing_prefix(tiny.model, prompts, completions, pad, "cpu", min_prefix=64)
    assert torch.equal(got, want)


def test_fd_loss_unchanged_by_prefix_reuse(tmp_path):
    from leanfd.models.testing import tiny_random_policy
    from leanfd.train.config import TrainConfig
    from leanfd.train.trainer import Trainer

    cfg = TrainConfig(
        out=str(tmp_path / "run"),
        suite="core",
        few_shot=3,
        problems_per_step=2,
        group_size=2,
        max_new_tokens=8,
        micro_batch_size=4,
        teacher="frozen",
        evaluate=False,
        tensorboard=False,
        progress=False,
    )
    trainer = Trainer(cfg, policy=tiny_random_policy(0))
    # a student away from its frozen teacher (the adapter starts at zero), so the loss is not ~0
    with torch.no_grad():
        for name, p in trainer.unwrapped.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(1))
    tok, ex = trainer.tokenizer, trainer.examples
    feedbacks = ["The proof failed.", "Lean reported: unknown identifier 'foo'.\nTry `simp`.", "Wrong.", "x"]
    rows = []
    for i, fb in enumerate(feedbacks):
        problem = trainer.train_problems[i // 2]
        completion = torch.randint(5, len(tok), (3 + 5 * i,), generator=torch.Generator().manual_seed(i))
        rows.append(
            Rollout(
                problem=problem,
                group=i // 2,
                prompt_ids=encode(tok, student_prompt(problem, tok, examples=ex).text),
                completion_ids=completion.tolist(),
                logprobs=[-1.0] * len(completion),
                entropies=[1.0] * len(completion),
                text="",
                proof=None,
                verdict=Verdict(False, "failed"),
                reward=0.0,
                feedback=fb,
                teacher_prompt_ids=encode(tok, teacher_prompt_text(problem, tok, fb, examples=ex)),
            )
        )
    # the case the reuse is for: few-shot examples (and within a group the question) shared
    assert shared_prefix_len([r.teacher_prompt_ids for r in rows]) > 500
    losses = {}
    for reuse in (True, False):
        trainer.cfg = dataclasses.replace(cfg, teacher_prefix_cache=reuse)
        out = trainer._fd_micro_loss(rows, None)
        losses[reuse] = out.loss.detach()
    assert losses[True].item() > 1e-2
    torch.testing.assert_close(losses[True], losses[False], atol=0, rtol=1e-5)
