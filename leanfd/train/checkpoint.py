"""Training checkpoints that resume exactly: trainable weights, optimizer, EMA teacher, every RNG
and the data position, written atomically (a directory renamed into place).

Layout of ``checkpoints/<name>/``: ``trainer_state.pt`` (step, data position, trainable weights,
EMA shadow, config; rank 0), ``rank<i>.pt`` (optimizer state and RNG states of rank i),
``adapter/`` or ``model/`` (a peft / transformers copy that ``load_policy`` reads) and
``config.yaml``.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from leanfd.train.config import TrainConfig
from leanfd.train.teacher import EMATeacher


def rng_state() -> dict[str, Any]:
    """Every RNG the step consumes (Python, NumPy, torch CPU and CUDA)."""
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(
    root: Path,
    name: str,
    *,
    acc,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    tokenizer,
    cfg: TrainConfig,
    step: int,
    stream: dict[str, int],
    ema: EMATeacher | None,
) -> Path:
    """Write ``root/<name>`` (every rank calls this; ``model`` is the accelerate-prepared model,
    ``stream`` the data position) and keep the newest ``cfg.keep_checkpoints`` ``step-*`` ones."""
    final = root / name
    tmp = root / f".{name}.tmp"
    if acc.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    acc.wait_for_everyone()
    unwrapped = acc.unwrap_model(model)
    state = acc.get_state_dict(model)
    trainable = {n for n, p in unwrapped.named_parameters() if p.requires_grad}
    torch.save({"optimizer": optimizer.state_dict(), "rng": rng_state()}, tmp / f"rank{acc.process_index}.pt")
    if acc.is_main_process:
        torch.save(
            {
                "step": step,
                "stream": stream,
                "weights": {n: t.detach().cpu() for n, t in state.items() if n in trainable},
                "ema": ema.state_dict() if ema is not None else None,
                "config": cfg.to_dict(),
            },
            tmp / "trainer_state.pt",
        )
        unwrapped.save_pretrained(tmp / ("adapter" if cfg.lora else "model"))
        if not cfg.lora:
            tokenizer.save_pretrained(tmp / "model")
        (tmp / "config.yaml").write_text(cfg.to_yaml())
        old = root / f".{name}.old"
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
        steps = sorted(root.glob("step-*"))
        for p in steps[: max(0, len(steps) - cfg.keep_checkpoints)]:
            shutil.rmtree(p, ignore_errors=True)
    acc.wait_for_everyone()
    return final


def latest(root: Path) -> Path | None:
    """The newest ``step-*`` checkpoint under ``root``, if any."""
    steps = sorted(root.glob("step-*"))
    return steps[-1] if steps else None


def load(
    path: str | Path,
    *,
    acc,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    ema: EMATeacher | None,
) -> dict[str, Any]:
    """Restore weights, optimizer, RNG states and EMA from ``path`` in place; return the rest of
    the trainer state (``step``, ``stream``) for the trainer to take back."""
    path = Path(path)
    main = path / "trainer_state.pt"
    if not main.is_file():
        raise FileNotFoundError(f"{path} is not a leanfd training checkpoint (no trainer_state.pt)")
    st = torch.load(main, map_location="cpu", weights_only=False)
    params = dict(acc.unwrap_model(model).named_parameters())
    missing = [n for n in st["weights"] if n not in params]
    if missing:
        raise ValueError(
            f"checkpoint {path} holds weights this model lacks ({missing[:3]}...): resume with the same "
            "--model and LoRA options it was written with (see its config.yaml)"
        )
    with torch.no_grad():
        for n, t in st["weights"].items():
            params[n].copy_(t)
    rk = torch.load(path / f"rank{acc.process_index}.pt", map_location="cpu", weights_only=False)
    optimizer.load_state_dict(rk["optimizer"])
    set_rng_state(rk["rng"])
    if ema is not None and st["ema"] is not None:
        ema.load_state_dict(st["ema"])
    return {"step": int(st["step"]), "stream": st["stream"]}
