// The front half of the widget's wire format (liqwidget/widget/wire.py): the one decoder of
// the binary array codec, and the trait → data source map and layer names, which come from
// the model's `_wire` trait rather than being kept here.

const BYTES = { uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, float64: 8 };

function bytesOf(data) {
  // ipywidgets hands binary buffers over as DataView; copy into an aligned ArrayBuffer.
  if (data instanceof DataView) return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  if (ArrayBuffer.isView(data)) return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  return data;
}

/** One column from the wire: `{dtype, shape, nested, data}` becomes BokehJS ndarray(s). */
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

/** The wire description the kernel declared: `{sources: {trait: source name}, layers: [...]}`. */
export function wireSpec(model) {
  const spec = model.get("_wire");
  if (spec?.sources == null || !Array.isArray(spec.layers)) {
    throw new Error("the widget has no _wire description; is the kernel's liqwidget up to date?");
  }
  return spec;
}

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
