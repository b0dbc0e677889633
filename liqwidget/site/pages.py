"""The files a snapshot adds to the site: its blog post (Markdown) and its embed page (HTML).

Site layout (relative to the docs root; the site uses plain ``.html`` URLs so that it can
also be browsed straight from the file system):

- ``blog/posts/snapshots/<slug>.md`` — the post, served at ``blog/<slug>.html``;
- ``embed/<slug>.html`` — the standalone map page an iframe points at (and
  ``embed/frame-height.js``, which fits the iframe to it);
- ``assets/previews/<slug>.png`` — the static preview;
- ``assets/previews/<slug>.json`` — the key numbers, machine-readable.
"""

from __future__ import annotations

import re

from ..escape import html_attr, html_text, js_str, json_script, md_text, yaml_str
from ..figure import figure_item
from ..figure.bokehjs import asset_dir, bundle_names
from ..figure.precompiled import runtime_path
from ..fmt import money, pct, price, when
from ..html_page import FRAME_SCRIPT, standalone_head
from .assets import asset_urls, content_hash
from .numbers import Cluster, KeyNumbers
from .prose import BALANCED, commentary, headline

#: From a post's URL (``blog/<slug>.html``) and an embed's URL (``embed/<slug>.html``) to the root.
POST_TO_ROOT = "../"
EMBED_TO_ROOT = "../"
#: From a snapshot post's Markdown file (``blog/posts/snapshots/``) to the docs root.
MD_TO_ROOT = "../../../"
#: The explainer on the model and its accuracy, relative to a snapshot post's Markdown file.
METHOD_LINK = "../how-the-model-works.md"
#: BokehJS's model ids.
_MODEL_ID = re.compile(r"p\d+")
#: The map iframes' height where the frame-height script does not run (it then fits them to
#: their content): the preview and key numbers a page without JavaScript shows.
EMBED_HEIGHT = 630


def post_url(slug: str) -> str:
    """Where a snapshot post is served, relative to the site root."""
    return f"blog/{slug}.html"


def post_path(slug: str) -> str:
    return f"blog/posts/snapshots/{slug}.md"


def embed_path(slug: str) -> str:
    return f"embed/{slug}.html"


def preview_path(slug: str) -> str:
    return f"assets/previews/{slug}.png"


def numbers_path(slug: str) -> str:
    return f"assets/previews/{slug}.json"


def _cluster_row(label: str, c: Cluster | None) -> str:
    if c is None:
        return f"| {label} | none within ±15 % | | |"
    return f"| {label} | {price(c.price)} | {pct(c.distance, signed=True)} | {money(c.notional)} |"


def numbers_table(k: KeyNumbers, prev_slug: str | None = None) -> str:
    """The key-numbers tables in Markdown."""
    rows = [
        "| Cluster | Price | Distance | Est. notional |",
        "|---|--:|--:|--:|",
        _cluster_row("Largest long cluster (below)", k.largest("long")),
        _cluster_row("Largest short cluster (above)", k.largest("short")),
        _cluster_row("Nearest long cluster", k.nearest("long")),
        _cluster_row("Nearest short cluster", k.nearest("short")),
        "",
        "| Near price | Long (below) | Short (above) |",
        "|---|--:|--:|",
        f"| Within 2 % | {money(k.near['long'][0.02])} | {money(k.near['short'][0.02])} |",
        f"| Within 5 % | {money(k.near['long'][0.05])} | {money(k.near['short'][0.05])} |",
        "",
        "| Since the previous snapshot | |",
        "|---|--:|",
    ]
    if k.prev_time is None:
        rows.append("| Previous snapshot | none (first of the series) |")
    else:
        if prev_slug:
            rows.append(f"| Previous snapshot | [{when(k.prev_time)}]({prev_slug}.md) |")
        consumed = (
            ", ".join(f"{c.side} {price(c.price)} ({money(c.notional)})" for c in k.consumed[:4])
            or "none"
        )
        rows += [
            f"| Price change | {pct(k.change, signed=True)} |",
            f"| Estimated long levels swept | {money(k.swept['long'])} |",
            f"| Estimated short levels swept | {money(k.swept['short'])} |",
            f"| Clusters consumed | {len(k.consumed)}: {consumed} |",
        ]
    fuel = fuel_text(k.near["long"][0.05], k.near["short"][0.05], k.fuel_side, k.fuel_ratio)
    rows.append(f"| **More cascade fuel (±5 %)** | {fuel} |")
    return "\n".join(rows)


def fuel_text(long5: float, short5: float, side: str, ratio: float) -> str:
    """Which side holds more estimated notional within 5 % of price, in words (Markdown)."""
    if max(long5, short5) <= 0:
        return "neither side (nothing within 5 %)"
    if ratio == float("inf"):
        return f"**{side}s** (all of it)"
    if ratio < BALANCED:
        return f"about even ({side}s ahead by {pct(ratio - 1)})"
    return f"**{side}s** ({ratio:.1f} × the other side)"


