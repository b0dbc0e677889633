"""mkdocs hook: write an RSS 2.0 feed (``feed.xml``) of the blog posts.

Material's blog plugin has no feed of its own; this hook keeps the site free of another
plugin dependency. Each item carries the post's title, link, date, categories, description
and, when the post names one in ``image`` front matter, its static preview as an enclosure.
"""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime
from html import unescape
from pathlib import Path

from liqwidget.escape import xml_text as escape

FEED_NAME = "feed.xml"
MAX_ITEMS = 40

_posts: list[dict] = []


def on_pre_build(config, **kwargs) -> None:
    _posts.clear()


def _created(page) -> dt.datetime | None:
    post_config = getattr(page, "config", None)
    date = getattr(getattr(post_config, "date", None), "created", None)
    if date is None:
        raw = page.meta.get("date")
        date = raw.get("created") if isinstance(raw, dict) else raw
    if isinstance(date, str):
        date = dt.datetime.fromisoformat(date)
    if isinstance(date, dt.date) and not isinstance(date, dt.datetime):
        date = dt.datetime(date.year, date.month, date.day)
    if isinstance(date, dt.datetime) and date.tzinfo is None:
        date = date.replace(tzinfo=dt.UTC)
    return date


def on_page_content(html, page, config, files, **kwargs):
    src = page.file.src_uri
    if not src.startswith("blog/posts/"):
        return html
    created = _created(page)
    if created is None:
        return html
    categories = page.meta.get("categories") or []
    _posts.append(
        {
            # Both are HTML text (entities escaped): the title as rendered from the page's
            # heading, the description as written into the front matter for the meta tag.
            "title": unescape(page.title or page.meta.get("title") or src),
            "url": page.url,
            "date": created,
            "categories": list(categories),
            "description": unescape(page.meta.get("description") or ""),
            "image": page.meta.get("image"),
        }
    )
    return html


def _absolute(base: str, rel: str) -> str:
    return f"{base.rstrip('/')}/{rel}" if base else rel


def on_post_build(config, **kwargs) -> None:
    base = config.get("site_url") or ""
    posts = sorted(_posts, key=lambda p: p["date"], reverse=True)[:MAX_ITEMS]
    items = []
    for p in posts:
        link = escape(_absolute(base, p["url"]))
        cats = "".join(f"<category>{escape(c)}</category>" for c in p["categories"])
        enclosure = ""
        if p["image"]:
            image = Path(config["site_dir"]) / p["image"]
            size = image.stat().st_size if image.is_file() else 0
            enclosure = (
                f'<enclosure url="{escape(_absolute(base, p["image"]))}" '
                f'length="{size}" type="image/png"/>'
            )
        items.append(
            "<item>"
            f"<title>{escape(p['title'])}</title><link>{link}</link><guid>{link}</guid>"
            f"<pubDate>{format_datetime(p['date'])}</pubDate>{cats}"
            f"<description>{escape(p['description'])}</description>{enclosure}"
            "</item>"
        )
    now = format_datetime(posts[0]["date"]) if posts else format_datetime(dt.datetime.now(dt.UTC))
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(config['site_name'])}</title>"
        f"<link>{escape(base or './')}</link>"
        f"<description>{escape(config.get('site_description') or '')}</description>"
        f"<lastBuildDate>{now}</lastBuildDate>" + "".join(items) + "</channel></rss>\n"
    )
    (Path(config["site_dir"]) / FEED_NAME).write_text(xml, encoding="utf-8")
