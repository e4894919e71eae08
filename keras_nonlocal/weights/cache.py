"""The weights cache: where files live and the hashes recorded beside them.

Layout, under `$KERAS_HOME/models/keras_nonlocal/` (`~/.keras` when
`KERAS_HOME` is unset, `/tmp/.keras` when that is not writable, as in Keras):

    official/<name>.pkl                 downloaded official checkpoints
    official/pretrained_model.tar.gz    the ImageNet archive
    official/r50_pretrain_c2_model_iter450450_clean.pkl   extracted from it
    converted/<name>-<model signature>.weights.h5         converted on first use
    downloads/<url digest>-<file name>  files given to `weights=` as URLs
    <any file>.json                     {"sha256": ..., "source": ...}

No SHA-256 of the official files is published. The first time a file is used
successfully (unpickled, every blob verified, converted), its SHA-256 is
written to `<file>.json`; every later use checks the file against it, and a
file that no longer matches is deleted and fetched (or converted) again.

Files are written through partial files `.<name>.<pid>-<random>.part` beside
their destination, created with `O_EXCL` (so their mode follows the umask, as
`keras.utils.get_file`'s files do) and locked (`flock`) for as long as their
writer lives. A writer killed outright (SIGKILL) leaves its partial file
behind; the next write of the same file removes every partial file whose lock
is free, and never one that a live process, sharing the cache, still writes.
"""

import hashlib
import json
import os
import secrets
import time

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

CACHE_SUBDIR = os.path.join("models", "keras_nonlocal")


def keras_home():
    """The Keras home directory, read from the environment at call time.

    Returns:
        `$KERAS_HOME`, else `~/.keras`, else `/tmp/.keras` when the home
        directory cannot be written (the rule of `keras.utils.get_file`).

    Example:

    >>> os.environ["KERAS_HOME"] = "/data/keras"; keras_home()  # doctest: +SKIP
    '/data/keras'
    """
    home = os.environ.get("KERAS_HOME")
    if home:
        return os.path.expanduser(home)
    home = os.path.expanduser(os.path.join("~", ".keras"))
    parent = home if os.path.exists(home) else os.path.dirname(home)
    if not os.access(parent, os.W_OK):
        home = os.path.join("/tmp", ".keras")
    return home


def cache_root(cache_dir=None):
    """The root of this package's weights cache.

    Args:
        cache_dir: a base directory to use instead of the Keras home.

    Returns:
        `<cache_dir or keras_home()>/models/keras_nonlocal`.

    Example:

    >>> cache_root("/tmp/k")
    '/tmp/k/models/keras_nonlocal'
    """
    base = os.path.expanduser(cache_dir) if cache_dir else keras_home()
    return os.path.join(base, CACHE_SUBDIR)


def cache_path(subdir, file_name, cache_dir=None):
    """The cache path of a file (its directory is not created).

    Args:
        subdir: `"official"`, `"converted"` or `"downloads"`.
        file_name: the file's name.
        cache_dir: see `cache_root`.

    Returns:
        The absolute path.

    Example:

    >>> cache_path("official", "c2d_baseline_8x8_IN_pretrain_400k.pkl", "/tmp/k")
    '/tmp/k/models/keras_nonlocal/official/c2d_baseline_8x8_IN_pretrain_400k.pkl'
    """
    if os.path.basename(file_name) != file_name or file_name in ("", ".", ".."):
        raise ValueError(f"A cached file needs a plain file name; received {file_name!r}.")
    return os.path.abspath(os.path.join(cache_root(cache_dir), subdir, file_name))