def snippet(slug: str, title: str, site_url: str, height: int = EMBED_HEIGHT) -> str:
    """The copy-paste iframe for educators (absolute when the site URL is known), and the
    script that fits its height to the map (``height`` is the fallback without it).

    ``title`` is plain text; the snippet is HTML (shown in a code block, so the page shows it
    as text and a reader's copy is valid, escaped HTML).
    """
    root = f"{site_url.rstrip('/')}/" if site_url else ""
    return (
        f'<iframe src="{html_attr(root + embed_path(slug))}" title="{html_attr(title)}" '
        f'width="100%" height="{height}" style="border:0" loading="lazy"></iframe>\n'
        f'<script src="{html_attr(root + FRAME_SCRIPT)}" async></script>'
    )


def live_snippet(site_url: str) -> str:
    """The live map's copy-paste iframe as a Markdown code block (for the live page)."""
    from ..live.page import EMBED_HEIGHT as LIVE_HEIGHT

    code = snippet("live", "Live liquidation map", site_url, height=LIVE_HEIGHT)
    note = (
        ""
        if site_url
        else f"\n\nPut this site's address in front of `embed/live.html` and `{FRAME_SCRIPT}`."
    )
    return f"```html\n{code}\n```{note}"


def snapshot_text(snapshot, name: str, simulated: bool) -> tuple[str, dict[str, str]]:
    """The post's title (plain text) and prose sections (Markdown, see ``commentary``)."""
    k: KeyNumbers = snapshot.numbers
    text = commentary(
        k,
        snapshot.accuracy,
        name=name,
        simulated=simulated,
        method_link=METHOD_LINK,
        mix=snapshot.mix,
    )
    return headline(k, name), text


def post_markdown(
    snapshot,
    *,
    name: str,
    origin: str,
    simulated: bool,
    site_url: str,
    title: str,
    text: dict[str, str],
) -> str:
    """The snapshot's blog post (``title`` and ``origin`` are plain text, ``text`` Markdown)."""
    k: KeyNumbers = snapshot.numbers
    slug = snapshot.spec.slug(name)
    code = snippet(slug, title, site_url)
    t0, t1 = snapshot.time_range
    model = f" {text['model']}" if text.get("model") else ""
    sim_note = (
        '\n\n!!! note "Simulated market"\n    These numbers come from the built-in simulator, '
        "not from an exchange: they teach how to read the map, they are not market advice."
        if simulated
        else ""
    )
    return f"""---
date:
  created: {k.time:%Y-%m-%dT%H:%M:%S}
categories:
  - Snapshots
hide:
  - toc
slug: {slug}
description: {yaml_str(html_attr(text["lead_text"][:300]))}
image: {preview_path(slug)}
---

# {md_text(title)}

{text["lead"]}

<!-- more -->

<div class="lw-map">
<iframe src="{POST_TO_ROOT}{embed_path(slug)}" title="{html_attr(title)} (interactive)" width="100%" height="{EMBED_HEIGHT}" loading="lazy"></iframe>
</div>

*The map covers {when(t0)} to {when(t1)}.{model} Blue bands are estimated long liquidations (below
price), orange bands short ones (above); use the layer toggles and the threshold slider to
isolate the brightest bands. Data: {md_text(origin)}. [Static image]({MD_TO_ROOT}{preview_path(slug)}) ·
[numbers as JSON]({MD_TO_ROOT}{numbers_path(slug)}).*{sim_note}

## Key numbers

{numbers_table(k, snapshot.spec.prev_slug(name))}

## Where the magnets are

{text["magnets"]}

## What was swept

{text["swept"]}

## What is still loaded

{text["loaded"]}

## How far to trust this

{text["trust"]}

## Embed this map

Paste this into any page to show this snapshot's interactive map. It loads only from this
site — no third-party scripts, no fonts, no trackers. The script line lets the frame grow or
shrink to the map it shows, on a phone as well; without it the frame keeps a fixed height
and scrolls once the map is open.

```html
{code}
```
{_absolute_snippet_script() if not site_url else ""}
"""


def _absolute_snippet_script() -> str:
    """Without a configured site URL, a script (a file: no inline script carries data) that
    turns the snippet's relative srcs (the map page and the frame-height script, both under
    ``embed/``) into this site's URLs."""
    src = POST_TO_ROOT + asset_urls()["snippet-links.js"]
    return f'\n<script src="{html_attr(src)}" defer></script>\n'


def embed_doc_path(slug: str, doc_js: bytes) -> str:
    """The map document's script, named by its content so hosts can cache it for ever."""
    return f"embed/{slug}.{content_hash(doc_js)}.js"


