"""Every code example in the docs runs: Markdown ```python blocks and doctests.

A Markdown page's blocks run in order in one namespace (a page reads like a
notebook), in a temporary working folder. Only blocks preceded by
`<!-- skip-snippet -->` are skipped (downloads, GPUs).
"""

import doctest
import importlib
import os

import numpy as np
import pytest

from tests.docs import snippets

PAGES = snippets.markdown_files()
MODULES = snippets.package_modules()


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")


def test_snippet_extraction_honours_the_skip_marker():
    text = "\n".join([
        "```python", "a = 1", "```", "", "<!-- skip-snippet -->", "", "```python", "download()", "```",
        "```bash", "make test", "```", "```py", "b = 2", "```",
    ])
    blocks = snippets.python_blocks(text)
    assert [(code.strip(), skipped) for _, code, skipped in blocks] == [
        ("a = 1", False), ("download()", True), ("b = 2", False)]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("page", PAGES)
def test_markdown_snippets_run(page):
    with open(os.path.join(snippets.REPO, page), encoding="utf-8") as f:
        blocks = snippets.python_blocks(f.read())
    runnable = [(line, code) for line, code, skipped in blocks if not skipped]
    if not runnable:
        pytest.skip(f"{page} has no runnable python block")
    namespace = {"__name__": f"snippets_{os.path.basename(page)}"}
    for line, code in runnable:
        try:
            exec(compile(code, f"{page}:{line}", "exec"), namespace)
        except Exception as e:
            raise AssertionError(
                f"{page}, block at line {line} failed: {type(e).__name__}: {e}\n--- block ---\n{code}"
            ) from e


@pytest.mark.timeout(600)
@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name):
    # Every module imports in the development install (`pip install -e
    # ".[dev,tune,video,train,docs,backends]"`); one that fails is a failure.
    module = importlib.import_module(module_name)
    import keras

    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = [t for t in finder.find(module, module_name, globs={"np": np, "keras": keras, **vars(module)})
             if t.examples and t.name.startswith(module_name)]
    # Objects re-exported by a package are tested in the module that defines them.
    tests = [t for t in tests if _defined_here(t, module)]
    if not tests:
        pytest.skip(f"{module_name} has no docstring example")
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name} (see output above)"


def _defined_here(test, module):
    obj = module
    for part in test.name[len(module.__name__):].strip(".").split("."):
        if not part:
            continue
        obj = getattr(obj, part, None)
        if obj is None:
            return True
    owner = getattr(obj, "__module__", module.__name__)
    return owner is None or owner == module.__name__ or obj is module
