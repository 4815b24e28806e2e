"""README.md: every ```python block runs verbatim, in order, as one script."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(text: str) -> list[str]:
    return BLOCK.findall(text)


def test_block_extraction():
    text = "a\n```python\nx = 1\n```\n```bash\nls\n```\n```python\ny = x\n```\n"
    assert python_blocks(text) == ["x = 1\n", "y = x\n"]


def test_readme_python_snippets_run_as_one_script(tmp_path):
    pytest.importorskip("distributed")
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 3  # usage, statistics, Dask
    script = tmp_path / "readme_snippets.py"
    script.write_text("\n".join(blocks), encoding="utf-8")
    # in a subprocess: the Dask snippet starts worker processes that import the script;
    # warnings are errors, as in the rest of the suite
    proc = subprocess.run([sys.executable, "-W", "error", str(script)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "P>|z|" in proc.stdout  # the statistics snippet printed its table