def embed_doc_js(slug: str, figure) -> bytes:
    """The figure's document as a small script that registers itself for the facade.

    A script rather than a JSON file: ``fetch`` is refused on pages opened from the file
    system, a ``<script src>`` is not. Model ids are renumbered in document order, so the same
    map gives the same bytes (and file name) in any process.
    """
    item = json_script(stable_ids(figure_item(figure)), separators=(",", ":"))
    return f"(globalThis.liqwidgetDocs ??= {{}})[{js_str(slug)}] = {item};\n".encode()


def stable_ids(item: dict) -> dict:
    """A copy of ``item`` with BokehJS model ids (``p1234``, from a per-process counter)
    renumbered ``p1, p2, …`` in the order they first appear; references follow their model.

    The serialiser shares reference objects between places, so the copy is built anew
    rather than edited in place (an edited shared object would be renamed twice).
    """
    ids: dict[str, str] = {}

    def copy(node):
        if isinstance(node, dict):
            return {
                key: ids.setdefault(value, f"p{len(ids) + 1}")
                if key in ("id", "root_id")
                and isinstance(value, str)
                and _MODEL_ID.fullmatch(value)
                else copy(value)
                for key, value in node.items()
            }
        if isinstance(node, (list, tuple)):  # map entries come as (key, value) tuples
            return [copy(value) for value in node]
        return node

    return copy(item)


def key_numbers_html(k: KeyNumbers) -> str:
    """A compact table of the snapshot's key numbers: the map's text alternative."""

    def cluster(c: Cluster | None) -> str:
        if c is None:
            return "none within ±15 %"
        return f"{price(c.price)} ({pct(c.distance, signed=True)}, {money(c.notional)})"

    rows = [
        ("Price", price(k.price)),
        ("Nearest long cluster (below)", cluster(k.nearest("long"))),
        ("Nearest short cluster (above)", cluster(k.nearest("short"))),
        ("Largest long cluster", cluster(k.largest("long"))),
        ("Largest short cluster", cluster(k.largest("short"))),
        (
            "Within 5 % of price",
            f"{money(k.near['long'][0.05])} long · {money(k.near['short'][0.05])} short",
        ),
    ]
    body = "\n".join(
        f'<tr><th scope="row">{html_text(h)}</th><td>{html_text(v)}</td></tr>' for h, v in rows
    )
    caption = f"Key numbers at {html_text(when(k.time))}"
    return f'<table class="lw-numbers">\n<caption>{caption}</caption>\n{body}\n</table>'


def embed_html(
    snapshot, name: str, doc_path: str, image_size: tuple[int, int], callbacks: str
) -> str:
    """The standalone map page: preview image and key numbers at once, the interactive map
    (BokehJS from this site and the document script ``doc_path``) on first interaction.

    ``image_size`` is the preview's size in pixels (so the page reserves its box at once);
    ``callbacks`` the site-relative path of the figure's precompiled callbacks
    (:mod:`liqwidget.figure.precompiled`), loaded after BokehJS so the page runs under a
    policy without eval.
    """
    k: KeyNumbers = snapshot.numbers
    slug = snapshot.spec.slug(name)
    title = headline(k, name)
    assets = asset_urls()
    scripts = [f"{asset_dir()}/{b}" for b in bundle_names()] + [runtime_path(), callbacks]
    bokeh_src = " ".join(EMBED_TO_ROOT + src for src in scripts)
    post = f"{EMBED_TO_ROOT}{post_url(slug)}"
    alt = (
        f"Static preview of the liquidation map: price line over estimated long clusters "
        f"(blue, below price) and short clusters (orange, above price), {when(snapshot.time_range[0])}"
        f" to {when(snapshot.time_range[1])}."
    )
    w, h = image_size
    head = standalone_head(
        title,
        f"{title}: estimated liquidation clusters, interactive.",
        f'<link rel="stylesheet" href="{EMBED_TO_ROOT}{assets["embed.css"]}">\n'
        f'<script src="{EMBED_TO_ROOT}{assets["embed.js"]}" defer></script>',
    )
    return f"""{head}
<body>
<main class="lw-embed">
<h1 class="lw-title">{html_text(title)}</h1>
<div data-lw-map data-key="{html_attr(slug)}" data-doc="{html_attr(EMBED_TO_ROOT + doc_path)}" data-bokeh="{html_attr(bokeh_src)}">
<button type="button" class="lw-facade" aria-label="Open the interactive map (loads about 1.7 MB)">
<img src="{html_attr(EMBED_TO_ROOT + preview_path(slug))}" width="{w}" height="{h}" alt="{html_attr(alt)}">
<span class="lw-open" aria-hidden="true">&#9654; Open the interactive map</span>
</button>
<div class="lw-target" hidden></div>
<p class="lw-status" role="status"></p>
</div>
{key_numbers_html(k)}
<p class="lw-caption"><span class="lw-key-long">&#9632; blue: estimated long liquidations (below price)</span> ·
<span class="lw-key-short">&#9632; orange: short ones (above)</span> · a model, not real orders ·
<a href="{html_attr(post)}" target="_top">read the snapshot</a></p>
</main>
</body>
</html>
"""
