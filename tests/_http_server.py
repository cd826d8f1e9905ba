"""A real HTTP server on 127.0.0.1 for the download tests (no outside network).

``serve(folder)`` serves the files under ``folder`` on a free port, in a
thread, and records every requested path; ``dead_url()`` is the base URL of
a port nobody listens on, so connecting to it is refused at once.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator


@dataclass
class Server:
    """A running server: its base URL (ending in ``/``) and the paths requested so far."""

    url: str
    requests: list[str] = field(default_factory=list)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files from a folder, records each request, prints nothing."""

    def __init__(self, *args, requests: list[str], **kwargs):
        self._requests = requests
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 (the name http.server expects)
        self._requests.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve(folder: str | Path) -> Iterator[Server]:
    """Serve ``folder`` over HTTP on 127.0.0.1 (port chosen by the OS) while the block runs."""
    requests: list[str] = []
    handler = functools.partial(_QuietHandler, directory=str(folder), requests=requests)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(url=f"http://127.0.0.1:{httpd.server_address[1]}/", requests=requests)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def dead_url() -> str:
    """Base URL of a port on 127.0.0.1 that was free a moment ago and has no listener."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
