// Load BokehJS once per page, exactly the kernel's version, without touching the network:
// the kernel sends the files shipped inside its `bokeh` package over the widget comm.

const REQUEST = "liqwidget:bokehjs-request";
const REPLY = "liqwidget:bokehjs";
const pending = (globalThis.__liqwidget_bokehjs ??= {});

function loaded(version) {
  const B = globalThis.Bokeh;
  const bk = B?.[version];
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

/** Resolve to the BokehJS object of `version`, asking the kernel for it when absent. */
export function ensureBokeh(model, version, timeoutMs = 120000) {
  const ready = loaded(version);
  if (ready) return Promise.resolve(ready);
  if (pending[version]) return pending[version];
  pending[version] = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      delete pending[version];
      reject(new Error(`no BokehJS ${version} from the kernel after ${timeoutMs / 1000} s; is the kernel running?`));
    }, timeoutMs);
    const onMsg = (msg, buffers) => {
      if (msg?.type !== REPLY) return;
      model.off("msg:custom", onMsg);
      clearTimeout(timer);
      try {
        if (msg.version !== version) {
          throw new Error(`kernel sent BokehJS ${msg.version}, expected ${version}`);
        }
        if (!loaded(version)) for (const b of buffers) runScript(toText(b));
        const bk = loaded(version);
        if (!bk) throw new Error(`BokehJS ${version} did not register itself`);
        resolve(bk);
      } catch (err) {
        delete pending[version];
        reject(err);
      }
    };
    model.on("msg:custom", onMsg);
    model.send({ type: REQUEST });
  });
  return pending[version];
}
