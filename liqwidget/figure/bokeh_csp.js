// Runs the map's callbacks under a Content-Security-Policy without 'unsafe-eval'.
//
// BokehJS 3 turns the source text of CustomJS, CustomJSHover and CustomJSTickFormatter
// models into functions with `new Function(...)` (and ES-module CustomJS with `eval` and a
// blob: import), which a policy without 'unsafe-eval' refuses. A static page instead loads,
// after BokehJS and before its document, a script file written at build time that holds
// those same callbacks as ordinary functions (liqwidget/figure/precompiled.py). This file
// makes BokehJS take them from there, keyed by kind, argument names and source text, so the
// document stays exactly what Python built. A callback with no precompiled twin fails
// loudly instead of being evaluated.
(function () {
  "use strict";
  if (window.liqwidgetCallbacks) return;
  const registry = new Map();
  const key = (kind, names, code) => JSON.stringify([kind, names, code]);
  const keys = (obj) => (obj instanceof Map ? [...obj.keys()] : Object.keys(obj));
  const values = (obj) => (obj instanceof Map ? [...obj.values()] : Object.values(obj));

  function lookup(kind, names, code) {
    const fn = registry.get(key(kind, names, code));
    if (fn == null) {
      throw new Error(
        `liqwidget: no precompiled ${kind} callback with arguments [${names}]; ` +
          "the page's callbacks file is missing or from another build",
      );
    }
    return fn;
  }

  window.liqwidgetCallbacks = {
    /** Register one callback (called by the build's callbacks file). */
    add(kind, names, code, fn) {
      registry.set(key(kind, names, code), fn);
    },
    get size() {
      return registry.size;
    },
  };

  const Models = window.Bokeh.Models;
  const CustomJS = Models.get("CustomJS");
  const CustomJSHover = Models.get("CustomJSHover");
  const CustomJSTickFormatter = Models.get("CustomJSTickFormatter");

  CustomJS.prototype._compile_function = async function () {
    const func = lookup("CustomJS", keys(this.args), this.code);
    const args = values(this.args);
    return function (...rest) {
      return func.call(this, ...args, ...rest);
    };
  };
  CustomJS.prototype._compile_module = async function () {
    return lookup("CustomJS.module", [], this.code);
  };
  CustomJSHover.prototype._make_code = function (_value, _format, _vars, code) {
    return lookup("CustomJSHover", keys(this.args), code);
  };
  CustomJSTickFormatter.prototype._make_func = function () {
    return lookup("CustomJSTickFormatter", keys(this.args), this.code);
  };
})();
