"""Serve a built site on 127.0.0.1 with the standard library.

Like a static host configured for pre-compressed files (nginx ``gzip_static`` /
``brotli_static``, Caddy ``precompressed``), the server sends ``file.br`` or ``file.gz``
when the browser accepts that encoding and the copy exists (``liqwidget site build`` writes
them); ``precompressed=False`` serves every file as it is stored.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

#: Content encodings tried in order of preference, with the suffix of their copies.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


class _Handler(http.server.SimpleHTTPRequestHandler):
    precompressed = True

    def log_message(self, format, *args):
        pass

    def send_head(self):
        path = self.translate_path(self.path)
        accepted = {
            part.split(";")[0].strip()
            for part in self.headers.get("Accept-Encoding", "").split(",")
        }
        if self.precompressed and os.path.isfile(path):
            for encoding, suffix in ENCODINGS:
                if encoding in accepted and os.path.isfile(path + suffix):
                    return self._send_encoded(path, path + suffix, encoding)
        return super().send_head()

    def _send_encoded(self, path: str, copy: str, encoding: str):
        f = open(copy, "rb")  # closed by do_GET / do_HEAD, as for plain files
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(os.fstat(f.fileno()).st_size))
        self.send_header("Vary", "Accept-Encoding")
        self.end_headers()
        return f


def make_server(
    root: Path, port: int = 8000, host: str = "127.0.0.1", precompressed: bool = True
) -> http.server.ThreadingHTTPServer:
    """An HTTP server for ``root`` (``port=0`` picks a free port)."""
    root = Path(root)
    if not (root / "index.html").is_file():
        raise FileNotFoundError(
            f"{root} has no index.html; build the site first (liqwidget site build)"
        )
    handler_class = type("Handler", (_Handler,), {"precompressed": precompressed})
    handler = functools.partial(handler_class, directory=str(root))
    return http.server.ThreadingHTTPServer((host, port), handler)


def serve_in_thread(
    root: Path, port: int = 0, precompressed: bool = True
) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Start a server in a daemon thread; returns it and its base URL (call ``.shutdown()``)."""
    server = make_server(root, port, precompressed=precompressed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, real_port = server.server_address[:2]
    return server, f"http://{host}:{real_port}/"
