"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``).

The report is written through the CLI, then:

1. Chromium takes a screenshot of it; the picture must not be blank and must
   show the plots' colours.
2. A test copy of the page gets one small inline script, run on ``load``,
   that writes what the page looks like from inside into the DOM (each
   image's ``naturalWidth``, the number of script elements, whether the page
   is wider than a phone's screen, the text of the headings); Chromium's
   ``--dump-dom`` prints that DOM and the test reads it back. The report
   itself has no script (checked in test_report.py).
3. A run whose name contains ``<script>`` must show that name as text.

Skips only when no Chromium binary exists; ``.ci/run`` installs it and sets
``FTDIAG_REQUIRE_BROWSER=1``, which turns the skip into a failure.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import SAMPLES
from ftdiag.cli import cli

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
EVIL = "<script>document.title='pwned'"  # no "/" possible in a file name; unclosed is worse


def chromium() -> str:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("FTDIAG_REQUIRE_BROWSER"):
        pytest.fail("FTDIAG_REQUIRE_BROWSER is set but no Chromium binary was found")
    pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium package)")


def run_chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = chromium()
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        "--mute-audio",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        *args,
    ]
    env = dict(os.environ, HOME=str(tmp))  # keep Chromium's caches out of the real home
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)


PROBE = """<script>
window.addEventListener("load", function () {
  var widths = [];
  for (var i = 0; i < document.images.length; i++) widths.push(document.images[i].naturalWidth);
  var heads = [];
  var hs = document.querySelectorAll("h1, h2");
  for (var j = 0; j < hs.length; j++) heads.push(hs[j].textContent);
  var out = {
    widths: widths,
    scripts: document.scripts.length,
    title: document.title,
    pageWidth: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
    headings: heads,
    text: document.body.innerText.length
  };
  var pre = document.createElement("pre");
  pre.id = "ftdiag-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def probe(tmp: Path, page: Path, width: int = 1000) -> dict:  # type: ignore[type-arg]
    text = page.read_text(encoding="utf-8")
    assert text.count("</body>") == 1
    copy = tmp / f"probe-{width}.html"
    copy.write_text(text.replace("</body>", PROBE + "\n</body>"), encoding="utf-8")
    res = run_chromium(tmp, f"--window-size={width},900", "--virtual-time-budget=10000", "--dump-dom", copy.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    m = re.search(r'<pre id="ftdiag-probe">(.*?)</pre>', res.stdout, re.S)
    assert m, f"the probe did not run; chromium printed:\n{res.stdout[:500]}\n{res.stderr[-1500:]}"
    return json.loads(html.unescape(m.group(1)))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chromium()
    tmp = tmp_path_factory.mktemp("browser")
    evil = tmp / f"{EVIL}.csv"
    shutil.copy(SAMPLES / "reference_overfit.csv", evil)
    out = tmp / "report.html"
    r = CliRunner().invoke(cli, ["report", str(evil), str(SAMPLES / "hf_trainer_state_good_fit.json"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    return out


def test_screenshot_is_not_blank_and_shows_plots(report: Path) -> None:
    from PIL import Image

    tmp = report.parent
    shot = tmp / "screenshot.png"
    res = run_chromium(tmp, "--window-size=1000,2600", f"--screenshot={shot}", report.as_uri())
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    with Image.open(shot) as im:
        px = np.asarray(im.convert("RGB"), dtype=int)
    assert px.shape[:2] == (2600, 1000)
    non_white = (px < 235).any(axis=2).mean()
    assert non_white > 0.03, f"page looks blank ({non_white:.1%} non-white pixels)"
    # the plots' colours: training blue (#1f77b4) and validation red (#d62728) curves
    blue = ((abs(px[..., 0] - 0x1F) < 30) & (abs(px[..., 1] - 0x77) < 30) & (abs(px[..., 2] - 0xB4) < 30)).sum()
    red = ((abs(px[..., 0] - 0xD6) < 30) & (abs(px[..., 1] - 0x27) < 30) & (abs(px[..., 2] - 0x28) < 30)).sum()
    assert blue > 500 and red > 500, (blue, red)


def test_images_load_and_name_is_text(report: Path) -> None:
    info = probe(report.parent, report)
    # three plots (two runs and the overlaid sweep curves), every one decoded
    assert len(info["widths"]) == 3
    assert all(w > 0 for w in info["widths"]), info["widths"]
    # only the probe's own script exists: the run name did not become markup
    assert info["scripts"] == 1
    assert info["title"] == "ftdiag report"
    assert any(EVIL + ".csv" in h for h in info["headings"]), info["headings"]
    assert info["text"] > 500


def test_readable_on_a_phone(report: Path) -> None:
    # 500 CSS px is the narrowest window headless Chromium opens; the report's
    # small-screen rules start below 640 px, so this is the phone layout
    info = probe(report.parent, report, width=500)
    assert info["viewport"] <= 500
    # nothing wider than the screen: tables scroll inside their own box, images shrink
    assert info["pageWidth"] <= info["viewport"] + 1, info
    assert all(w > 0 for w in info["widths"])


def test_prints_one_run_per_page(report: Path) -> None:
    tmp = report.parent
    pdf = tmp / "report.pdf"
    res = run_chromium(tmp, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", report.as_uri())
    assert res.returncode == 0 and pdf.exists(), res.stderr[-2000:]
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf.read_bytes()))
    # the summary, then each of the two runs from a new page; none of them
    # sprawls (the summary in at most two pages, a run in at most three)
    assert 3 <= pages <= 2 + 3 * 2, pages
