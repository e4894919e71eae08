"""The documentation site builds with `mkdocs build --strict`."""

import importlib.util
import os
import subprocess
import sys

import pytest

from tests.docs import snippets


def _nav_pages():
    import yaml  # comes with mkdocs

    class _Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml may hold !!python/name tags; they do not matter for the nav.
    _Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    with open(os.path.join(snippets.REPO, "mkdocs.yml"), encoding="utf-8") as f:
        config = yaml.load(f, Loader=_Loader)
    pages = []

    def walk(entry):
        if isinstance(entry, str):
            pages.append(entry)
        elif isinstance(entry, dict):
            for value in entry.values():
                walk(value)
        elif isinstance(entry, list):
            for value in entry:
                walk(value)

    walk(config["nav"])
    return pages


@pytest.mark.timeout(300)
def test_docs_site_builds_strictly(tmp_path):
    missing_modules = [m for m in ("mkdocs", "mkdocstrings", "material") if importlib.util.find_spec(m) is None]
    assert not missing_modules, (
        f"{', '.join(missing_modules)} not installed: the docs extra is part of the test "
        "environment (pip install -e '.[docs]')"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "-d", str(tmp_path / "site")],
        cwd=snippets.REPO, capture_output=True, text=True, timeout=280,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "training" / "index.html").exists()


def test_every_page_in_the_nav_exists():
    missing = [p for p in _nav_pages() if not os.path.exists(os.path.join(snippets.REPO, "docs", p))]
    assert not missing, f"pages in the mkdocs.yml nav that docs/ lacks: {', '.join(missing)}"


def test_every_docs_page_is_in_the_nav():
    nav = set(_nav_pages())
    docs = {f for f in os.listdir(os.path.join(snippets.REPO, "docs")) if f.endswith(".md")}
    assert docs <= nav, f"pages missing from the mkdocs.yml nav: {sorted(docs - nav)}"
