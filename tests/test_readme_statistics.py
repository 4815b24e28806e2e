"""The README's statistics snippet runs, pasted after its usage snippet, without warnings."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _block_after(text: str, heading: str) -> str:
    section = text[text.index(heading):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_statistics_snippet_runs_after_the_usage_snippet(capsys):
    text = README.read_text()
    usage = _block_after(text, "## Usage")
    statistics = _block_after(text, "## Statistics")
    for name in ("get_margeff", "get_prediction", "lr_test", "llnull", "aic"):
        assert name in statistics
    namespace: dict = {}
    exec(compile(usage + statistics, "README.md", "exec"), namespace)  # warnings are errors
    out = capsys.readouterr().out
    assert "LL-null" in out and "likelihood-ratio test" in out and "dy/dx" in out
    result, pred = namespace["result"], namespace["pred"]
    assert result.method == "mle" and result.llr_pvalue < 1e-10
    ci = pred.conf_int(alpha=0.05)
    assert ci.shape == (3, 2, 2) and (ci[..., 0] > 0).all()
