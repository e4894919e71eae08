"""Downloads: atomic, verified, with host fallback and a clear offline error;
nothing left behind by killed downloads; bad URLs refused before any transfer."""

import hashlib
import http.server
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from keras_nonlocal.weights import WeightsDownloadError
from keras_nonlocal.weights.download import download
from keras_nonlocal.weights.download import fetch
from keras_nonlocal.weights.download import fetch_url
from tests.weights import helpers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _serve(server, name, data=b"x" * 5000):
    with open(server.path(name), "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


def test_download_writes_the_file_and_returns_its_hash(server, tmp_path, capsys):
    digest = _serve(server, "a.pkl")
    dest = tmp_path / "cache" / "a.pkl"
    assert download(server.base_url + "a.pkl", str(dest), progress=True) == digest
    assert dest.read_bytes() == b"x" * 5000
    assert "Downloading" in capsys.readouterr().err
    assert helpers.file_paths(tmp_path / "cache") == [str(dest)]


def test_interrupted_transfer_leaves_nothing(server, tmp_path):
    _serve(server, "a.pkl")
    server.broken.add("a.pkl")
    cache = tmp_path / "cache"
    with pytest.raises(WeightsDownloadError, match="transfer interrupted"):
        fetch("a.pkl", [server.base_url], str(cache / "a.pkl"), progress=False)
    assert helpers.file_paths(cache) == []


def test_hash_mismatch_leaves_nothing(server, tmp_path):
    _serve(server, "a.pkl")
    cache = tmp_path / "cache"
    with pytest.raises(WeightsDownloadError, match="SHA-256 mismatch"):
        fetch("a.pkl", [server.base_url], str(cache / "a.pkl"), sha256="0" * 64, progress=False)
    assert helpers.file_paths(cache) == []


def test_second_host_is_tried_when_the_first_fails(server, tmp_path, dead_url):
    digest = _serve(server, "a.pkl")
    url, sha = fetch("a.pkl", [dead_url, server.base_url], str(tmp_path / "a.pkl"), progress=False)
    assert url == server.base_url + "a.pkl" and sha == digest


def test_offline_error_names_every_url_and_the_manual_path(tmp_path, dead_url, server):
    dest = tmp_path / "cache" / "a.pkl"
    with pytest.raises(WeightsDownloadError) as info:
        fetch("a.pkl", [dead_url, server.base_url], str(dest), progress=False,
              manual_hint='pass weights="/path/a.pkl"')
    message = str(info.value)
    assert dead_url + "a.pkl: unreachable" in message
    assert server.base_url + "a.pkl: HTTP 404" in message
    assert str(dest) in message and 'weights="/path/a.pkl"' in message
    assert info.value.cache_path == str(dest)
    assert not dest.parent.exists() or helpers.file_paths(dest.parent) == []


def test_hash_mismatch_does_not_blame_the_network(server, tmp_path):
    _serve(server, "a.pkl")
    with pytest.raises(WeightsDownloadError) as info:
        fetch("a.pkl", [server.base_url], str(tmp_path / "a.pkl"), sha256="0" * 64,
              progress=False)
    message = str(info.value)
    assert "SHA-256 mismatch" in message and "differs from the expected SHA-256" in message
    assert "offline" not in message and "unreachable" not in message


def test_unsupported_scheme_is_named_before_any_transfer(tmp_path):
    from keras_nonlocal.weights import validate_weights_argument

    for call in (
        lambda: download("ftp://127.0.0.1/a.pkl", str(tmp_path / "a.pkl")),
        lambda: fetch_url("ftp://127.0.0.1/a.pkl", str(tmp_path / "a.pkl")),
        lambda: validate_weights_argument("ftp://127.0.0.1/a.pkl"),
    ):
        with pytest.raises(ValueError, match="Unsupported URL scheme 'ftp'") as info:
            call()
        assert "no such file" not in str(info.value)
    assert helpers.file_paths(tmp_path) == []


def test_builders_refuse_an_ftp_url_before_building():
    from keras_nonlocal.applications import get_model

    with pytest.raises(ValueError, match="Unsupported URL scheme 'ftp'"):
        get_model("c2d_r50", weights="ftp://127.0.0.1/c2d.weights.h5", include_top=False)


def test_url_whose_name_is_not_a_checkpoint_is_refused_before_downloading(server, tmp_path):
    _serve(server, "notes.txt", b"x" * 100_000)
    url = server.base_url + "notes.txt"
    with pytest.raises(ValueError, match=r"'notes.txt' should end in '.pkl' or '.weights.h5'"):
        fetch_url(url, str(tmp_path / "cache" / "notes.txt"))
    from keras_nonlocal.weights import validate_weights_argument

    with pytest.raises(ValueError, match="Nothing was downloaded"):
        validate_weights_argument(url)
    assert server.count() == 0
    assert not (tmp_path / "cache").exists()


def test_cache_files_follow_the_umask(server, keras_home, tmp_path):
    from keras_nonlocal.weights import cache

    _serve(server, "a.pkl")
    dest = str(tmp_path / "cache" / "a.pkl")
    old = os.umask(0o022)
    try:
        download(server.base_url + "a.pkl", dest, progress=False)
        cache.write_record(dest, source="a.pkl")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(cache.record_path(dest)).st_mode) == 0o644
    old = os.umask(0o077)
    try:
        download(server.base_url + "a.pkl", dest, progress=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600


def test_a_live_writers_part_is_left_alone_and_a_dead_ones_removed(tmp_path):
    from keras_nonlocal.weights import cache

    dest = str(tmp_path / "a.pkl")
    fd, part = cache.create_part(dest)
    assert os.path.basename(part).startswith(f".a.pkl.{os.getpid()}-")
    assert cache.remove_stale_parts(dest) == [] and os.path.exists(part)
    os.close(fd)  # the writer is gone: its lock is free
    assert cache.remove_stale_parts(dest) == [part] and not os.path.exists(part)


# ----------------------------------------------- killed download processes


class _SlowServer:
    """Serves one large file in small, slow chunks on 127.0.0.1."""

    def __init__(self, data, chunk=16384, delay=0.02):
        self.data, self.chunk, self.delay = data, chunk, delay
        self.slow = True
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.data)))
                self.end_headers()
                try:
                    for start in range(0, len(outer.data), outer.chunk):
                        self.wfile.write(outer.data[start:start + outer.chunk])
                        if outer.slow:
                            time.sleep(outer.delay)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/big.pkl"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


