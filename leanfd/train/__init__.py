"""Trainers: Feedback Distillation, GRPO, and GRPO from an FD checkpoint (``leanfd train``).

``losses`` (pure, registered loss functions), ``rollout`` (sample, verify, feedback, teacher
context), ``config`` (``TrainConfig``), ``trainer`` (the loop), ``teacher`` (the FD teacher's
weights), ``checkpoint`` (exact resume), ``runlog`` (metrics.csv, TensorBoard, rollouts.jsonl),
``plots`` (training curves), ``vllm_sync`` (GPU rollouts).
Submodules import torch lazily, so ``import leanfd.train`` stays cheap.
"""
