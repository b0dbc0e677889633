"""The escaping helpers: each one turns hostile text into inert text for its language."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import markdown
import pytest

from liqwidget.escape import (
    html_attr,
    html_text,
    inside,
    js_str,
    json_script,
    md_text,
    slug,
    terminal_text,
    xml_text,
    yaml_str,
)

HOSTILE = [
    "BTC<img src=x onerror=alert(1)>/USDT:USDT",
    '"><script>alert(2)</script>',
    "' onmouseover='alert(3)' x='",
    "[click](javascript:alert(4))",
    "![img](javascript:alert(5))",
    "<javascript:alert(6)>",
    '{: onclick="alert(7)" }',
    "</title><script>alert(8)</script>",
    "# heading\n\n<script>alert(9)</script>",
    "a | b | c",
    "*bold* _it_ `code` ~~s~~",
    "&lt;already&gt; &amp;",
    "比特币/USDT:USDT",
    "../../x",
    "A" * 500,
]
MARKDOWN_EXTENSIONS = ["tables", "attr_list", "md_in_html", "admonition", "footnotes", "toc"]


class _Parts(HTMLParser):
    """Collects tags and the text of a fragment."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)


def _one_line(text: str) -> str:
    return re.sub(r"[\r\n]+", " ", text)


def _parse(fragment: str) -> _Parts:
    p = _Parts()
    p.feed(fragment)
    p.close()
    return p


@pytest.mark.parametrize("name", HOSTILE)
def test_html_text_is_only_text(name):
    parts = _parse(f"<p>{html_text(name)}</p>")
    assert parts.tags == [("p", [])]
    assert "".join(parts.text) == name


@pytest.mark.parametrize("name", HOSTILE)
def test_html_attr_stays_inside_its_attribute(name):
    parts = _parse(f'<a title="{html_attr(name)}">x</a>')
    assert parts.tags == [("a", [("title", _one_line(name))])]


@pytest.mark.parametrize("name", HOSTILE)
def test_md_text_renders_as_exactly_the_text(name):
    rendered = markdown.markdown(f"Market: {md_text(name)}", extensions=MARKDOWN_EXTENSIONS)
    parts = _parse(rendered)
    assert [t for t, _ in parts.tags] == ["p"], rendered
    assert "".join(parts.text) == "Market: " + _one_line(name)


@pytest.mark.parametrize("name", HOSTILE)
def test_md_text_in_a_table_cell_and_a_heading(name):
    table = f"| a | b |\n|---|---|\n| {md_text(name)} | 1 |\n"
    rendered = markdown.markdown(table, extensions=MARKDOWN_EXTENSIONS)
    assert [t for t, _ in _parse(rendered).tags].count("td") == 2, rendered
    heading = markdown.markdown(f"# {md_text(name)}", extensions=MARKDOWN_EXTENSIONS)
    assert [t for t, _ in _parse(heading).tags] == ["h1"], heading


@pytest.mark.parametrize("name", HOSTILE)
def test_xml_text_keeps_the_feed_well_formed(name):
    doc = ET.fromstring(f'<item title="{xml_text(name)}"><t>{xml_text(name)}</t></item>')
    assert doc.find("t").text == name
    assert doc.get("title") in (name, name.replace("\n", " "))


def test_xml_text_replaces_characters_xml_cannot_carry():
    doc = ET.fromstring("<t>" + xml_text("a\x00b\x1bc") + "</t>")
    assert doc.text == "a\ufffdb\ufffdc"


@pytest.mark.parametrize("name", HOSTILE)
def test_json_in_a_script_cannot_end_the_element(name):
    text = json_script({"name": name})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"name": name}
    assert json.loads(js_str(name)) == name


@pytest.mark.parametrize("name", HOSTILE)
def test_yaml_str_is_one_safe_line(name):
    import yaml

    text = yaml_str(name)
    assert "\n" not in text
    assert yaml.safe_load(f"k: {text}") == {"k": _one_line(name)}


@pytest.mark.parametrize("name", HOSTILE)
def test_slug_is_a_short_plain_file_name(name):
    s = slug(name)
    assert s and len(s) <= 48
    assert all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in s), s
    assert ".." not in s and "/" not in s


def test_slug_keeps_plain_names_readable_and_different_names_apart():
    assert slug("BTC/USDT") == "btc-usdt"
    assert slug("比特币/USDT") != slug("以太坊/USDT")  # scripts that cannot fold get a digest
    assert slug("A" * 300) != slug("A" * 301)  # shortened names get a digest
    assert slug("") == "market"
    assert slug("<") != slug("..") and slug("..").startswith("market-")


def test_terminal_text_shows_control_sequences_instead_of_running_them():
    assert terminal_text("BTC\x1b[2J\r\u202eX 比特") == "BTC\\x1b[2J\\r\\u202eX 比特"


@pytest.mark.parametrize("rel", ["../x", "../../x", "a/../../x", "/etc/passwd"])
def test_inside_refuses_paths_that_leave_the_folder(tmp_path, rel):
    with pytest.raises(ValueError, match="refusing to write"):
        inside(tmp_path, rel)


def test_inside_refuses_a_link_out_of_the_folder(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="outside"):
        inside(tmp_path / "root", "link/escaped.txt")
    assert inside(tmp_path / "root", "a/b.md") == (tmp_path / "root" / "a" / "b.md").resolve()
