"""The Content-Security-Policy of generated pages and the precompiled map callbacks."""

from __future__ import annotations

import base64
import hashlib
import html
import re

import pytest
from bokeh.models import CustomJS, CustomJSHover, CustomJSTickFormatter, Slider

from liqwidget.figure.precompiled import callbacks_path, callbacks_script
from liqwidget.site.csp import PolicyError, apply_policy, inline_script_hashes, policy, trusted


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


PAGE = """<!DOCTYPE html><html><head><title>t</title>
<script src="a.js"></script>
<script>var a = "</scr" + "ipt>";</script>
<script type="application/json" id="data">{"x": 1}</script>
<script type="module">import "./m.js";</script>
</head><body><script>
  done();
</script></body></html>"""


def everything(body: str) -> bool:
    return True


def test_hashes_cover_exactly_the_inline_scripts_that_run():
    hashes = inline_script_hashes(PAGE, trust=everything)
    assert hashes == [
        _sha('var a = "</scr" + "ipt>";'),
        _sha('import "./m.js";'),
        _sha("\n  done();\n"),
    ]


def test_policy_allows_only_this_site_and_hashed_inline_scripts():
    text = policy(PAGE, trust=everything)
    directives = dict(d.split(" ", 1) for d in text.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"].split() == ["'self'", *inline_script_hashes(PAGE, everything)]
    assert directives["object-src"] == "'none'"
    assert "unsafe-eval" not in text and "unsafe-inline" not in directives["script-src"]
    assert "frame-ancestors" not in text  # ignored in a meta element; embeds must be frameable
    assert not re.search(r"https?:", text)  # no other host anywhere


def test_meta_goes_first_in_head_and_replaces_an_older_one():
    once = apply_policy(PAGE, trust=everything)
    head = once.split("<head>", 1)[1]
    assert head.lstrip().startswith('<meta http-equiv="Content-Security-Policy"')
    changed = once.replace("done();", "done(2);")
    twice = html.unescape(apply_policy(changed, trust=everything))
    assert twice.count("Content-Security-Policy") == 1
    assert _sha("\n  done(2);\n") in twice and _sha("\n  done();\n") not in twice


#: The theme's first inline script, as mkdocs-material writes it on a page two levels down.
THEME = (
    '__md_scope=new URL("../..",location),__md_hash=e=>[...e].reduce(((e,_)=>(e<<5)-e+_.'
    "charCodeAt(0)),0),"
)


def test_only_scripts_a_template_wrote_are_trusted_and_injected_ones_are_named(caplog):
    theme = next(
        body
        for body in _theme_bodies()
        if body.startswith('__md_scope=new URL("') and "location)" in body
    )
    assert trusted(theme) and THEME in theme
    # The same script for another page depth is the template's too; a changed one is not.
    assert trusted(theme.replace('URL("../..",', 'URL("../../..",'))
    assert not trusted(theme.replace('URL("../..",', 'URL("");alert(1);("",'))
    assert not trusted(theme + "alert(1)")
    injected = (
        "<html><head><title>t</title></head><body>"
        f"<script>{theme}</script>"
        "<script>window.__pwned=1</script>"
        '<iframe srcdoc="<script>window.__pwned=2</script>"></iframe></body></html>'
    )
    text = html.unescape(apply_policy(injected, where="post.html"))
    assert _sha(theme) in text
    assert _sha("window.__pwned=1") not in text and _sha("window.__pwned=2") not in text
    assert caplog.text.count("post.html: an inline script no template wrote") == 2


def _theme_bodies() -> list[str]:
    """The theme's own first script as a built page has it (from a real build's template)."""
    from pathlib import Path

    import material

    base = Path(material.__file__).parent / "templates" / "partials" / "javascripts" / "base.html"
    body = re.search(r"<script>(.*?)</script>", base.read_text(), re.S).group(1).strip()
    return [body.replace("{{ config.extra.scope | d(base_url) }}", "../..")]


def test_a_page_without_head_is_refused_by_name():
    with pytest.raises(PolicyError, match=r"live\.html has no <head>"):
        apply_policy("<p>hi</p>", where="live.html")


def test_every_callback_of_a_layout_is_precompiled_once():
    hover = CustomJSHover(args={"k": 1}, code="return value * k;")
    fmt = CustomJSTickFormatter(args={"u": "x"}, code="return tick + u;")
    slider = Slider(start=0, end=1, value=0, step=0.1, format=fmt)
    slider.js_on_change("value", CustomJS(args={"a": 1, "b": 2}, code="cb_obj.tag = a + b;"))
    slider.js_on_change("value", CustomJS(args={"a": 1, "b": 2}, code="cb_obj.tag = a + b;"))
    slider.js_on_change("start", CustomJS(code="export default (args, obj) => obj.end;"))
    slider.tags = [hover]
    script = callbacks_script(slider)
    # The repeated CustomJS once, and the document's callback naming the slider's handle.
    assert script.count("window.liqwidgetCallbacks.add(") == 5
    assert "function nameSliders(" in script
    assert 'function (a, b, cb_obj, cb_data, cb_context) {\n"use strict";\ncb_obj.tag' in script
    assert "function (k, value, format, special_vars)" in script
    assert "function (tick, index, ticks, u)" in script
    assert "return (args, obj) => obj.end;" in script  # module: export default → return
    assert callbacks_path(script) != callbacks_path(script + " ")


def test_arguments_that_are_not_identifiers_are_refused():
    bad = Slider(start=0, end=1, value=0, step=0.1)
    bad.js_on_change("value", CustomJS(args={"not an identifier": 1}, code="return 1;"))
    with pytest.raises(ValueError, match="not a JavaScript identifier"):
        callbacks_script(bad)
