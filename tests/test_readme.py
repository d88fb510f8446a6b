"""Every Python block of README.md (and of docs/*.md) runs as written.

Each ```python block runs in a fresh interpreter (so it must import what
it uses, `keras_ar` included before `keras.saving.load_model`), in an empty
temporary folder, on the backend of this test run, with
`KERAS_AR_TORCH_COMPILE=0`. New blocks are picked up by themselves.

A block may be preceded (on the last non-blank line before its fence) by a
marker that this test reads; each needs a reason in parentheses:

- `<!-- readme-test: skip (reason) -->`: not run, e.g. it needs a server.
  Skips stay the exception (at most a quarter of the blocks).
- `<!-- readme-test: backends jax torch (reason) -->`: run on those
  backends only, e.g. a block that uses one backend's API, or one whose
  backend-independent behaviour other tests check on every backend (which
  keeps this file's run time down).
"""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import pytest

ROOT = Path(__file__).resolve().parents[1]
BACKEND = keras.backend.backend()
BACKENDS = ("tensorflow", "jax", "torch")
TIMEOUT_S = 300

_FENCE = re.compile(r"^(\s*)```\s*([\w+-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*readme-test:\s*(.*?)\s*-->\s*$")
_DIRECTIVE = re.compile(r"^(skip|backends((?:\s+\w+)+))\s*\((.*)\)$", re.S)


def markdown_files():
    """README.md and every Markdown file under docs/."""
    files = [ROOT / "README.md"]
    files += sorted((ROOT / "docs").rglob("*.md"))
    return [f for f in files if f.is_file()]


class Block:
    """One fenced code block: where it is, its language, code and marker."""

    def __init__(self, path, line, language, code, marker):
        self.path, self.line = path, line
        self.language, self.code, self.marker = language, code, marker

    @property
    def name(self):
        path = self.path
        if path.is_relative_to(ROOT):
            path = path.relative_to(ROOT)
        return f"{path}:{self.line}"

    def directive(self):
        """`(kind, backends, reason)`; kind is "run", "skip" or "backends"."""
        if self.marker is None:
            return "run", BACKENDS, None
        match = _DIRECTIVE.match(self.marker)
        if match is None:
            raise ValueError(
                f"{self.name}: unreadable marker {self.marker!r}: use "
                "'skip (reason)' or 'backends NAME... (reason)'"
            )
        reason = match.group(3).strip()
        if not reason:
            raise ValueError(f"{self.name}: the marker must give a reason")
        if match.group(1) == "skip":
            return "skip", (), reason
        backends = tuple(match.group(2).split())
        unknown = set(backends) - set(BACKENDS)
        if unknown:
            raise ValueError(f"{self.name}: unknown backends {sorted(unknown)}")
        return "backends", backends, reason


def code_blocks(path):
    """The fenced blocks of a Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        start, language = i, fence.group(2).lower()
        end = start + 1
        while end < len(lines) and not _FENCE.match(lines[end]):
            end += 1
        code = textwrap.dedent("\n".join(lines[start + 1 : end])) + "\n"
        before = start - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        marker = _MARKER.match(lines[before]) if before >= 0 else None
        blocks.append(
            Block(path, start + 1, language, code, marker and marker.group(1))
        )
        i = end + 1
    return blocks


def python_blocks():
    return [
        block
        for path in markdown_files()
        for block in code_blocks(path)
        if block.language in ("python", "py")
    ]


BLOCKS = python_blocks()


def test_markers_are_readable_and_skips_are_the_exception():
    assert len(BLOCKS) >= 5, [b.name for b in BLOCKS]
    kinds = [block.directive()[0] for block in BLOCKS]  # raises if unreadable
    assert kinds.count("skip") <= len(BLOCKS) // 4, kinds
    # A marker before a non-Python block (or a typo in "readme-test") would
    # be silently ignored: every marker in the files must precede a block.
    for path in markdown_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        marked = {b.line for b in code_blocks(path) if b.marker is not None}
        assert sum(bool(_MARKER.match(line)) for line in lines) == len(marked), path
        python_lines = {b.line for b in BLOCKS if b.path == path}
        assert marked <= python_lines, path


def test_parser_reads_markers(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "text\n\n<!-- readme-test: skip (needs a server) -->\n\n```python\n"
        "print(1)\n```\n\n<!-- readme-test: backends jax torch (JAX API) -->\n"
        "```python\nprint(2)\n```\n\n```bash\nls\n```\n\n"
        "<!-- readme-test: skip () -->\n```python\nprint(3)\n```\n"
    )
    blocks = code_blocks(page)
    assert [b.language for b in blocks] == ["python", "python", "bash", "python"]
    assert blocks[0].directive() == ("skip", (), "needs a server")
    assert blocks[1].directive() == ("backends", ("jax", "torch"), "JAX API")
    assert blocks[1].code == "print(2)\n"
    assert blocks[2].directive() == ("run", BACKENDS, None)
    with pytest.raises(ValueError, match="reason"):
        blocks[3].directive()


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.name)
def test_block_runs(block, tmp_path):
    kind, backends, reason = block.directive()
    if kind == "skip":
        pytest.skip(f"marked skip: {reason}")
    if BACKEND not in backends:
        pytest.skip(f"runs on {', '.join(backends)} only: {reason}")
    script = tmp_path / "block.py"
    script.write_text(block.code, encoding="utf-8")
    env = {**os.environ, "KERAS_BACKEND": BACKEND, "KERAS_AR_TORCH_COMPILE": "0"}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), env.get("PYTHONPATH")) if p
    )
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 0, (
        f"{block.name} failed on {BACKEND}:\n{block.code}\n"
        f"--- stderr ---\n{result.stderr[-4000:]}"
    )
