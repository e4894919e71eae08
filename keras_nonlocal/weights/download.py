"""Downloading into the cache: atomically, verified, with host fallback.

A download streams into a partial file in the destination directory and is
moved into place with `os.replace` only once every byte announced by the
server has arrived and the SHA-256 (when known) matches. An interrupted,
truncated or corrupted transfer therefore never leaves a file that a later run
would trust. The partial file is removed on any error or interrupt; one left
by a killed process is removed by the next download of the same file
(`cache.remove_stale_parts`). The library installs no signal handler; the
command line runs inside `keras_nonlocal.command_line.sigterm_as_interrupt()`,
so that SIGTERM cleans up as Ctrl-C does.
"""

import hashlib
import http.client
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

from keras_nonlocal.weights import cache as _cache

_CHUNK = 1 << 20

# Schemes `download` fetches, and the file names `weights=` can load.
SUPPORTED_SCHEMES = ("http", "https", "file")
WEIGHTS_SUFFIXES = (".pkl", ".weights.h5")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class SHA256MismatchError(ValueError):
    """A downloaded file does not have the expected SHA-256 (nothing was kept)."""


def looks_like_url(text):
    """Whether a string starts with a URL scheme (`name://`).

    Example:

    >>> looks_like_url("ftp://host/a.pkl"), looks_like_url("/data/a.pkl")
    (True, False)
    """
    return bool(_SCHEME.match(text))


def check_url(url, suffixes=None):
    """Refuses, before any transfer, a URL that cannot be fetched or loaded.

    Args:
        url: the URL.
        suffixes: file-name endings the URL must have (e.g.
            `WEIGHTS_SUFFIXES`), or `None` for any name.

    Raises:
        ValueError: for a scheme other than `http`, `https` and `file`, or
            a file name without one of `suffixes`.

    Example:

    >>> check_url("ftp://example.org/a.pkl")
    Traceback (most recent call last):
    ...
    ValueError: Unsupported URL scheme 'ftp' in 'ftp://example.org/a.pkl': weights can be downloaded from http://, https:// and file:// URLs only.
    """
    match = _SCHEME.match(url)
    scheme = match.group(1).lower() if match else ""
    if scheme not in SUPPORTED_SCHEMES:
        raise ValueError(
            f"Unsupported URL scheme {scheme!r} in {url!r}: weights can be "
            "downloaded from http://, https:// and file:// URLs only."
        )
    if suffixes:
        name = os.path.basename(urllib.parse.urlparse(url).path)
        if not name.endswith(tuple(suffixes)):
            raise ValueError(
                f"{url!r} does not name a weights file: its name {name!r} should end "
                f"in {' or '.join(map(repr, suffixes))} (an official checkpoint or a "
                "Keras weights file). Nothing was downloaded."
            )


class WeightsDownloadError(OSError):
    """No host delivered a file.

    Attributes:
        file_name: the file that was wanted.
        failures: list of `(url, reason)`, one per URL tried.
        cache_path: where the file is expected in the cache, so that it can be
            placed there by hand.
    """

    def __init__(self, file_name, failures, cache_path, manual_hint=None,
                 hash_mismatch_only=False):
        self.file_name = file_name
        self.failures = list(failures)
        self.cache_path = cache_path
        # Two lines, as the command line prints user errors: what was tried,
        # then what the user can do.
        tried = "; ".join(f"{url}: {reason}" for url, reason in self.failures)
        where = (
            f"place it by hand at {cache_path} (KERAS_HOME moves the cache)"
            + (f", or {manual_hint}" if manual_hint else "")
            + "."
        )
        if hash_mismatch_only:
            advice = (
                "The file was delivered but differs from the expected SHA-256, so nothing "
                "was kept (the host serves another file, or the expected hash is wrong); "
                f"to use a copy you trust, {where}"
            )
        else:
            advice = f"If this machine is offline or the host is unreachable, {where}"
        lines = [f"Could not download {file_name!r}: tried {tried}.", advice]
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
        ValueError: the URL's scheme is not supported (nothing is fetched).
        urllib.error.URLError, OSError: the transfer failed (nothing is left
            at `path` nor in its directory).
        SHA256MismatchError: the hash does not match (nothing is left
            either); a `ValueError`.

    Example:

    >>> download("https://dl.fbaipublicfiles.com/video-nonlocal/"
    ...          "c2d_baseline_8x8_IN_pretrain_400k.pkl", "c2d.pkl")  # doctest: +SKIP
    """
    check_url(url)
    # Partial files of killed downloads of this file; never a live one.
    _cache.remove_stale_parts(path)
    fd, tmp = _cache.create_part(path)
    digest = hashlib.sha256()
    try:
        with open(fd, "wb", closefd=False) as out:
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
            raise SHA256MismatchError(
                f"SHA-256 mismatch for {url}: expected {sha256.lower()}, got {actual}."
            )
        os.replace(tmp, path)
        return actual
    finally:
        # Gone after os.replace; removed after any failure or interrupt. The
        # lock is released only once the file is moved or removed.
        _cache._remove(tmp)
        os.close(fd)


def _reason(error):
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"unreachable ({error.reason})"
    if isinstance(error, SHA256MismatchError):
        return str(error)
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
    failures, mismatches = [], 0
    for base in base_urls:
        url = base + file_name
        try:
            return url, download(url, path, sha256=sha256, progress=progress, timeout=timeout)
        except (OSError, ValueError, http.client.HTTPException) as error:
            failures.append((url, _reason(error)))
            mismatches += isinstance(error, SHA256MismatchError)
    raise WeightsDownloadError(file_name, failures, path, manual_hint,
                               hash_mismatch_only=bool(failures) and mismatches == len(failures))


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

    Raises:
        ValueError: before any transfer, when the scheme is not supported or
            the URL's file name does not end in `.pkl` or `.weights.h5`.
        WeightsDownloadError: the transfer failed or the hash differs.

    Example:

    >>> fetch_url("https://example.org/nl.weights.h5", "nl.weights.h5")  # doctest: +SKIP
    """
    check_url(url, WEIGHTS_SUFFIXES)
    try:
        return download(url, path, sha256=sha256, progress=progress, timeout=timeout)
    except (OSError, ValueError, http.client.HTTPException) as error:
        raise WeightsDownloadError(
            os.path.basename(path),
            [(url, _reason(error))],
            path,
            "pass the downloaded file's local path as `weights=`",
            hash_mismatch_only=isinstance(error, SHA256MismatchError),
        ) from error
