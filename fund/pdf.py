"""PDF documents with WeasyPrint, safely.

Callers build a *plain-data* context (dicts, lists, strings, numbers, Decimals, dates: no ORM objects, so a
template cannot wander through relationships), and :func:`render_pdf` renders a normal Jinja template (under
``templates/``, e.g. ``templates/pdf/`` or ``templates/<pkg>/pdf/``) to HTML and the HTML to PDF.

WeasyPrint's default URL fetcher reads any local file and any network URL, and ``<link rel=attachment>``
embeds what it fetched in the PDF. Here every resource goes through :class:`StaticOnlyFetcher`, which serves
only files inside the application's own ``fund/static`` directory and refuses every other ``file:`` path,
every network URL and every ``data:`` URL except an inline PNG image (a QR code drawn by the application: a PNG
cannot refer to anything else). Attachments are dropped from the rendered document before it is written, so
nothing, not even a bundled asset, is ever embedded as a file. Templates refer to assets relatively
(``<link rel="stylesheet" href="pdf/pdf.css">``): the document's base URL is the static directory.

Rendering runs in a child process that is killed after ``PDF_RENDER_TIMEOUT`` seconds (default 30) and whose
address space is limited to ``PDF_RENDER_MEMORY_MB`` (default 1024), so a pathological document can hold
neither a worker nor the machine. Children are forked from a renderer server (multiprocessing's forkserver, with
WeasyPrint imported once), not started afresh: a fresh Python with WeasyPrint costs about 0.6 s per document.
``python -m fund.pdf`` (HTML on standard input, PDF on standard output) renders from the command line.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template

STATIC_ROOT = (Path(__file__).resolve().parent / "static").resolve()

_CONTENT_TYPES = {
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}


#: The largest inline PNG (``data:image/png;base64,...``) served, decoded.
MAX_INLINE_PNG = 256 * 1024
_PNG_PREFIX = "data:image/png;base64,"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PdfError(RuntimeError):
    """The PDF could not be produced (refused context, rendering failure or time limit)."""


_PLAIN = (str, int, bool, decimal.Decimal, dt.date, dt.datetime, type(None))


def check_plain(value: Any, path: str = "context") -> None:
    """Refuse anything but plain data (so no ORM object, with its lazy relationships, reaches a template)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise PdfError(f"{path}: keys must be strings")
            check_plain(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            check_plain(v, f"{path}[{i}]")
    elif isinstance(value, float):
        raise PdfError(f"{path}: floats are not allowed (use Decimal)")
    elif not isinstance(value, _PLAIN):
        raise PdfError(f"{path}: {type(value).__name__} is not plain data")


def static_path_for(url: str, root: Path = STATIC_ROOT) -> Path | None:
    """The file inside ``root`` that a ``file:`` URL names, or None if it names anything else."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    try:
        path = Path(unquote(parts.path)).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if path != root and root not in path.parents:
        return None
    if not path.is_file() or path.suffix.lower() not in _CONTENT_TYPES:
        return None
    return path


def inline_png(url: str) -> bytes | None:
    """The image of a ``data:image/png;base64,`` URL (at most :data:`MAX_INLINE_PNG` bytes, a real PNG), or
    None for any other URL."""
    if not url.startswith(_PNG_PREFIX) or len(url) > len(_PNG_PREFIX) + MAX_INLINE_PNG * 4 // 3 + 4:
        return None
    try:
        data = base64.b64decode(url[len(_PNG_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        return None
    if not data.startswith(_PNG_SIGNATURE) or len(data) > MAX_INLINE_PNG:
        return None
    return data


def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        """Serves the application's bundled static assets; refuses everything else."""

        def __init__(self, root: Path = STATIC_ROOT):
            super().__init__(allowed_protocols={"file"}, allow_redirects=False, fail_on_errors=False)
            self.root = root
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            png = inline_png(url)
            if png is not None:
                return URLFetcherResponse(url[:64], body=png, headers={"Content-Type": "image/png"})
            path = static_path_for(url, self.root)
            if path is None:
                self.refused.append(url[:200])
                raise ValueError(f"resource refused: {url[:200]}")
            return URLFetcherResponse(
                path.as_uri(), body=path.read_bytes(),
                headers={"Content-Type": _CONTENT_TYPES[path.suffix.lower()]},
            )

    return StaticOnlyFetcher


def StaticOnlyFetcher(root: Path = STATIC_ROOT):  # noqa: N802  (a factory standing in for the class)
    return _fetcher_class()(root)


def html_to_pdf(html: str, root: Path = STATIC_ROOT) -> bytes:
    """Render HTML to PDF in this process (no time or memory limit; :func:`render_pdf` adds them). Attachments
    (``<link rel=attachment>``, ``<a rel=attachment>``) are dropped before the PDF is written."""
    from weasyprint import HTML

    fetcher = StaticOnlyFetcher(root)
    document = HTML(string=html, base_url=root.as_uri() + "/", url_fetcher=fetcher).render()
    document.metadata.attachments = []
    for page in document.pages:
        page.links = [link for link in page.links if link[0] != "attachment"]
    return document.write_pdf()


DEFAULT_MEMORY_MB = 1024

#: The process that forks renderers: started once per application process, with WeasyPrint already imported, so
#: that a rendering does not pay for starting Python and importing WeasyPrint (about 0.6 s) every time.
_renderers = None


def _renderer_context():
    global _renderers
    if _renderers is None:
        import multiprocessing

        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["fund.pdf", "weasyprint", "fund.pdf_renderer"])
        _renderers = context
    return _renderers


