"""Downloading into the cache: atomically, verified, with host fallback.

A download streams into a temporary file in the destination directory and is
moved into place with `os.replace` only once every byte announced by the
server has arrived and the SHA-256 (when known) matches. An interrupted,
truncated or corrupted transfer therefore never leaves a file that a later run
would trust.
"""

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request

from keras_nonlocal.weights import cache as _cache

_CHUNK = 1 << 20


class WeightsDownloadError(OSError):
    """No host delivered a file.

    Attributes:
        file_name: the file that was wanted.
        failures: list of `(url, reason)`, one per URL tried.
        cache_path: where the file is expected in the cache, so that it can be
            placed there by hand.
    """

    def __init__(self, file_name, failures, cache_path, manual_hint=None):
        self.file_name = file_name
        self.failures = list(failures)
        self.cache_path = cache_path
        lines = [f"Could not download {file_name!r}. Tried:"]
        lines += [f"  {url}: {reason}" for url, reason in self.failures]
        lines.append(
            "If this machine is offline or the host is unreachable, download "
            "the file elsewhere and place it by hand at\n"
            f"  {cache_path}\n"
            "(set KERAS_HOME to move the cache)"
            + (f", or {manual_hint}" if manual_hint else "")
            + "."
        )
        super().__init__("\n".join(lines))


class _Progress:
    # `keras.utils.Progbar` when Keras is importable (it always is for this
    # package), a plain counter otherwise.
    def __init__(self, total, enabled, label):
        self.bar = None
        self.seen = 0
        if not enabled:
            return
        print(f"Downloading {label}", file=sys.stderr)
        import keras

        self.bar = keras.utils.Progbar(total, unit_name="bytes")

    def update(self, n):
        self.seen += n
        if self.bar is not None:
            self.bar.update(self.seen)


def download(url, path, sha256=None, progress=True, timeout=60):
    """Downloads one URL to `path`, atomically.

    Args:
        url: an `http(s)://` or `file://` URL.
        path: the destination; its directory is created.
        sha256: the expected SHA-256 (hex), or `None` to skip the check.
        progress: show a progress bar.
        timeout: socket timeout in seconds.

    Returns:
        The SHA-256 of the downloaded file.

    Raises:
        urllib.error.URLError, OSError: the transfer failed (nothing is left
            at `path` nor in its directory).
        ValueError: the hash does not match (nothing is left either).

    Example:

    >>> download("https://dl.fbaipublicfiles.com/video-nonlocal/"
    ...          "c2d_baseline_8x8_IN_pretrain_400k.pkl", "c2d.pkl")  # doctest: +SKIP
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".part"
    )
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                length = response.headers.get("Content-Length")
                length = int(length) if length and length.isdigit() else None
                bar = _Progress(length, progress, url)
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
            if length is not None and bar.seen != length:
                raise http.client.IncompleteRead(b"", length - bar.seen)
        actual = digest.hexdigest()
        if sha256 is not None and actual != sha256.lower():
            raise ValueError(
                f"SHA-256 mismatch for {url}: expected {sha256.lower()}, got {actual}."
            )
        os.replace(tmp, path)
        return actual
    finally:
        # Gone after os.replace; removed after any failure or interrupt.
        _cache._remove(tmp)


def _reason(error):
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"unreachable ({error.reason})"
    if isinstance(error, http.client.IncompleteRead):
        return (
            f"transfer interrupted ({error.expected} bytes missing of the "
            "announced length)"
        )
    return f"{type(error).__name__}: {error}"


def fetch(file_name, base_urls, path, sha256=None, progress=True, timeout=60, manual_hint=None):
    """Downloads `file_name` from the first host that delivers it intact.

    Args:
        file_name: the name appended to each base URL.
        base_urls: base URLs (ending with `/`), tried in order.
        path: destination in the cache.
        sha256: expected SHA-256, or `None`.
        progress: show a progress bar.
        timeout: socket timeout per attempt, in seconds.
        manual_hint: what else the user can do, for the error message.

    Returns:
        `(url, sha256)` of the successful download.

    Raises:
        WeightsDownloadError: every host failed; names each URL and why, and
            the cache path where the file can be placed by hand.

    Example:

    >>> fetch("c2d_baseline_8x8_IN_pretrain_400k.pkl",
    ...       keras_nonlocal.weights.sources.base_urls(), "c2d.pkl")  # doctest: +SKIP
    """
    failures = []
    for base in base_urls:
        url = base + file_name
        try:
            return url, download(url, path, sha256=sha256, progress=progress, timeout=timeout)
        except (OSError, ValueError, http.client.HTTPException) as error:
            failures.append((url, _reason(error)))
    raise WeightsDownloadError(file_name, failures, path, manual_hint)


def fetch_url(url, path, sha256=None, progress=True, timeout=60):
    """Downloads one URL, raising `WeightsDownloadError` on failure.

    Args:
        url: the URL.
        path: destination.
        sha256: expected SHA-256, or `None`.
        progress: show a progress bar.
        timeout: socket timeout, in seconds.

    Returns:
        The SHA-256 of the file.

    Example:

    >>> fetch_url("https://example.org/nl.weights.h5", "nl.weights.h5")  # doctest: +SKIP
    """
    try:
        return download(url, path, sha256=sha256, progress=progress, timeout=timeout)
    except (OSError, ValueError, http.client.HTTPException) as error:
        raise WeightsDownloadError(
            os.path.basename(path),
            [(url, _reason(error))],
            path,
            "pass the downloaded file's local path as `weights=`",
        ) from error
