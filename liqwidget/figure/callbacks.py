"""Browser-side behaviour of the figure: Bokeh ``CustomJS`` code that works without a kernel.

The code lives in ``figure/js/*.js`` (package data, checked by the project's JS linter),
one ES module per behaviour, in the shape of Bokeh's own module callbacks::

    export default function name(args, obj, data) { ... }

``args`` is the object of Bokeh models and values passed from Python, ``obj`` what the
callback acts on (the widget that changed, the hovered value, the tick), ``data`` the rest
Bokeh provides. :func:`callback`, :func:`hover` and :func:`tick_formatter` turn a module
into the matching Bokeh model; the modules are read once, at import.
"""

from __future__ import annotations

import re
from pathlib import Path

from bokeh.models import CustomJS, CustomJSHover, CustomJSTickFormatter

#: Layer order in the toggle (CheckboxGroup indices). The front end reads it from the
#: widget's ``_wire`` trait; the toggle callback gets one renderer list per layer.
LAYERS = ("clusters", "real", "price", "forecast")
LAYER_LABELS = ("Clusters (model estimate)", "Real liquidations", "Price", "Forecast")
#: Layers shown unless asked otherwise (the forecast is one toggle away).
DEFAULT_LAYERS = ("clusters", "real", "price")

JS_DIR = Path(__file__).with_name("js")
_EXPORT = re.compile(r"^export default ", re.MULTILINE)


def _as_factory(name: str, text: str) -> str:
    """A module's text as an expression that evaluates to its default export."""
    if len(_EXPORT.findall(text)) != 1 or re.search(
        r"^\s*(import|export)\b(?! default)", text, re.M
    ):
        raise ValueError(
            f"{JS_DIR / name}.js must have exactly one `export default` and no other "
            "import or export (Bokeh runs it as a plain function)"
        )
    return "(() => {\n" + _EXPORT.sub("const exported = ", text) + ";\nreturn exported;\n})()"


#: Each module of ``figure/js/`` (by file stem) as an expression yielding its function.
FUNCTIONS = {p.stem: _as_factory(p.stem, p.read_text()) for p in sorted(JS_DIR.glob("*.js"))}


def _body(name: str, args: dict, obj: str, data: str) -> str:
    if name not in FUNCTIONS:
        raise KeyError(f"no browser code {name!r}; have {sorted(FUNCTIONS)} in {JS_DIR}")
    return f"return {FUNCTIONS[name]}({{{', '.join(args)}}}, {obj}, {data});"


def callback(name: str, **args) -> CustomJS:
    """A ``CustomJS`` running ``js/<name>.js`` with ``obj`` = the triggering model or event."""
    code = _body(name, args, "cb_obj", "{cb_data, cb_context}")
    return CustomJS(args=args, code=code, module=False)


def hover(name: str, **args) -> CustomJSHover:
    """A hover formatter running ``js/<name>.js`` with ``obj`` = the hovered value."""
    return CustomJSHover(args=args, code=_body(name, args, "value", "{format, special_vars}"))


def tick_formatter(name: str, **args) -> CustomJSTickFormatter:
    """A tick formatter running ``js/<name>.js`` with ``obj`` = the tick."""
    return CustomJSTickFormatter(args=args, code=_body(name, args, "tick", "{index, ticks}"))
