"""vLLM rollouts for training on GPU: a colocated vLLM engine whose weights follow the trained policy.

GPU only (``pip install 'leanfd[gpu]'``); never imported on CPU (the trainer imports this module
only for ``--sampler vllm``). Not exercised by the CPU test suite: the CPU path runs the
same loop with ``TransformersSampler``.

Weight sync follows vLLM's documented in-process ("colocate") route, the one TRL's GRPOTrainer
uses: the engine runs in this process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``) and, after every
optimizer step, each (merged) weight is handed to the engine's model with
``model.load_weights([(name, tensor)])``; then the prefix cache is reset so no stale KV entry is
reused. With LoRA the adapter is merged into the base weights for the copy and unmerged after.
Under FSDP / ZeRO-3 the parameters would need gathering first; this module supports DDP and
ZeRO-2 (full parameters on every rank), which is what ``configs/accelerate`` ships.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import torch


class VLLMRollouts:
    """``sample(...)`` as :class:`leanfd.models.sampling.VLLMSampler`, plus ``sync_weights()``."""

    def __init__(self, model: torch.nn.Module, cfg) -> None:
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # engine in this process
        from leanfd.models.generate import make_sampler

        base = getattr(getattr(model, "config", None), "_name_or_path", None) or cfg.model
        kw = {"gpu_memory_utilization": cfg.vllm_gpu_memory_utilization}
        if cfg.dtype:
            kw["dtype"] = cfg.dtype
        self.model = model
        self.sampler, _ = make_sampler("vllm", model=base, seed=cfg.seed, progress=False, **kw)
        self.sync_weights()

    def sample(self, *args, **kwargs):
        return self.sampler.sample(*args, **kwargs)

    def _named_weights(self) -> Iterator[tuple[str, torch.Tensor]]:
        model = self.model
        is_peft = hasattr(model, "merge_adapter") and hasattr(model, "peft_config")
        if not is_peft:
            for name, p in model.named_parameters():
                yield name, p.data
            return
        model.merge_adapter()
        try:
            for name, p in model.named_parameters():
                if "lora_" in name or "original_module" in name:
                    continue
                # peft names: base_model.model.<hf name with .base_layer> -> the plain HF name vLLM expects
                yield name.removeprefix("base_model.model.").replace(".base_layer", ""), p.data
        finally:
            model.unmerge_adapter()

    @torch.no_grad()
    def sync_weights(self) -> None:
        engine_model = self.sampler.llm.llm_engine.model_executor.driver_worker.model_runner.model
        for name, tensor in self._named_weights():
            engine_model.load_weights([(name, tensor)])
        self.sampler.llm.reset_prefix_cache()
