// Turn the widget's binary data traits into BokehJS column data (see liqwidget/widget/wire.py).

const BYTES = { uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, float64: 8 };

function bytesOf(data) {
  // ipywidgets hands binary buffers over as DataView; copy into an aligned ArrayBuffer.
  if (data instanceof DataView) return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  if (ArrayBuffer.isView(data)) return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  return data;
}

export function decodeColumn(Bokeh, spec) {
  if (Array.isArray(spec) || spec == null || spec.dtype == null) return spec;
  const { ndarray } = Bokeh.require("core/util/ndarray");
  const { dtype, shape, nested } = spec;
  const buf = bytesOf(spec.data);
  if (!nested) return ndarray(buf, { dtype, shape });
  const inner = shape.slice(1);
  const size = inner.reduce((a, b) => a * b, 1) * BYTES[dtype];
  return Array.from({ length: shape[0] }, (_, k) =>
    ndarray(buf.slice(k * size, (k + 1) * size), { dtype, shape: inner }),
  );
}

/** Widget trait → figure data source (see liqwidget/widget/wire.py). */
export const SOURCE_TRAITS = {
  _clusters: "clusters-source",
  _real: "real-source",
  _price: "price-source",
  _events: "events-source",
  _levels: "levels-source",
  _frames: "levels-frames",
};

/** Put one source's binary columns into the named ColumnDataSource. */
export function applySource(Bokeh, doc, name, cols) {
  const source = doc.get_model_by_name(name);
  if (source == null) throw new Error(`no data source named ${name} in the figure`);
  const data = {};
  for (const [col, spec] of Object.entries(cols)) data[col] = decodeColumn(Bokeh, spec);
  source.data = data;
}

/** Set scalar properties of named models (only those that differ). */
export function applyProps(doc, allProps) {
  for (const [name, props] of Object.entries(allProps ?? {})) {
    const m = doc.get_model_by_name(name);
    if (m == null) throw new Error(`no model named ${name} in the figure`);
    const changed = {};
    for (const [k, v] of Object.entries(props)) if (m[k] !== v) changed[k] = v;
    if (Object.keys(changed).length) m.setv(changed);
  }
}
