"""The wire format across languages: what Python's SourceTrait serialiser sends, js/wire.js reads.

Node runs the real ``js/wire.js`` on a widget's serialised state (buffers handed over as
DataViews, as ipywidgets does) with a stand-in for BokehJS's ``ndarray``; the columns it puts
into each named source must be the arrays Python holds.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from ipywidgets.widgets.widget import _remove_buffers

from liqwidget.widget import LiquidationMap

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import { readFileSync } from "node:fs";
import { applySource, wireSpec } from "%(wire)s";

const TYPES = { uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array,
  uint32: Uint32Array, int32: Int32Array, float32: Float32Array, float64: Float64Array };
// BokehJS's ndarray, reduced to what the test reads back.
const Bokeh = { require: () => ({ ndarray: (buf, { dtype, shape }) =>
  ({ dtype, shape, values: Array.from(new TYPES[dtype](buf)) }) }) };

const { state, paths, buffers } = JSON.parse(readFileSync(process.argv[2], "utf8"));
// Put the buffers back where ipywidgets lifted them out, as DataViews on a larger buffer.
paths.forEach((path, i) => {
  const raw = Buffer.from(buffers[i], "base64");
  const big = new Uint8Array(raw.length + 8);
  big.set(raw, 3);
  let obj = state;
  for (const key of path.slice(0, -1)) obj = obj[key];
  obj[path[path.length - 1]] = new DataView(big.buffer, 3, raw.length);
});
const model = { get: (name) => state[name] };
const filled = {};
const doc = { get_model_by_name: (name) => (filled[name] ??= {}) };
const spec = wireSpec(model);
for (const [trait, name] of Object.entries(spec.sources)) applySource(Bokeh, doc, name, model.get(trait));
console.log(JSON.stringify({ layers: spec.layers, filled }));
"""


def test_js_decoder_reads_what_the_source_traits_send(sample, tmp_path):
    node = shutil.which("node")
    assert node, "node is needed for the front end (npm ci) and for this test"
    w = LiquidationMap(sample.slice(None, sample.index[300]), width=600, height=300)
    state, paths, buffers = _remove_buffers(w.get_state())
    dump = {"state": state, "paths": paths}
    dump["buffers"] = [base64.b64encode(bytes(b)).decode() for b in buffers]
    (tmp_path / "state.json").write_text(json.dumps(dump))
    (tmp_path / "run.mjs").write_text(SCRIPT % {"wire": (ROOT / "js" / "wire.js").as_uri()})
    out = subprocess.run(
        [node, str(tmp_path / "run.mjs"), str(tmp_path / "state.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    got = json.loads(out.stdout)
    assert got["layers"] == w._wire["layers"]
    sources = w.figure_data.sources
    assert set(got["filled"]) == set(sources)
    for name, cols in sources.items():
        data = got["filled"][name]["data"]
        assert set(data) == set(cols), name
        for col, value in cols.items():
            js = data[col]
            if isinstance(value, list) and not value:  # empty: an empty array on the wire
                assert js["shape"] == [0] and js["values"] == [], (name, col)
            elif isinstance(value, list) and isinstance(value[0], np.ndarray):
                assert len(js) == len(value)  # a list of arrays (images, frames)
                for a, b in zip(js, value, strict=True):
                    assert a["dtype"] == b.dtype.name and a["shape"] == list(b.shape)
                    np.testing.assert_array_equal(np.array(a["values"]).reshape(b.shape), b)
            elif isinstance(value, np.ndarray):
                assert js["shape"] == list(value.shape), (name, col)
                np.testing.assert_array_equal(np.array(js["values"], dtype="f8"), value)
            else:
                assert js == list(value), (name, col)


@pytest.mark.parametrize("spec", [None, {"sources": {}}, {"layers": []}])
def test_js_refuses_a_widget_without_a_wire_description(spec, tmp_path):
    node = shutil.which("node")
    assert node, "node is needed for the front end (npm ci) and for this test"
    code = (
        f'import {{ wireSpec }} from "{(ROOT / "js" / "wire.js").as_uri()}";\n'
        f"try {{ wireSpec({{ get: () => ({json.dumps(spec)}) }}); console.log('accepted'); }}\n"
        "catch (e) { console.log(e.message); }\n"
    )
    (tmp_path / "check.mjs").write_text(code)
    out = subprocess.run(
        [node, str(tmp_path / "check.mjs")], capture_output=True, text=True, timeout=60, check=True
    )
    assert "no _wire description" in out.stdout
