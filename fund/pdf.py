"""PDF documents with WeasyPrint, safely.

Callers build a *plain-data* context (dicts, lists, strings, numbers, Decimals, dates: no ORM objects, so a
template cannot wander through relationships), and :func:`render_pdf` renders a normal Jinja template (under
``templates/``, e.g. ``templates/pdf/`` or ``templates/<pkg>/pdf/``) to HTML and the HTML to PDF.

WeasyPrint's default URL fetcher reads any local file and any network URL, and ``<link rel=attachment>``
embeds what it fetched in the PDF. Here every resource goes through :class:`StaticOnlyFetcher`, which serves
only files inside the application's own ``fund/static`` directory and refuses every other ``file:`` path,
every network URL, ``data:`` URLs and so every attachment. Templates refer to assets relatively
(``<link rel="stylesheet" href="pdf/pdf.css">``): the document's base URL is the static directory.

Rendering runs in a child process (``python -m fund.pdf``: HTML on standard input, PDF on standard output) that
is killed after ``PDF_RENDER_TIMEOUT`` seconds (default 30), so a pathological document cannot hold a worker.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import subprocess
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


def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        """Serves the application's bundled static assets; refuses everything else."""

        def __init__(self, root: Path = STATIC_ROOT):
            super().__init__(allowed_protocols={"file"}, allow_redirects=False, fail_on_errors=False)
            self.root = root
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
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
    """Render HTML to PDF in this process (no time limit; :func:`render_pdf` adds one)."""
    from weasyprint import HTML

    fetcher = StaticOnlyFetcher(root)
    return HTML(string=html, base_url=root.as_uri() + "/", url_fetcher=fetcher).write_pdf()


def html_to_pdf_bounded(html: str, timeout: float, root: Path = STATIC_ROOT) -> bytes:
    """Render in a child process (``python -m fund.pdf``); kill it and raise :class:`PdfError` after
    ``timeout`` seconds."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "fund.pdf", str(root)],
            input=html.encode("utf-8"), capture_output=True, timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise PdfError(f"PDF rendering took longer than {timeout:g} s and was stopped") from exc
    if done.returncode != 0 or not done.stdout.startswith(b"%PDF-"):
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise PdfError(f"PDF rendering failed: {detail[0][:300]}")
    return done.stdout


def render_pdf(template: str, context: dict, *, timeout: float | None = None) -> bytes:
    """Render ``template`` with the plain-data ``context`` to PDF bytes, within the configured time limit."""
    check_plain(context)
    html = render_template(template, **context)
    if timeout is None:
        timeout = float(current_app.config.get("PDF_RENDER_TIMEOUT", os.environ.get("PDF_RENDER_TIMEOUT", 30)))
    return html_to_pdf_bounded(html, timeout)


def _main() -> None:
    root = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else STATIC_ROOT
    html = sys.stdin.buffer.read().decode("utf-8")
    sys.stdout.buffer.write(html_to_pdf(html, root))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    _main()
