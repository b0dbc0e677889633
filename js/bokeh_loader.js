// Load BokehJS once per page, exactly the kernel's version, without touching the network:
// the kernel sends the files shipped inside its `bokeh` package in answer to one widget
// command (anywidget's experimental invoke; see liqwidget/widget/protocol.py).

const COMMAND = "_bokehjs";
const pending = (globalThis.__liqwidget_bokehjs ??= {});

function loaded(version) {
  const bk = globalThis.Bokeh?.[version];
  return bk != null && bk.Widgets != null ? bk : null;
}

function toText(buffer) {
  const view = buffer instanceof DataView ? buffer : new DataView(buffer.buffer ?? buffer);
  return new TextDecoder().decode(
    new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
  );
}

function runScript(code) {
  const script = document.createElement("script");
  script.textContent = code;
  document.head.appendChild(script);
  script.remove();
}

async function request(invoke, version, timeoutMs) {
  let reply, buffers;
  try {
    [reply, buffers] = await invoke(COMMAND, { version }, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    if (err?.name !== "TimeoutError") throw err;
    throw new Error(`no BokehJS ${version} from the kernel after ${timeoutMs / 1000} s; is the kernel running?`, {
      cause: err,
    });
  }
  if (reply?.version !== version) {
    throw new Error(`kernel sent BokehJS ${reply?.version}, expected ${version}`);
  }
  if (!loaded(version)) for (const b of buffers) runScript(toText(b));
  const bk = loaded(version);
  if (!bk) throw new Error(`BokehJS ${version} did not register itself`);
  return bk;
}

/** Resolve to the BokehJS object of `version`, asking the kernel (`invoke`) when absent. */
export function ensureBokeh(invoke, version, timeoutMs = 120000) {
  const ready = loaded(version);
  if (ready) return Promise.resolve(ready);
  if (typeof invoke !== "function") {
    return Promise.reject(new Error("this notebook front end lacks anywidget's experimental.invoke (anywidget >= 0.9.10)"));
  }
  pending[version] ??= request(invoke, version, timeoutMs).catch((err) => {
    delete pending[version];
    throw err;
  });
  return pending[version];
}
