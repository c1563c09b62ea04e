"""A tiny random-initialised model for tests, GPU smoke checks and benchmarks: never for results.

It is a real ``LlamaForCausalLM`` with SmolLM2's real tokenizer, so generation, the KV cache, LoRA
and gradients behave as with a pretrained model, at a size that trains in seconds on a CPU.
"""

from __future__ import annotations

from leanfd.models.policy import Policy, _finish, smollm2_tokenizer


def tiny_random_policy(
    seed: int = 0,
    *,
    num_layers: int = 2,
    hidden_size: int = 64,
    num_heads: int = 4,
    tokenizer=None,
) -> Policy:
    """A randomly initialised Llama with the real SmolLM2 tokenizer, for tests of loops and losses.

    Small (2 layers, hidden 64: ~3 M parameters, almost all in the tied embedding) but a real
    ``LlamaForCausalLM``: generation, KV cache, LoRA and gradients behave as with a pretrained model.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tokenizer if tokenizer is not None else smollm2_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=max(1, num_heads // 2),
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    return _finish(model, tok, f"tiny-random-llama-s{seed}", device=None)