def sha256_file(path, chunk_size=1 << 20):
    """The SHA-256 of a file, as a hex string.

    Args:
        path: the file.
        chunk_size: bytes read at a time.

    Returns:
        The lowercase hex digest.

    Example:

    >>> sha256_file("/dev/null")
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def record_path(path):
    """Where the record of a cached file lives.

    Args:
        path: the cached file.

    Returns:
        `<path>.json`.

    Example:

    >>> record_path("/c/official/a.pkl")
    '/c/official/a.pkl.json'
    """
    return path + ".json"


def read_record(path):
    """The record written beside a cached file, or `{}` if there is none.

    Args:
        path: the cached file (not the record).

    Returns:
        A dict, e.g. `{"sha256": "...", "source": "https://..."}`.
    """
    try:
        with open(record_path(path), encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def write_atomic(path, data):
    """Writes bytes to `path` through a temporary file and `os.replace`.

    A crash leaves either the old file or the new one, never a partial one.

    Args:
        path: the destination; its directory is created.
        data: the bytes to write.

    Example:

    >>> write_atomic("/tmp/k/note.json", b"{}")  # doctest: +SKIP
    """
    fd, tmp = create_part(path)
    try:
        with open(fd, "wb", closefd=False) as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        _remove(tmp)  # gone after os.replace; removed after any failure
        os.close(fd)  # releases the lock only now


def write_record(path, sha256=None, **fields):
    """Records the SHA-256 (computed when not given) and facts of a file.

    Args:
        path: the cached file.
        sha256: its hash, if already known.
        **fields: more JSON-serialisable facts (source URL, model, ...).

    Returns:
        The record written.
    """
    record = dict(fields)
    record["sha256"] = sha256 or sha256_file(path)
    record["recorded"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    write_atomic(record_path(path), json.dumps(record, indent=1, sort_keys=True).encode())
    return record


def expected_sha256(path, known=None):
    """The hash a cached file must have: the known one, else the recorded one.

    Args:
        path: the cached file.
        known: a hash known in advance (e.g. from `sources.py`), or `None`.

    Returns:
        A hex string, or `None` when nothing is known or recorded.

    Example:

    >>> expected_sha256("/nonexistent.pkl", known="ab" * 32) == "ab" * 32
    True
    """
    return known or read_record(path).get("sha256")


def is_intact(path, known=None):
    """Whether a cached file exists and matches its known or recorded hash.

    A file without any hash to check counts as intact (it is verified by use).

    Args:
        path: the cached file.
        known: a hash known in advance, or `None`.

    Returns:
        A bool.

    Example:

    >>> is_intact("/nonexistent.pkl")
    False
    """
    if not os.path.isfile(path):
        return False
    expected = expected_sha256(path, known)
    return expected is None or sha256_file(path) == expected.lower()


def discard(path):
    """Deletes a cached file and its record, if present.

    Args:
        path: the cached file.

    Example:

    >>> discard("/tmp/k/models/keras_nonlocal/official/a.pkl")  # doctest: +SKIP
    """
    _remove(path)
    _remove(record_path(path))


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


# ------------------------------------------------------------ partial files

# Without `flock` (Windows) a partial file counts as abandoned after a day.
STALE_PART_AGE = 24 * 3600


def _lock(fd):
    # Non-blocking exclusive lock: `True` when taken, `False` when another
    # open file holds it, `None` when the file system cannot lock (no flock on
    # Windows, some network file systems).
    if fcntl is None:  # pragma: no cover - Windows
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # pragma: no cover - ENOLCK, EOPNOTSUPP
        return None
    return True


def _is_file_of(fd, path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def create_part(path):
    """Creates and locks a new partial file beside `path`.

    The file is created with `O_EXCL` and mode `0o666` less the umask, and
    stays locked until its descriptor is closed: close it only after moving
    or removing the file. Its name, `.<name>.<pid>-<random>.part`, lets
    `remove_stale_parts` find it if its writer is killed.

    Args:
        path: the final destination; its directory is created.

    Returns:
        `(fd, part_path)`: an open, locked, writable descriptor and its path.

    Example:

    >>> fd, part = create_part("/tmp/k/a.pkl")  # doctest: +SKIP
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        part = os.path.join(
            directory, f".{os.path.basename(path)}.{os.getpid()}-{secrets.token_hex(4)}.part"
        )
        try:
            fd = os.open(part, flags, 0o666)
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue
        # Between creation and locking another process's `remove_stale_parts`
        # may have taken the file (it then deletes it): start again.
        if _lock(fd) is not False and _is_file_of(fd, part):
            return fd, part
        os.close(fd)  # pragma: no cover - that race


def remove_stale_parts(path):
    """Removes the partial files of `path` whose writer is gone.

    A partial file is stale when nothing holds its lock (its writer exited
    or was killed); one that a live process holds, in this process or any
    other sharing the cache, is left alone. Without `flock` (Windows), partial
    files older than `STALE_PART_AGE` seconds are removed.

    Args:
        path: the destination whose partial files are looked for.

    Returns:
        The list of removed paths.

    Example:

    >>> remove_stale_parts("/tmp/k/models/keras_nonlocal/official/a.pkl")  # doctest: +SKIP
    []
    """
    directory = os.path.dirname(os.path.abspath(path))
    prefix = f".{os.path.basename(path)}."
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed = []
    for name in sorted(names):
        if not (name.startswith(prefix) and name.endswith(".part")):
            continue
        part = os.path.join(directory, name)
        try:
            fd = os.open(part, os.O_RDONLY)
        except OSError:
            continue
        aged = False
        try:
            locked = _lock(fd)
            if locked is None:  # pragma: no cover - cannot lock: judge by age
                aged = time.time() - os.fstat(fd).st_mtime > STALE_PART_AGE
            elif locked and _is_file_of(fd, part):
                os.remove(part)  # while holding its lock
                removed.append(part)
        finally:
            os.close(fd)
        if aged:  # pragma: no cover - removed once closed (Windows needs that)
            try:
                os.remove(part)
                removed.append(part)
            except OSError:
                pass
    return removed


def record_if_missing(path, **fields):
    """Writes the record of a cached file unless it already has one.

    Args:
        path: the cached file, just used successfully.
        **fields: facts for `write_record` (e.g. `source=`).

    Returns:
        The record, old or new.

    Example:

    >>> record_if_missing("/tmp/k/official/a.pkl", source="a.pkl")  # doctest: +SKIP
    """
    return read_record(path) or write_record(path, **fields)
