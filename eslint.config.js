// The one JS lint of the project (`npm run lint`, run by .ci/run before the tests): the
// widget's front end in js/, the figure's Bokeh callbacks in liqwidget/figure/js/ and every
// other script of the package and the site.
import js from "@eslint/js";
import globals from "globals";

const unused = ["error", { argsIgnorePattern: "^_", caughtErrors: "none" }];

export default [
  { ignores: ["liqwidget/static/", "node_modules/", "build/", "public/", "site-build/", ".liqwidget/"] },
  js.configs.recommended,
  {
    // The widget's ESM, bundled by esbuild and run in the notebook page.
    files: ["js/**/*.js", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.browser },
    rules: { "no-unused-vars": unused, eqeqeq: ["error", "smart"] },
  },
  {
    // Other browser scripts shipped in the package or the site (classic scripts).
    files: ["liqwidget/**/*.js", "site/**/*.js"],
    ignores: ["liqwidget/figure/js/"],
    languageOptions: { ecmaVersion: 2022, sourceType: "script", globals: globals.browser },
    rules: { "no-unused-vars": unused, eqeqeq: ["error", "smart"] },
  },
  {
    // Bokeh callbacks: one default-exported function each, run by BokehJS as a plain
    // function (see liqwidget/figure/callbacks.py), so nothing to import and no globals
    // beyond the language's own.
    files: ["liqwidget/figure/js/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: {} },
    rules: {
      "no-unused-vars": unused,
      eqeqeq: ["error", "smart"],
      "no-restricted-syntax": [
        "error",
        { selector: "ImportDeclaration", message: "Bokeh callbacks cannot import." },
        { selector: "ExportNamedDeclaration", message: "Only `export default` is used." },
      ],
    },
  },
];
