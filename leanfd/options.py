"""Options declared once: dataclass fields that carry their ``--help`` text, the command-line
options generated from them, and old spellings (flag, YAML key, keyword) accepted for one release.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import warnings
from collections.abc import Mapping
from dataclasses import field
from typing import Any


def opt(default: Any = dataclasses.MISSING, help: str = "", **kw: Any) -> Any:
    """A dataclass field carrying its ``--help`` text (the TRL ``metadata={"help": ...}`` idiom).

    ``flags`` in ``kw`` (e.g. ``("-k", "--ks")``) gives the field's own command-line spellings."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def renamed(values: Mapping[str, Any], aliases: Mapping[str, str], *, where: str = "", flags: bool = False):
    """``values`` with every old name in ``aliases`` (old -> new) replaced by its new name.

    Each old name used raises a ``DeprecationWarning`` and prints one line on stderr (Python hides
    the warning outside ``__main__``, and a user running a script or the CLI should still see it).
    ``flags`` spells the names as command-line flags; ``where`` says where the old name was read."""
    out = dict(values)
    for old, new in aliases.items():
        if old not in out:
            continue
        value = out.pop(old)
        if flags and value is None:  # a hidden old flag that was not given
            continue
        o, n = (_flag(old), _flag(new)) if flags else (old, new)
        if new in out and out[new] is not None and out[new] != value:
            raise ValueError(f"{where or 'options'}: {o} and {n} are the same option; give only {n}")
        msg = f"{where + ': ' if where else ''}{o} is deprecated and will be removed; use {n}"
        warnings.warn(msg, DeprecationWarning, stacklevel=3)
        print(f"leanfd: warning: {msg}", file=sys.stderr)
        out[new] = value
    return out


def accepts_old_names(aliases: Mapping[str, str]):
    """Class decorator for a config dataclass: its constructor takes the old keyword names in
    ``aliases`` (old -> new) for one release, with a deprecation warning; ``cls.ALIASES`` keeps the
    table for YAML loading and for the command line."""

    def deco(cls):
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self, *args: Any, **kw: Any) -> None:
            init(self, *args, **renamed(kw, aliases, where=cls.__name__))

        cls.__init__ = __init__
        cls.ALIASES = dict(aliases)
        return cls

    return deco


def cli_signature(cls, leading: list | None = None):
    """An ``inspect.Signature`` of typer options, one per field of the dataclass ``cls`` (after the
    ``leading`` parameters), plus a hidden option for each old name in ``cls.ALIASES``.

    Defaults are None so that only flags given on the command line reach the config (a YAML file
    or the dataclass fills the rest); the help shows the field's documented default. A field
    without a default is a required option. List and tuple fields take comma-separated values."""
    import inspect
    import typing

    import typer

    hints = typing.get_type_hints(cls)
    kw = inspect.Parameter.KEYWORD_ONLY
    params, bases = list(leading or []), {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = typing.get_args(hint)
        base = next(a for a in args if a is not type(None)) if type(None) in args else hint
        if typing.get_origin(base) in (list, tuple):
            base = str  # comma-separated on the command line
        bases[f.name] = base
        flags = f.metadata.get("flags", ())
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            option = typer.Option(*flags, help=f.metadata.get("help", ""))
            params.append(inspect.Parameter(f.name, kw, annotation=typing.Annotated[base, option]))
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        help_text = f.metadata.get("help", "") + ("" if default is None else f" (default: {shown})")
        option = typer.Option(*flags, help=help_text, show_default=False)
        params.append(
            inspect.Parameter(f.name, kw, default=None, annotation=typing.Annotated[base | None, option])
        )
    for old, new in getattr(cls, "ALIASES", {}).items():
        option = typer.Option(hidden=True, help=f"Deprecated: use {_flag(new)}.")
        params.append(
            inspect.Parameter(old, kw, default=None, annotation=typing.Annotated[bases[new] | None, option])
        )
    return inspect.Signature(params)
