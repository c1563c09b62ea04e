"""Where does the FD self-teacher move the student? A probe of the base model, with Lean.

    python experiments/cpu_smollm2/teacher_probe.py [--steps 6] [--config experiments/cpu_smollm2/config.yaml]

Takes the experiment's FD rollouts for the first ``--steps`` steps (same config and seeds as
``leanfd train --method fd``: same problems, same samples, verified by the embedded Lean, same
critique feedback) with the *base* weights (the EMA teacher equals the student before any update),
and measures, on the student's own sampled tokens:

- ``close``: the probability mass on tokens that write a code fence (```` ``` ````), i.e. on ending the
  proof block, under the student (prompt only) and under the teacher (prompt + feedback),
  averaged over the positions of the attempt;
- the reverse KL(student ‖ teacher) per token (the FD loss at step 1);
- ``gap``: log p_T(y_t) − log p_S(y_t) on the sampled tokens, for fence tokens and for the others,
  and at the first token (``gap@0``: the choice between a proof and the empty answer);
- ``empty``: the probability of the empty answer (a newline, then the closing fence: what every
  no-proof attempt here writes) under the student and under the teacher, for every teacher prompt.

Reverse KL pulls p_S toward p_T at every position of the student's own sample, so where the
teacher gives a token (or the empty answer) more probability than the student, FD teaches the
student to write it.
Prints one row per attempt kind (failed with a proof / no proof extracted) and the totals, then
what the no-proof attempts wrote.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import torch

from leanfd.train import losses as L
from leanfd.train.config import TrainConfig
from leanfd.train.rollout import completion_logits, pack
from leanfd.train.trainer import Trainer


def fence_ids(tokenizer) -> torch.Tensor:
    """Ids of every vocabulary token whose text contains a backtick pair (the start of ```)."""
    ids = [i for i in range(len(tokenizer)) if "``" in tokenizer.decode([i])]
    return torch.tensor(ids, dtype=torch.long)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="experiments/cpu_smollm2/config.yaml")
    ap.add_argument("--steps", type=int, default=6)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        cfg = TrainConfig.from_yaml(
            args.config, method="fd", out=str(Path(d) / "probe"), steps=args.steps, evaluate=False
        )
        trainer = Trainer(cfg)
        tok = trainer.tokenizer
        fence = fence_ids(tok)
        is_fence = torch.zeros(len(tok), dtype=torch.bool)
        is_fence[fence] = True
        empty = tok("\n```", add_special_tokens=False)["input_ids"]
        pad = tok.pad_token_id
        rows: list[dict] = []
        trainer.unwrapped.eval()
        try:
            for step in range(args.steps):
                batch = trainer.rollouts(step)
                for r in batch.rollouts:
                    if r.teacher_prompt_ids is None:
                        continue
                    comp = [r.completion_ids]
                    with torch.no_grad():
                        s = completion_logits(trainer.unwrapped, pack([r.prompt_ids], comp, pad))
                        t = completion_logits(trainer.unwrapped, pack([r.teacher_prompt_ids], comp, pad))
                    ls, lt = s.log_softmax(-1)[0], t.log_softmax(-1)[0]  # (T, V)
                    y = torch.tensor(r.completion_ids)
                    close_s = ls[:, fence].exp().sum(-1)
                    close_t = lt[:, fence].exp().sum(-1)
                    gap = lt.gather(-1, y[:, None])[:, 0] - ls.gather(-1, y[:, None])[:, 0]
                    p_empty = []
                    for ids in (r.prompt_ids, r.teacher_prompt_ids):
                        with torch.no_grad():
                            lg = completion_logits(trainer.unwrapped, pack([ids], [empty], pad))
                        p_empty.append(float(L.token_logprobs(lg, torch.tensor([empty])).sum().exp()))
                    rows.append(
                        {
                            "kind": "no proof" if r.proof is None else "failed, with proof",
                            "close_s": float(close_s.mean()),
                            "close_t": float(close_t.mean()),
                            "kl": float(L.reverse_kl(ls, lt).mean()),
                            "gap_fence": [float(g) for g, f in zip(gap, is_fence[y], strict=True) if f],
                            "gap_other": [float(g) for g, f in zip(gap, is_fence[y], strict=True) if not f],
                            "len": len(r.completion_ids),
                            "gap0": float(gap[0]),
                            "empty_s": p_empty[0],
                            "empty_t": p_empty[1],
                            "text": r.text,
                        }
                    )
                print(f"step {step + 1}/{args.steps}: {len(batch.rollouts)} rollouts", flush=True)
        finally:
            if trainer.verifier is not None:
                trainer.verifier.close()

    def summary(name: str, rs: list[dict]) -> None:
        if not rs:
            return
        gf = [g for r in rs for g in r["gap_fence"]]
        go = [g for r in rs for g in r["gap_other"]]
        mean = statistics.mean
        print(
            f"{name:20}{len(rs):5}{mean(r['len'] for r in rs):8.1f}"
            f"{mean(r['close_s'] for r in rs):10.3f}{mean(r['close_t'] for r in rs):10.3f}"
            f"{mean(r['kl'] for r in rs):8.3f}"
            f"{mean(gf) if gf else float('nan'):10.3f}{mean(go) if go else float('nan'):10.3f}"
            f"{mean(r['gap0'] for r in rs):8.3f}"
            f"{mean(r['empty_s'] for r in rs):9.3f}{mean(r['empty_t'] for r in rs):9.3f}"
            f"{sum(r['empty_t'] > r['empty_s'] for r in rs):>5}/{len(rs)}"
        )

    print(f"\nfence tokens in the vocabulary: {len(fence)}")
    print(
        f"{'attempts':20}{'n':>5}{'tokens':>8}"
        f"{'close_S':>10}{'close_T':>10}{'KL':>8}{'gap_fence':>10}{'gap_other':>10}"
        f"{'gap@0':>8}{'empty_S':>9}{'empty_T':>9}{'T>S':>8}"
    )
    for kind in ("failed, with proof", "no proof"):
        summary(kind, [r for r in rows if r["kind"] == kind])
    summary("  ' by decide' ones", [r for r in rows if r["text"].startswith(" by decide")])
    summary("all", rows)
    print("\nwhat the no-proof attempts wrote (after the prefilled statement):")
    for r in [r for r in rows if r["kind"] == "no proof"][:10]:
        print(f"  {r['text']!r}")


if __name__ == "__main__":
    main()
