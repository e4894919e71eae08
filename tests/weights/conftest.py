"""Fixtures: an isolated Keras home and a local HTTP server on 127.0.0.1."""

import http.server
import os
import threading

import pytest

from keras_nonlocal.weights import sources


class _Server:
    def __init__(self, root):
        self.root = str(root)
        self.requests = []  # request paths, in order
        self.broken = set()  # file names sent with a too-large Content-Length
        self.missing = set()  # file names answered with 404
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.path)
                name = self.path.rsplit("/", 1)[-1]
                path = os.path.join(server.root, name)
                if name in server.missing or not os.path.isfile(path):
                    self.send_error(404)
                    return
                with open(path, "rb") as f:
                    data = f.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if name in server.broken:
                    # Announce everything, send half, hang up.
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self):
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/video-nonlocal/"

    def path(self, name):
        return os.path.join(self.root, name)

    def count(self, name=None):
        return len([r for r in self.requests if name is None or r.endswith("/" + name)])

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(autouse=True)
def _never_reach_the_real_hosts(tmp_path, monkeypatch):
    # No test may download from the real hosts or write to the real cache.
    monkeypatch.setenv(sources.BASE_URLS_ENV, "http://127.0.0.1:9/unreachable/")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "default_keras_home"))


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


@pytest.fixture
def server(tmp_path, monkeypatch):
    root = tmp_path / "served"
    root.mkdir()
    srv = _Server(root)
    monkeypatch.setenv(sources.BASE_URLS_ENV, srv.base_url)
    yield srv
    srv.close()


@pytest.fixture
def dead_url():
    """A base URL on 127.0.0.1 where nothing listens."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/video-nonlocal/"
