"""Text from data never becomes markup: the one set of escaping helpers.

Anything that did not come from our own source code (symbols, exchange ids, scenario names,
CLI arguments, values read from a store or a file) is *text*. Where such text meets a markup
language it goes through exactly one of these functions:

==================  ============================================================
``html_text``       between HTML tags (also Bokeh ``Div`` text)
``html_attr``       inside a double-quoted HTML attribute value
``md_text``         inline Markdown (headings, paragraphs, table cells, link text)
``yaml_str``        a double-quoted YAML scalar (front matter)
``xml_text``        XML character data and attribute values (the RSS feed)
``json_script``     JSON placed inside ``<script>`` (or any HTML) as data
``js_str``          a JavaScript string literal inside an inline script
``terminal_text``   a line printed to a terminal (no control sequences)
``slug``            a URL path segment / file name made from a name
``inside``          a path under a folder, refusing anything that would leave it
==================  ============================================================

Markup we write ourselves (``<b>``, table pipes) stays in the callers; only data passes
through here.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import unicodedata
from pathlib import Path

__all__ = [
    "html_attr",
    "html_text",
    "inside",
    "js_str",
    "json_script",
    "md_text",
    "slug",
    "terminal_text",
    "xml_text",
    "yaml_str",
]

#: Characters XML 1.0 forbids outright (C0 controls except tab, LF, CR; lone surrogates; FFFE/F).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: Line and paragraph breaks that would let a single-line value start a new Markdown block.
_BREAKS = re.compile(r"[\r\n\u0085\u2028\u2029\x0b\x0c]+")
#: Punctuation Python-Markdown (with the tables extension) honours a backslash escape for.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|])")
#: Longest slug before it is shortened (file names stay far below any file system's limit).
SLUG_MAX = 48


def _str(value: object) -> str:
    return "" if value is None else str(value)


def html_text(value: object) -> str:
    """``value`` as HTML text content: ``& < >`` (and quotes) become entities."""
    return html.escape(_str(value), quote=True)


def html_attr(value: object) -> str:
    """``value`` for a double-quoted HTML attribute (quotes included in the escaping)."""
    return html.escape(_BREAKS.sub(" ", _str(value)), quote=True)


def md_text(value: object) -> str:
    """``value`` as one line of inline Markdown that renders as exactly that text.

    HTML is turned into entities (Markdown passes raw HTML through), Markdown punctuation is
    backslash-escaped (links, images, emphasis, table pipes, attribute lists) and line breaks
    become spaces (no new block can start inside a value).
    """
    # Quotes stay as they are: Markdown text never lands inside an attribute we write.
    text = html.escape(_BREAKS.sub(" ", _str(value)), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)


def yaml_str(value: object) -> str:
    """``value`` as a double-quoted YAML scalar on one line (JSON strings are valid YAML)."""
    return json.dumps(_BREAKS.sub(" ", _str(value)), ensure_ascii=True)


def xml_text(value: object) -> str:
    """``value`` as XML character data or a double-quoted attribute value.

    Characters XML cannot carry at all are replaced with U+FFFD rather than dropped silently
    (a reader still sees that something was there).
    """
    text = _XML_INVALID.sub("\ufffd", _str(value))
    return html.escape(text, quote=True)


def json_script(data: object, **kwargs) -> str:
    """``data`` as JSON that is safe inside an HTML ``<script>`` element or attribute.

    ``<``, ``>`` and ``&`` are written as ``\\u003c``-style escapes, so no ``</script>`` or
    ``<!--`` can end the element early; U+2028/U+2029 are escaped for old JavaScript parsers.
    """
    text = json.dumps(data, ensure_ascii=False, **kwargs)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def js_str(value: object) -> str:
    """``value`` as a quoted JavaScript string literal, safe inside an inline script."""
    return json_script(_str(value))


def terminal_text(value: object) -> str:
    """``value`` for a terminal: control characters (escape sequences, carriage returns,
    bidirectional overrides) are shown as ``\\x1b``-style escapes instead of acting."""
    return "".join(
        ch
        if ch == " " or unicodedata.category(ch)[0] not in "CZ"
        else ch.encode("unicode_escape").decode("ascii")
        for ch in _str(value)
    )


def slug(value: object, default: str = "market", max_len: int = SLUG_MAX) -> str:
    """A lowercase ``[a-z0-9-]`` name for URLs and files, never empty, never too long.

    Accents are folded to ASCII; everything else becomes ``-``. Names that lose characters
    that cannot be folded (non-Latin scripts), that are shortened, or that have no letter or
    digit at all get a short digest of the original, so different names do not share a slug
    by accident.
    """
    raw = _str(value)
    decomposed = unicodedata.normalize("NFKD", raw)
    folded = decomposed.encode("ascii", "ignore").decode("ascii")
    base = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    lossy = any(ch.isalnum() and not ch.isascii() for ch in decomposed)
    if len(base) > max_len or lossy or (not base and raw):
        digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        base = f"{base[: max_len - 9].rstrip('-') or default}-{digest}"
    return base or default


def inside(root: str | Path, relative: str | Path) -> Path:
    """``root / relative``, refusing absolute paths and anything that resolves outside ``root``.

    Symbolic links are followed, so a link pointing out of ``root`` is refused too.
    """
    base = Path(root).resolve()
    rel = Path(relative)
    if rel.is_absolute() or rel.drive:
        raise ValueError(f"refusing to write {str(relative)!r}: an absolute path, not under {base}")
    target = (base / rel).resolve()
    if target != base and base not in target.parents:
        raise ValueError(f"refusing to write {str(relative)!r}: it resolves outside {base}")
    return target
