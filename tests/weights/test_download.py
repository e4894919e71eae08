"""Downloads: atomic, verified, with host fallback and a clear offline error."""

import hashlib

import pytest

from keras_nonlocal.weights import WeightsDownloadError
from keras_nonlocal.weights.download import download
from keras_nonlocal.weights.download import fetch
from tests.weights import helpers


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