def _render_child(conn, html: str, root: str, memory_mb: int | None) -> None:
    """A forked renderer: limit the address space, render, send b"OK" + peak RSS (KiB, 8 bytes) + the PDF."""
    import resource

    try:
        if memory_mb:
            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        pdf = html_to_pdf(html, Path(root))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        conn.send_bytes(b"OK" + peak.to_bytes(8, "big") + pdf)
    except MemoryError:
        conn.send_bytes(b"MEMORY")
    except BaseException as exc:  # reported to the parent, which raises PdfError
        conn.send_bytes(b"ERROR" + f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")[:300])
    finally:
        conn.close()


def html_to_pdf_bounded(html: str, timeout: float, root: Path = STATIC_ROOT,
                        memory_mb: int | None = DEFAULT_MEMORY_MB, stats: dict | None = None) -> bytes:
    """Render in a child process, forked from a renderer server that has WeasyPrint loaded, with its address
    space limited to ``memory_mb`` MiB; kill it and raise :class:`PdfError` after ``timeout`` seconds or when it
    runs out of memory. ``stats``, when given, receives the child's peak RSS (``peak_rss_mib``)."""
    context = _renderer_context()
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_render_child, args=(sender, html, str(root), memory_mb), daemon=True)
    try:
        try:
            child.start()
        except (OSError, EOFError, ValueError) as exc:
            raise PdfError(f"PDF renderer could not be started: {exc}") from exc
        sender.close()
        if not receiver.poll(timeout):
            raise PdfError(f"PDF rendering took longer than {timeout:g} s and was stopped")
        try:
            data = receiver.recv_bytes()
        except EOFError:  # the child died without a word: killed by the kernel, or a crash out of memory
            limit = f" (it may have needed more than {memory_mb} MiB)" if memory_mb else ""
            raise PdfError(f"PDF rendering stopped unexpectedly{limit}") from None
    finally:
        receiver.close()
        sender.close()
        if child.pid is not None:
            if child.is_alive():
                child.kill()
            child.join(5)
    if data.startswith(b"OK"):
        if stats is not None:
            stats["peak_rss_mib"] = int.from_bytes(data[2:10], "big") / 1024
        return data[10:]
    if data == b"MEMORY":
        raise PdfError(f"PDF rendering needed more than {memory_mb} MiB and was stopped")
    raise PdfError(f"PDF rendering failed: {data[5:].decode('utf-8', 'replace')}")


def render_html(template: str, context: dict) -> str:
    """The HTML of ``template`` with the plain-data ``context`` (refused unless plain), before PDF rendering."""
    check_plain(context)
    return render_template(template, **context)


def pdf_limits() -> tuple[float, int]:
    """(seconds, MiB) allowed to one rendering: ``PDF_RENDER_TIMEOUT`` and ``PDF_RENDER_MEMORY_MB``."""
    config = current_app.config
    # ok-float: a time limit in seconds, not money
    timeout = float(config.get("PDF_RENDER_TIMEOUT", os.environ.get("PDF_RENDER_TIMEOUT", 30)))  # ok-float
    memory = int(config.get("PDF_RENDER_MEMORY_MB", os.environ.get("PDF_RENDER_MEMORY_MB", DEFAULT_MEMORY_MB)))
    return timeout, memory


def render_pdf(template: str, context: dict, *, timeout: float | None = None) -> bytes:
    """Render ``template`` with the plain-data ``context`` to PDF bytes, within the configured time and memory
    limits."""
    html = render_html(template, context)
    default_timeout, memory = pdf_limits()
    return html_to_pdf_bounded(html, default_timeout if timeout is None else timeout, memory_mb=memory)


def _limit_memory() -> None:
    megabytes = int(os.environ.get("FUND_PDF_MEMORY_MB") or 0)
    if megabytes > 0:
        import resource

        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _main() -> None:
    _limit_memory()
    root = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else STATIC_ROOT
    html = sys.stdin.buffer.read().decode("utf-8")
    sys.stdout.buffer.write(html_to_pdf(html, root))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    _main()
