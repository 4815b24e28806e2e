"""The report in a real browser: headless Chromium at 1280 px loads every image, shows each
at its native size, and needs no horizontal scroll. Also writes a screenshot to look at."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from softreg.report import classification_metrics, write_report

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on PATH (Debian: apt-get install -y chromium; "
    ".ci/run installs it)")

#: appended to a copy of the page: the numbers the test needs, written into the DOM
PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  document.body.setAttribute("data-probe", JSON.stringify({
    images: imgs.length,
    loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    native: imgs.filter(i => i.width === i.naturalWidth && i.height === i.naturalHeight).length,
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    tops: imgs.map(i => Math.round(i.getBoundingClientRect().top)),
  }));
});
</script></body>"""


def chromium(*args, timeout=600):
    # a hang guard only: the browser starts in seconds even on a busy machine
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", "--window-size=1280,1600", *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(0)
    K = 10
    Z = rng.normal(size=(450, K)) * 3
    log_proba = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    y = np.array([rng.choice(K, p=np.exp(r)) for r in log_proba])
    metrics = classification_metrics(y, log_proba, np.arange(K))
    write_report(folder, metrics, np.arange(K), loss_curve=list(np.geomspace(2, 0.1, 40)),
                 model_info={"solver": "newton", "alpha": 1e-3,
                             "standardised features": "yes"},
                 data_info={"file": "test.csv"}, title="softreg: browser check")
    return folder


def test_page_loads_its_images_at_native_size_without_horizontal_scroll(report):
    page = (report / "index.html").read_text(encoding="utf-8")
    probe = report / "probe.html"
    probe.write_text(page.replace("</body>", PROBE), encoding="utf-8")
    proc = chromium("--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    match = re.search(r'data-probe="([^"]*)"', proc.stdout)
    assert match, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    found = json.loads(match.group(1).replace("&quot;", '"'))
    assert found["images"] == 3
    assert found["loaded"] == 3  # every PNG loaded
    assert found["native"] == 3  # none scaled down at 1280 px
    assert found["scrollWidth"] <= found["clientWidth"] <= 1280  # no horizontal scroll
    # a grid, not one column: the confusion matrix and the calibration diagram share a row
    assert found["tops"][0] == found["tops"][1] < found["tops"][2]


def test_screenshot(report):
    shot = report / "screenshot.png"
    proc = chromium(f"--screenshot={shot}", (report / "index.html").as_uri())
    assert shot.exists(), proc.stderr[-2000:]
    import matplotlib.image

    img = matplotlib.image.imread(shot)
    assert img.shape[:2] == (1600, 1280)
    assert img[..., :3].std() > 0.05  # not a blank page
