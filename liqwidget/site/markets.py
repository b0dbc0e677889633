"""Several markets on one site: a section page per market and the market index.

Each market (one symbol on one exchange, or a coin summed over several) gets
``markets/<section>.md``: its latest map, its current state and the list of its snapshot
posts. ``markets/index.md`` (handwritten, with a marker) gets the current-state table of all
of them: price, the nearest and the largest cluster on each side and which side holds more
cascade fuel. The numbers come from each market's latest snapshot JSON, so a cached
snapshot needs no recomputation.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..escape import html_attr, html_text, md_text, yaml_str
from ..fmt import money, pct, price
from .pages import EMBED_HEIGHT, embed_path, fuel_text, post_path

MARKETS_MARKER = "<!-- liqwidget:markets -->"


def market_path(section: str) -> str:
    """A market's section page, relative to the docs root."""
    return f"markets/{section}.md"


@dataclass
class MarketSummary:
    """What the index and the section page show of one market."""

    section: str
    name: str
    origin: str
    slugs: list[str]  # snapshot posts, oldest first
    titles: list[str]
    latest: dict  # the latest snapshot's numbers JSON


def _cluster(c: dict | None, p: float) -> str:
    if c is None:
        return "none near"
    return f"{price(c['price'])} ({pct(c['price'] / p - 1, signed=True)}, {money(c['notional'])})"


def _fuel(n: dict) -> str:
    near = n["near"]
    return fuel_text(near["long"]["0.05"], near["short"]["0.05"], n["fuel_side"], n["fuel_ratio"])


def state_row(m: MarketSummary, link: str) -> str:
    n = m.latest
    p = float(n["price"])
    cells = [
        f"[{md_text(m.name)}]({link})",
        price(p),
        _cluster(n.get("nearest_long"), p),
        _cluster(n.get("nearest_short"), p),
        _cluster(n.get("largest_long"), p),
        _cluster(n.get("largest_short"), p),
        _fuel(n),
    ]
    return "| " + " | ".join(cells) + " |"


TABLE_HEAD = (
    "| Market | Price | Nearest long cluster | Nearest short cluster | Largest long cluster "
    "| Largest short cluster | More cascade fuel (±5 %) |\n|---|--:|--:|--:|--:|--:|---|"
)


def index_markdown(markets: list[MarketSummary]) -> str:
    """The current-state table of every market (for ``markets/index.md``)."""
    rows = [state_row(m, f"{m.section}.md") for m in markets]
    when = max(m.latest["time"] for m in markets)[:16].replace("T", " ")
    return (
        f'<div class="lw-markets" markdown>\n\n{TABLE_HEAD}\n' + "\n".join(rows) + "\n\n</div>\n\n"
        f"*As of each market's latest snapshot (newest {when} UTC). Distances are from the "
        "current price; notional is the model's estimate in USD.*"
    )


def section_markdown(m: MarketSummary) -> str:
    """A market's own page: latest map, current state, every snapshot post."""
    latest = m.slugs[-1]
    posts = "\n".join(
        f"- [{md_text(t)}](../{post_path(s)})"
        for s, t in zip(reversed(m.slugs), reversed(m.titles), strict=True)
    )
    return f"""---
title: {yaml_str(html_text(m.name))}
hide:
  - toc
---

# {md_text(m.name)}

Data: {md_text(m.origin)}.

{TABLE_HEAD}
{state_row(m, "#")}

<div class="lw-map">
<iframe src="../{embed_path(latest)}" title="{html_attr(m.titles[-1])} (interactive)" width="100%" height="{EMBED_HEIGHT}" loading="lazy"></iframe>
</div>

## Snapshots

{posts}

[All markets](index.md)
"""
