"""``papertrade strategies list`` and ``papertrade strategies show NAME``: which strategies
there are (shipped and the user's), where each comes from, and every parameter it takes."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_args, get_origin

import typer

if TYPE_CHECKING:  # pydantic loads with the command, not with `papertrade --help`
    from pydantic import BaseModel
    from pydantic.fields import FieldInfo

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None)

StrategyPathOpt = Annotated[
    list[Path] | None,
    typer.Option("--strategy-path", help="a folder whose .py files define strategies "
                 "(repeatable)"),
]


def summary(cls: type[Any]) -> str:
    """The first line of a class's docstring."""
    doc = inspect.getdoc(cls) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def type_name(annotation: Any) -> str:
    """A readable type: ``int``, ``tuple[str, ...]``, ``'daily' | 'weekly'``."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return type_name(args[0])
    if str(origin) == "typing.Literal":
        return " | ".join(repr(a) for a in args)
    if origin is not None and args:
        if str(origin) in ("typing.Union", "<class 'types.UnionType'>"):
            return " | ".join(type_name(a) for a in args)
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if annotation is type(None):
        return "None"
    return str(getattr(annotation, "__name__", annotation)).replace("typing.", "")


def _bounds(info: FieldInfo) -> str:
    words = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "min_length": "min length",
             "max_length": "max length"}
    parts = [f"{words[k]} {getattr(m, k)}" for m in info.metadata for k in words
             if getattr(m, k, None) is not None]
    return f" ({', '.join(parts)})" if parts else ""


def parameter_lines(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) of every field, nested models flattened."""
    from pydantic import BaseModel

    rows: list[tuple[str, str, str, str]] = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation = info.annotation
        if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
            rows.extend(parameter_lines(annotation, f"{key}."))
            continue
        default = ("(required)" if info.is_required()
                   else repr(info.get_default(call_default_factory=True)))
        rows.append((key, type_name(annotation), default,
                     (info.description or "") + _bounds(info)))
    return rows


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]]).rstrip()
            for r in rows]


@app.command("list")
def list_strategies(strategy_path: StrategyPathOpt = None) -> None:
    """Every strategy: its name, where it comes from, what it does."""
    from papertrade.strategies import available
    from papertrade.strategies.loading import origin

    known = available(strategy_path or [])
    rows = [(name, origin(cls), summary(cls)) for name, cls in sorted(known.items())]
    for line in _table([("NAME", "FROM", "DESCRIPTION"), *rows]):
        typer.echo(line)


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="a strategy name, or module:Class")],
    strategy_path: StrategyPathOpt = None,
) -> None:
    """Every parameter of strategy NAME: type, default, description."""
    from papertrade.strategies import get_strategy
    from papertrade.strategies.loading import origin

    cls = get_strategy(name, "command line", search=strategy_path or [])
    typer.echo(f"{cls.name}  ({origin(cls)})")
    doc = inspect.getdoc(cls) or ""
    if doc:
        typer.echo(doc)
    typer.echo("")
    typer.echo("parameters (strategy.params):")
    rows = parameter_lines(cls.Params)
    if not rows:
        typer.echo("  (none)")
        return
    for line in _table([("KEY", "TYPE", "DEFAULT", "DESCRIPTION"), *rows]):
        typer.echo(f"  {line}")


_TEMPLATE = '''"""{title}: describe the idea in one line (papertrade strategies list shows it)."""

from __future__ import annotations

from papertrade.data.history import MarketHistory
from papertrade.strategies.base import Decisions, Strategy, StrategyParams, Symbol


class {cls}Params(StrategyParams):
    """Every threshold is a parameter: configs set them, sweeps vary them."""

    symbol: Symbol = "BTC/USDT"  # a Symbol field: papertrade loads and checks its data
    lookback: int = 50           # days


class {cls}(Strategy):
    """Hold the symbol while its close is above its {{lookback}}-day average, else cash."""

    name = "{name}"
    Params = {cls}Params
    params: {cls}Params

    def traded_symbols(self) -> list[str]:
        return [self.params.symbol]

    def decide(self, history: MarketHistory) -> Decisions:
        # One row per decision time, one column per traded symbol, weights in [0, 1] summing
        # to <= 1 (the rest is cash). Use only rows at or before each row: `lookahead` checks.
        closes = history.closes(self.traded_symbols())
        above = closes > closes.rolling(self.params.lookback).mean()
        return Decisions.build(above.astype(float))
'''

_CONFIG = '''# papertrade backtest {config}   (then: papertrade lookahead {config})
name: {dashed}
strategy:
  path: {name}.py          # relative to this file's folder
  name: {name}
  params: {{symbol: BTC/USDT, lookback: 50}}
data:
  start: 2019-01-01
  end: null                # the latest bar of the data
broker: {{cash: 10000, quote: USDT, fee_bps: 10, slippage_bps: 5}}
'''


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="the strategy's name, e.g. my_trend")],
    folder: Annotated[Path, typer.Option("--dir", help="where to write NAME.py and NAME.yaml")]
    = Path("."),
) -> None:
    """Write a working strategy NAME.py and a config NAME.yaml that backtests it."""
    import re

    from papertrade.errors import ConfigError
    from papertrade.strategies import available

    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ConfigError("command line", "NAME", f"'{name}' is not a strategy name",
                          "use lowercase letters, digits and _, starting with a letter "
                          "(e.g. my_trend)")
    if name in available():
        raise ConfigError("command line", "NAME", f"a strategy named '{name}' already exists",
                          "choose another name (papertrade strategies list)")
    code, config = folder / f"{name}.py", folder / f"{name}.yaml"
    for path in (code, config):
        if path.exists():
            raise ConfigError("command line", "--dir", f"{path} already exists",
                              "choose another name or folder; nothing was written")
    folder.mkdir(parents=True, exist_ok=True)
    cls = "".join(part.capitalize() for part in name.split("_") if part)
    title = name.replace("_", " ").capitalize()
    code.write_text(_TEMPLATE.format(name=name, cls=cls, title=title))
    config.write_text(_CONFIG.format(name=name, dashed=name.replace("_", "-"), config=config))
    typer.echo(f"wrote {code} and {config}")
    typer.echo(f"next: papertrade backtest {config}")