_CHILD = """
import sys
from keras_nonlocal.command_line import Terminated, sigterm_as_interrupt
from keras_nonlocal.weights.download import download
if sys.argv[3] == "cleanup":
    try:
        with sigterm_as_interrupt():  # as keras_nonlocal.cli runs every command
            download(sys.argv[1], sys.argv[2], progress=False)
    except Terminated as stop:
        sys.exit(128 + stop.signum)
else:
    download(sys.argv[1], sys.argv[2], progress=False)
"""


def _parts(directory):
    return sorted(p for p in os.listdir(directory) if p.endswith(".part"))


def _start_child(url, dest, mode):
    env = dict(os.environ, PYTHONPATH=ROOT)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, url, dest, mode], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    directory = os.path.dirname(dest)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and child.poll() is None:
        parts = _parts(directory) if os.path.isdir(directory) else []
        if parts and os.path.getsize(os.path.join(directory, parts[0])) > 0:
            return child, os.path.join(directory, parts[0])
        time.sleep(0.1)
    child.kill()
    raise AssertionError(f"the child never started downloading: {child.stderr.read()}")


@pytest.fixture
def slow_server():
    data = np.random.default_rng(0).bytes(4 << 20)
    srv = _SlowServer(data)
    yield srv
    srv.close()


@pytest.mark.timeout(600)
def test_a_killed_download_leaves_no_stale_part_for_the_next_one(slow_server, tmp_path):
    from keras_nonlocal.weights import cache

    dest = str(tmp_path / "cache" / "big.pkl")
    child, part = _start_child(slow_server.url, dest, "plain")
    try:
        # While the child lives, a second download's cleanup leaves its part.
        assert cache.remove_stale_parts(dest) == [] and os.path.exists(part)
        assert str(child.pid) in os.path.basename(part)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert _parts(os.path.dirname(dest)) == [os.path.basename(part)]  # what SIGKILL leaves
    slow_server.slow = False
    digest = download(slow_server.url, dest, progress=False)
    assert digest == hashlib.sha256(slow_server.data).hexdigest()
    assert _parts(os.path.dirname(dest)) == []
    assert helpers.file_paths(os.path.dirname(dest)) == [dest]


@pytest.mark.timeout(600)
def test_sigterm_cleans_up_when_the_command_line_asks(slow_server, tmp_path):
    dest = str(tmp_path / "cache" / "big.pkl")
    child, part = _start_child(slow_server.url, dest, "cleanup")
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=120) == 128 + signal.SIGTERM
    assert not os.path.exists(part) and not os.path.exists(dest)
    assert _parts(os.path.dirname(dest)) == []


def test_a_failed_download_says_it_in_two_lines(tmp_path, dead_url, server):
    # The command line prints a user error as one or two lines.
    with pytest.raises(WeightsDownloadError) as info:
        fetch("a.pkl", [dead_url, server.base_url], str(tmp_path / "a.pkl"), progress=False)
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Could not download 'a.pkl': tried ")
    assert str(tmp_path / "a.pkl") in lines[1]
