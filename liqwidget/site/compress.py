"""Pre-compressed copies of a built site's text files, for hosts that serve them as they are.

nginx (``gzip_static`` / ``brotli_static``), Caddy (``precompressed``) and most CDNs send
``page.html.gz`` or ``page.html.br`` to browsers that accept it instead of compressing on
every request. The copies are written next to each file; the originals stay for the others.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import brotli

from ..files import write_atomic

#: Text formats worth compressing (images are compressed already).
SUFFIXES = (".html", ".js", ".css", ".json", ".xml", ".svg", ".txt", ".map")
#: Brotli 9 gives all but a few per cent of 11 in a twentieth of the time.
BROTLI_QUALITY = 9
#: Smaller files fit in one network packet anyway.
MIN_BYTES = 1024


@dataclass(frozen=True)
class Compressed:
    """What compression saved: bytes of the originals and of their .gz / .br copies."""

    files: int
    raw: int
    gzip: int
    brotli: int


def compress_site(root: Path, cache_dir: Path | None = None) -> Compressed:
    """Write ``.gz`` and ``.br`` next to every compressible file of ``root``.

    With ``cache_dir``, compressed bytes are kept there under the content's digest, so a
    rebuild compresses only what changed (BokehJS and unchanged snapshots are reused).
    """
    files = raw = gz_total = br_total = 0
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix not in SUFFIXES or path.stat().st_size < MIN_BYTES:
            continue
        data = path.read_bytes()
        gz = _cached(data, "gz", lambda d: gzip.compress(d, compresslevel=9, mtime=0), cache_dir)
        br = _cached(data, "br", lambda d: brotli.compress(d, quality=BROTLI_QUALITY), cache_dir)
        path.with_name(path.name + ".gz").write_bytes(gz)
        path.with_name(path.name + ".br").write_bytes(br)
        files += 1
        raw += len(data)
        gz_total += len(gz)
        br_total += len(br)
    return Compressed(files, raw, gz_total, br_total)


def _cached(data: bytes, kind: str, compress, cache_dir: Path | None) -> bytes:
    if cache_dir is None:
        return compress(data)
    entry = cache_dir / f"{hashlib.sha256(data).hexdigest()[:32]}.{kind}"
    if entry.is_file():
        return entry.read_bytes()
    out = compress(data)
    write_atomic(entry, out)
    return out
