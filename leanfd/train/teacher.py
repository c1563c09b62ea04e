"""The FD teacher's weights: an EMA of the student, the frozen initial weights, or the live weights.

The teacher is the same network as the student (self-distillation), so "a teacher" here is only
a choice of weights for the no-grad teacher forward; the teacher's context (the feedback block) is
built in ``rollout.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


class EMATeacher:
    """Shadow copies of the trainable weights, θ_T ← (1 − rate) θ_T + rate θ_S after each step.

    With LoRA only the adapter is shadowed (a few MB); with full fine-tuning every weight (one more
    model in memory). ``rate=0`` keeps the initial weights: the frozen teacher for full fine-tuning.
    The teacher forward swaps the shadow in place and back (no second model object, works the same
    under DDP), always before the student's forward so no autograd graph sees the swap.
    """

    def __init__(self, model: torch.nn.Module, rate: float) -> None:
        self.rate = rate
        self.shadow = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        if self.rate == 0:
            return
        for n, p in model.named_parameters():
            if n in self.shadow:
                self.shadow[n].lerp_(p.detach(), self.rate)

    @contextlib.contextmanager
    def swapped(self, model: torch.nn.Module) -> Iterator[None]:
        params = {n: p for n, p in model.named_parameters() if n in self.shadow}
        with torch.no_grad():
            saved = {n: p.detach().clone() for n, p in params.items()}
            for n, p in params.items():
                p.copy_(self.shadow[n])
        try:
            yield
        finally:
            with torch.no_grad():
                for n, p in params.items():
                    p.copy_(saved[n])

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {n: t.cpu() for n, t in self.shadow.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for n, t in state.items():
            self.shadow[n].copy_(t)


def make_ema(kind: str, model: torch.nn.Module, *, lora: bool, rate: float) -> EMATeacher | None:
    """The shadow weights teacher ``kind`` needs, or None when it needs none: ``live`` uses the
    student's weights and ``frozen`` with LoRA the base model under the disabled adapter."""
    if kind == "ema":
        return EMATeacher(model, rate)
    if kind == "frozen" and not lora:
        return EMATeacher(model, 0.0)
    return None


def teacher_weights(kind: str, model: torch.nn.Module, ema: EMATeacher | None):
    """A context in which ``model`` (the unwrapped student) computes with the teacher's weights."""
    if kind == "live":
        return contextlib.nullcontext()
    if ema is not None:
        return ema.swapped(model)
    return model.disable_adapter()  # frozen teacher with LoRA: the base model
