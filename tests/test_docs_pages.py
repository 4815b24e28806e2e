"""The documentation pages generated from the code (docs/_ext/softreg_docs.py).

Sphinx is not needed: the generators are plain functions. The full build
(``sphinx-build -W``) is a step of .ci/run.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

import softreg
from softreg.cli import build_parser

EXT = Path(__file__).resolve().parents[1] / "docs" / "_ext" / "softreg_docs.py"


@pytest.fixture(scope="module")
def docs():
    spec = importlib.util.spec_from_file_location("softreg_docs", EXT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [s for a in parser._actions if a.help != argparse.SUPPRESS
            for s in (a.option_strings or [a.metavar or a.dest])]


def test_every_command_has_a_page_with_every_option(docs):
    pages = docs.cli_pages()
    commands = docs.subcommands(build_parser())
    assert [c[0] for c in commands] == list(__import__("softreg.cli").cli.COMMANDS)
    index = pages["_generated/cli_commands.inc"]
    for name, _, parser in commands:
        page = pages[f"cli/{name}.rst"]
        assert f"softreg {name}\n" in page
        assert f"<cli-{name}>" in index and f"   {name}\n" in index  # listed and in the toctree
        for option in _options(parser):
            assert option in page, f"softreg {name}: {option} is not on its page"


def test_command_page_renders_help_defaults_and_choices(docs):
    parser = argparse.ArgumentParser(prog="softreg toy", description="A toy *command*.")
    parser.add_argument("data", metavar="DATA", help="input file")
    parser.add_argument("--alpha", type=float, default=0.5, help="penalty (default %(default)s)")
    parser.add_argument("--solver", choices=["newton", "lbfgs"], default="newton")
    parser.add_argument("-o", "--output", required=True, help="where to write coef_")
    page = docs.command_page("toy", "train a toy", parser)
    assert "penalty (default 0.5)" in page
    assert "(one of: newton, lbfgs)" in page
    assert "where to write coef\\_ (required)" in page
    assert "A toy \\*command\\*." in page
    assert "``-o OUTPUT, --output OUTPUT``" in page
    usage = page.split(".. code-block:: text\n\n")[1].split("\n\n")[0]
    assert usage.startswith("   softreg toy ")


def test_api_page_lists_every_public_name(docs):
    page = docs.api_page(list(softreg.__all__))
    listed = {line.strip() for line in page.splitlines() if line.startswith("   ")}
    missing = {n for n in softreg.__all__ if not n.startswith("__")} - listed
    assert not missing, f"not in the API reference: {sorted(missing)}"


def test_api_page_lists_unknown_names_under_other(docs):
    page = docs.api_page(["SoftmaxRegression", "brand_new_function", "__version__"])
    other = page.split("Other public names")[1]
    assert "   brand_new_function\n" in other
    assert "SoftmaxRegression" not in other
    assert "__version__" not in page


def test_docstring_escaping(docs):
    lines = ["Stop when max |grad J| <= tol; see coef_ and ``coef_`` or :attr:`coef_`.",
             "feature_names_in_ : ndarray of shape (n_features_in_,), when",
             "| a | b |",
             "see `Link`_ and |x|."]
    docs.escape_docstring_lines(lines)
    assert lines == [
        "Stop when max \\|grad J\\| <= tol; see coef\\_ and ``coef_`` or :attr:`coef_`.",
        "feature_names_in_ : ndarray of shape (n_features_in\\_,), when",
        "| a | b |",
        "see `Link`_ and \\|x\\|."]


def test_benchmark_tables(docs, tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text(
        "# title\n\n- Date: today\n- Machine: 2 CPUs\n\n## Targets\n\n"
        "- **PASS** dense64: 4.50x (`softreg` 1.96 s)\n\n## Fits\n\n"
        "| problem | fit | time s | extra |\n| --- | --- | --- | --- |\n"
        "| dense64 | softreg (default) | 1.96 | x |\n| dense64 | sklearn saga | 8.82 | y |\n\n"
        "## Notes\n")
    text = docs.benchmark_include(results)
    assert "- Date: today" in text and "- Machine: 2 CPUs" in text
    assert "**PASS** dense64: 4.50x (``softreg`` 1.96 s)" in text
    assert "   * - dense64\n     - sklearn saga\n     - 8.82\n" in text
    assert "extra" not in text and "Notes" not in text
    assert "No benchmark results" in docs.benchmark_include(tmp_path / "missing.md")


def test_gallery_order_names_every_example(docs):
    gallery = EXT.parents[2] / "examples" / "gallery"
    examples = sorted(p.name for p in gallery.glob("plot_*.py"))
    assert set(examples) <= set(docs.GALLERY_ORDER), "add new examples to GALLERY_ORDER"
    order = docs.GalleryOrder(str(gallery))
    assert sorted(examples, key=order)[0] == "plot_gradient_descent.py"
    assert order("plot_zzz_new.py") > order("plot_speed_sklearn.py")
