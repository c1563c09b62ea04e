"""Where the time of a small eval goes: sampler tokens/s, verify seconds, share of wall time per stage.

Runs a fixed eval (default: the first 4 core test problems x 4 samples, SmolLM2-135M, 128 new tokens,
embedded Lean) in a fresh temporary run directory and prints one table. Usage:

    python benchmarks/eval_speed.py [--problems 4] [-n 4] [--max-new-tokens 128] [--batch-size 16]

Stages: model load (from the converted cache; the first ever load also converts the GGUF),
verifier start (warm Lean sessions), sampling, proof extraction, verification; "other" is the rest
(prompt building, writing files, summary and plot).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=4)
    ap.add_argument("-n", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()

    from leanfd.eval.evaluate import EvalConfig, evaluate

    with tempfile.TemporaryDirectory() as tmp:
        cfg = EvalConfig(
            out=Path(tmp) / "bench",
            suite="core",
            split="test",
            model=args.model,
            n=args.n,
            ks=(1, args.n),
            limit=args.problems,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            backend="embedded",
            workers=args.workers,
            progress=False,
        )
        t0 = time.perf_counter()
        result = evaluate(cfg)
        wall = time.perf_counter() - t0
    row = result.summary.iloc[0]
    stages = {
        "model load": result.timings.get("model_load_s", 0.0),
        "verifier start": result.timings.get("verifier_start_s", 0.0),
        "sampling": float(row["sample_s"]),
        "extraction": float(row["extract_s"]),
        "verification": float(row["verify_s"]),
    }
    stages["other"] = max(0.0, wall - sum(stages.values()))
    attempts = args.problems * args.n
    print(
        f"eval: {args.problems} problems x {args.n} samples, {args.model}, max_new_tokens={args.max_new_tokens}, "
        f"batch_size={args.batch_size}"
    )
    print(
        f"sampler: {int(row['new_tokens'])} new tokens in {row['sample_s']:.1f} s = {row['tokens_per_s']:.1f} tokens/s"
    )
    print(
        f"verify: {row['verify_s']:.2f} s for {attempts} samples ({int(row['extracted'])} extracted proofs) "
        f"= {row['verify_s'] / attempts * 1000:.0f} ms per sample (warm sessions)"
    )
    print(f"pass@1 = {row['pass@k']:.3f}, solved {int(row['solved'])}/{int(row['problems'])}")
    print(f"{'stage':<16}{'seconds':>9}{'share':>8}")
    for name, sec in stages.items():
        print(f"{name:<16}{sec:>9.1f}{sec / wall:>8.1%}")
    print(f"{'wall':<16}{wall:>9.1f}")


if __name__ == "__main__":
    main()
