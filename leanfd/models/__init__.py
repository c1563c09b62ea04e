"""Policies (HF path/id, GGUF, LoRA), samplers, prompt templates and proof extraction.

Submodules import torch/transformers lazily, so ``import leanfd.models`` stays cheap.
"""
