"""A small HTTP server on 127.0.0.1 for download tests and the full-mode rehearsal.

It serves a folder (any file under it, by its relative path) and, on top of it,
routes set by a test: a body with a chosen status, Content-Type and
Content-Length (which may lie or be nonsense), extra bytes after the body, a
transfer cut after N bytes, or sent slowly. Every request path is logged, so a
test can count downloads.

In a test, use the ``local_server`` fixture (import it into the test module)::

    def test_x(local_server):
        local_server.route("/a.tgz", b"...", cut_after=10)
        url = local_server.url + "/a.tgz"

From a shell (the rehearsal): ``python tests/http_server.py FOLDER [--port N]``.
``write_registry_json(folder, {"pets": "oxford-iiit-pet.tgz", ...})`` makes the
folder a mirror that vouches for its own files (see data/README.md, Mirrors).
"""
from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

BLOCK = 64 * 1024
ERROR_PAGE = b"<!DOCTYPE html><html><body><h1>Sorry</h1>Please sign in to continue.</body></html>"


@dataclass
class Route:
    """What the server answers for one path."""

    body: bytes
    status: int = 200
    content_type: str = "application/octet-stream"
    content_length: str | None = "auto"  # "auto": the true length; None: no header; else sent as is
    extra: bytes = b""                   # sent after the body (a server that sends too much)
    cut_after: int | None = None         # hang up after this many bytes of the body
    seconds: float = 0.0                 # spread the body over this long (a slow server)
    stall: float = 0.0                   # wait this long after the headers (a stalled server)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the connection closes after each reply, as a cut transfer needs

    def do_GET(self) -> None:
        server: LocalServer = self.server.owner
        server.log.append(self.path)
        route = server.routes.get(self.path) or server.from_folder(self.path)
        if route is None:
            route = Route(ERROR_PAGE, status=404, content_type="text/html")
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        length = str(len(route.body)) if route.content_length == "auto" else route.content_length
        if length is not None:
            self.send_header("Content-Length", length)
        self.end_headers()
        time.sleep(route.stall)
        body = route.body if route.cut_after is None else route.body[: route.cut_after]
        blocks = [body[i: i + BLOCK] for i in range(0, len(body), BLOCK)] + [route.extra]
        try:
            for block in blocks:
                self.wfile.write(block)
                self.wfile.flush()
                time.sleep(route.seconds / len(blocks))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up: the tests of limits and deadlines do that on purpose

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) serving ``folder`` and ``routes``."""

    def __init__(self, folder: str | Path | None = None, port: int = 0) -> None:
        self.folder = Path(folder).resolve() if folder is not None else None
        self.routes: dict[str, Route] = {}
        self.log: list[str] = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.owner = self
        self.httpd.daemon_threads, self.httpd.block_on_close = True, False  # never wait for a slow reply
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def route(self, path: str, body: bytes, **how: object) -> str:
        """Answer ``path`` (e.g. "/files/a.tgz") with ``body`` as ``how`` says; return its URL."""
        self.routes[path] = Route(body, **how)
        return self.url + path

    def from_folder(self, path: str) -> Route | None:
        """The file ``path`` names under the folder, or None (never a file outside it)."""
        if self.folder is None:
            return None
        file = (self.folder / path.split("?")[0].lstrip("/")).resolve()
        if not file.is_file() or self.folder not in file.parents:
            return None
        return Route(file.read_bytes())

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def write_registry_json(folder: str | Path, files: dict[str, str]) -> Path:
    """Write ``folder/registry.json`` giving each name's file (relative to ``folder``), size and SHA-256."""
    folder = Path(folder)
    listing = {name: {"file": file, "size": (folder / file).stat().st_size,
                      "sha256": hashlib.sha256((folder / file).read_bytes()).hexdigest()}
               for name, file in files.items()}
    (folder / "registry.json").write_text(json.dumps(listing, indent=1, sort_keys=True))
    return folder / "registry.json"


@pytest.fixture
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A running ``LocalServer`` serving a new empty folder (its ``folder``), apart from ``tmp_path``."""
    with LocalServer(tmp_path_factory.mktemp("served")) as server:
        yield server


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a folder on 127.0.0.1 until stopped.")
    parser.add_argument("folder")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    args = parser.parse_args()
    with LocalServer(args.folder, args.port) as server:
        print(server.url, flush=True)
        server.thread.join()


if __name__ == "__main__":
    main()
