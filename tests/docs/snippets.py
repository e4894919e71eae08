"""Finding the runnable examples: ```python blocks in Markdown, >>> in modules."""

import importlib
import os
import pkgutil
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKIP_MARKER = "<!-- skip-snippet -->"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")


def markdown_files():
    """`docs/*.md` and `README.md`, relative to the repository."""
    docs = os.path.join(REPO, "docs")
    names = sorted(f for f in os.listdir(docs) if f.endswith(".md")) if os.path.isdir(docs) else []
    files = [os.path.join("docs", n) for n in names]
    if os.path.exists(os.path.join(REPO, "README.md")):
        files.append("README.md")
    return files


def python_blocks(text):
    """The ```python blocks of a Markdown text.

    Returns:
        A list of `(line_number, code, skipped)`: `skipped` when the last
        non-blank line before the block is `<!-- skip-snippet -->`.
    """
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, indent = match["fence"], match["indent"]
        language = match["info"].strip().split(" ")[0].lower() if match["info"].strip() else ""
        start = i
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1  # closing fence
        if language in ("python", "py", "python3"):
            previous = [l.strip() for l in lines[:start] if l.strip()]
            skipped = bool(previous) and previous[-1] == SKIP_MARKER
            blocks.append((start + 1, "\n".join(body) + "\n", skipped))
    return blocks


def package_modules(package="keras_nonlocal"):
    """Names of every module of the package."""
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=package + ".", onerror=_raise):
        if info.name.rsplit(".", 1)[-1] != "__main__":
            names.append(info.name)
    return sorted(names)


def _raise(name):
    # `walk_packages` ignores a subpackage that fails to import (and all its
    # modules with it) unless told otherwise.
    raise ImportError(f"{name} failed to import while listing the package's modules")
