"""Griffe extension: Keras-style `>>>` examples become fenced `pycon` blocks.

Keras docstrings put their examples after `Example:` and a blank line, at the
section's own indentation, so Google-style parsing leaves them as plain text:
Markdown then joins the lines and reads output such as `[0.1, 0.2]` as links.
Wrapping each run of doctest lines (prompt, continuations, output) in a
```` ```pycon ```` fence renders them as code. `# doctest:` flags are dropped.
"""

import re

import griffe

_FLAGS = re.compile(r"\s*#\s*doctest:.*$")


def fence_doctests(text):
    """Wraps every doctest run of `text` in a fenced `pycon` block.

    Args:
        text: a docstring.

    Returns:
        The docstring with fenced examples.
    """
    lines = text.split("\n")
    out, i, in_fence = [], 0, False
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if in_fence or not line.lstrip().startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        block = []
        while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
            block.append(_FLAGS.sub("", lines[i][len(indent):]))
            i += 1
        out += [indent + "```pycon"] + [indent + b for b in block] + [indent + "```"]
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    """Fences the doctest examples of every docstring."""

    def on_object(self, *, obj, **kwargs):
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
