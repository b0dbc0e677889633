"""What a market name can be: unified ccxt symbols and the exchange ids ccxt knows.

Names are checked where they enter liqwidget (``MarketData.from_frame``, store writes, the
command line). What is already recorded in a store is read back as it is — refusing it would
lose recorded history — and everything shown from it is escaped (:mod:`liqwidget.escape`).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from functools import cache
from pathlib import Path

#: Data sources of liqwidget's own that stand where an exchange id would.
LOCAL_EXCHANGES = ("simulator",)
#: One currency code: letters and digits, then also ``.`` and ``_`` (``1000PEPE``, ``USDC.E``).
_CODE = r"[A-Za-z0-9][A-Za-z0-9._]{0,31}"
#: ``BASE/QUOTE``, ``BASE/QUOTE:SETTLE``, with a futures expiry ``-YYMMDD`` and an option's
#: ``-STRIKE-C``/``-P`` after the settle currency, as in ccxt's unified symbols.
SYMBOL_RE = re.compile(
    rf"(?P<base>{_CODE})/(?P<quote>{_CODE})"
    rf"(?::(?P<settle>{_CODE})(?:-(?P<expiry>\d{{6}})(?:-(?P<strike>\d+(?:\.\d+)?)-[CP])?)?)?"
)
MAX_LENGTH = 80


class MarketNameError(ValueError):
    """A symbol or exchange id that is not a market name; the message says what is wrong."""


def _shown(value: object) -> str:
    """A name as it can be quoted in an error message: repr, cut when very long."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


def check_symbol(symbol: object, what: str = "symbol") -> str:
    """``symbol`` if it is a unified ccxt symbol such as ``BTC/USDT:USDT``, else an error."""
    if not isinstance(symbol, str):
        raise MarketNameError(f"{what} must be a string like 'BTC/USDT:USDT', got {_shown(symbol)}")
    if len(symbol) > MAX_LENGTH:
        raise MarketNameError(
            f"{what} {_shown(symbol)} is {len(symbol)} characters long; a market symbol has at "
            f"most {MAX_LENGTH}"
        )
    if SYMBOL_RE.fullmatch(symbol) is None:
        bad = sorted({c for c in symbol if not (c.isascii() and (c.isalnum() or c in "/:-._"))})
        why = (
            f"it contains {', '.join(repr(c) for c in bad[:5])}"
            if bad
            else "it is not in the form BASE/QUOTE or BASE/QUOTE:SETTLE"
        )
        raise MarketNameError(
            f"{what} {_shown(symbol)} is not a unified market symbol ({why}); use ccxt's form "
            "BASE/QUOTE:SETTLE, e.g. 'BTC/USDT:USDT' (linear) or 'BTC/USD:BTC' (inverse)"
        )
    return symbol


@cache
def exchange_ids() -> frozenset[str]:
    """The exchange ids ccxt knows (``ccxt.exchanges``), plus :data:`LOCAL_EXCHANGES`.

    Importing ccxt takes seconds, so when it is not imported yet the list is read from the
    installed package's source instead (the same literal ``ccxt.exchanges`` is built from).
    """
    module = sys.modules.get("ccxt")
    ids = getattr(module, "exchanges", None)
    if ids is None:
        spec = importlib.util.find_spec("ccxt")
        if spec is None or spec.origin is None:  # pragma: no cover - ccxt is a dependency
            raise MarketNameError("ccxt is not installed, so exchange ids cannot be checked")
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "exchanges" for t in node.targets)
                and isinstance(node.value, ast.List)
            ):
                ids = ast.literal_eval(node.value)
                break
        else:  # pragma: no cover - a ccxt release that builds its list differently
            import ccxt

            ids = ccxt.exchanges
    return frozenset(ids) | frozenset(LOCAL_EXCHANGES)


def check_exchange(exchange: object, what: str = "exchange") -> str:
    """``exchange`` if it is an exchange id ccxt knows (e.g. ``binanceusdm``), else an error."""
    if not isinstance(exchange, str):
        raise MarketNameError(f"{what} must be a ccxt exchange id string, got {_shown(exchange)}")
    if exchange not in exchange_ids():
        near = sorted(
            i for i in exchange_ids() if exchange.lower()[:4] and i.startswith(exchange.lower()[:4])
        )
        hint = f" (did you mean {', '.join(near[:4])}?)" if near else ""
        raise MarketNameError(
            f"{what} {_shown(exchange)} is not an exchange id ccxt knows{hint}; ids are "
            "lowercase, e.g. 'binanceusdm', 'bybit', 'okx' (see ccxt.exchanges)"
        )
    return exchange


def cli_type(check):
    """``check`` as an argparse ``type=``: a bad name becomes a usage error with the reason."""
    import argparse

    def parse(text: str) -> str:
        try:
            return check(text)
        except MarketNameError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = check.__name__.removeprefix("check_")
    return parse


def check_market(exchange: object | None, symbol: object | None) -> None:
    """Check whichever of ``exchange`` and ``symbol`` is given (``None`` means not given)."""
    if exchange is not None:
        check_exchange(exchange)
    if symbol is not None:
        check_symbol(symbol)
