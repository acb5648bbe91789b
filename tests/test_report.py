"""`imbrun report`: one self-contained HTML file for a run or a comparison, rendered by a real browser."""

import base64
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from imbrun.cli import app
from imbrun.errors import ImbrunError
from imbrun.plots import confusion_png
from imbrun.report import write_report
from tests.test_compare import PRED_B, base_config, write_run

CHROMIUM = Path("/usr/bin/chromium")
# Headless flags: no sandbox (root in containers), no GPU, no network or first-run chatter, a throwaway profile.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]


@pytest.fixture
def chromium() -> Path:
    """/usr/bin/chromium; a missing browser skips the test locally and fails it under CI (CI=true)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing under CI: the HTML report must be rendered in a real browser "
                        "(apt-get install chromium)", pytrace=False)
        pytest.skip(f"{CHROMIUM} is not installed")
    return CHROMIUM


def run_chromium(browser: Path, *args: str) -> str:
    result = subprocess.run([str(browser), *CHROMIUM_FLAGS, f"--user-data-dir={tempfile.mkdtemp()}", *args],
                            check=True, capture_output=True, text=True, timeout=60)
    return result.stdout


@pytest.fixture
def run_folder(tmp_path):
    path = write_run(tmp_path, "A")
    confusion_png(np.array([[5, 1], [0, 3]]), ["a", "b"], path / "confusion_matrix.png", title="test")
    return path


def embedded_images(text: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)]


def test_run_report_embeds_images_and_tables(run_folder):
    path = write_report(run_folder)
    assert path == run_folder / "report.html"
    text = path.read_text()
    images = embedded_images(text)
    assert len(images) == 1 and images[0] == (run_folder / "confusion_matrix.png").read_bytes()
    assert "<tr><td>c</td><td>5</td></tr>" in text  # class distribution: c has 5 training rows
    # no probability block in this hand-written run: ROC-AUC, PR-AUC and one-vs-rest ECE are empty
    assert "<tr><td>b</td><td>1.0000</td><td>0.5000</td><td>0.6667</td><td>4</td><td></td><td></td><td></td></tr>" \
        in text
    assert "http://" not in text and "https://" not in text and "<script" not in text
    assert "balance:\n  kind: none" in text  # the config


def test_comparison_report_holds_the_statistics(tmp_path):
    a = write_run(tmp_path, "A")
    b = write_run(tmp_path, "B", pred=PRED_B, config=base_config(balance={"kind": "focal"}))
    result = CliRunner().invoke(app, ["compare", str(a), str(b), "--resamples", "50", "--out", str(tmp_path / "cmp"),
                                      "-f", "json"])
    assert result.exit_code == 0, result.output
    out = CliRunner().invoke(app, ["report", str(tmp_path / "cmp"), "--out", str(tmp_path / "r" / "cmp.html")])
    assert out.exit_code == 0 and out.stdout.strip() == f"report: {tmp_path / 'r' / 'cmp.html'}"
    text = (tmp_path / "r" / "cmp.html").read_text()
    assert len(embedded_images(text)) == 2  # per-class F1 bars and one confusion difference
    assert "McNemar exact test against the baseline" in text
    assert "<tr><td>B</td><td>12</td><td>1</td><td>3</td><td>0.6250</td><td></td></tr>" in text


def test_report_refuses_other_folders(tmp_path):
    with pytest.raises(ImbrunError) as err:
        write_report(tmp_path)
    assert str(err.value) == (f"{tmp_path}: neither a run folder (metrics.json) nor a comparison folder "
                              "(comparison.json, written by `imbrun compare --out`)")


def test_run_report_renders_in_headless_chromium(run_folder, tmp_path, chromium):
    from PIL import Image

    html = write_report(run_folder, tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    run_chromium(chromium, f"--screenshot={shot}", "--window-size=1000,1400", html.as_uri())
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)  # (1400, 1000) grey levels
    assert pixels.shape == (1400, 1000)
    assert pixels.std() > 10  # not blank: text, tables and the embedded confusion matrix
    assert (pixels < 100).mean() > 0.005  # dark text and the matrix's dark cells are drawn


# Added to a copy of the report only: once the page has loaded, record each image's decoded size in the DOM.
IMAGE_PROBE = ('<script>window.addEventListener("load", () => { document.body.dataset.images = '
               '[...document.images].map(i => i.naturalWidth + "x" + i.naturalHeight).join(","); });</script>')


def test_comparison_report_renders_in_headless_chromium(tmp_path, chromium):
    from PIL import Image

    a = write_run(tmp_path, "A")
    b = write_run(tmp_path, "B", pred=PRED_B, config=base_config(balance={"kind": "focal"}))
    compared = CliRunner().invoke(app, ["compare", str(a), str(b), "--resamples", "50", "--out",
                                        str(tmp_path / "cmp"), "-f", "json"])
    assert compared.exit_code == 0, compared.output
    reported = CliRunner().invoke(app, ["report", str(tmp_path / "cmp")])
    assert reported.exit_code == 0, reported.output
    html = tmp_path / "cmp" / "report.html"
    probed = tmp_path / "probed.html"
    probed.write_text(html.read_text().replace("</body>", IMAGE_PROBE + "</body>"))
    dom = run_chromium(chromium, "--dump-dom", probed.as_uri())
    assert "<h1>imbrun comparison: cmp</h1>" in dom
    assert "McNemar exact test against the baseline (same test rows)" in dom
    assert "<tr><td>B</td><td>12</td><td>1</td><td>3</td><td>0.6250</td><td></td></tr>" in dom  # the p-value
    for name in ("a", "b", "c"):  # each class in the per-class table, against the baseline and for B
        assert f"<tr><td>{name}</td><td>A</td>" in dom and f"<tr><td>{name}</td><td>B</td>" in dom
    sources = re.findall(r'<img [^>]*src="([^"]{0,30})', dom)
    assert len(sources) == 2 and all(src.startswith("data:image/png;base64,") for src in sources)
    # Both embedded PNGs were decoded by the browser, at the size they were saved with.
    sizes = re.search(r'data-images="([^"]*)"', dom).group(1).split(",")
    saved = [Image.open(tmp_path / "cmp" / f).size for f in ("per_class_f1.png", "confusion_diff_01.png")]
    assert sizes == [f"{w}x{h}" for w, h in saved]


def test_report_refuses_a_corrupt_comparison_json(tmp_path):
    folder = tmp_path / "cmp"
    folder.mkdir()
    (folder / "comparison.json").write_text('{"runs": ["A", "B"], "baseline": ')
    out = CliRunner().invoke(app, ["report", str(folder)])
    assert out.exit_code == 2
    assert out.output.strip() == (f"error: {folder / 'comparison.json'}: not valid JSON (Expecting value at line 1, "
                                  "column 34); write it again with imbrun compare ... --out")
    (folder / "comparison.json").write_text(json.dumps({"runs": ["A", "B"], "baseline": "A"}))
    out = CliRunner().invoke(app, ["report", str(folder)])
    assert out.exit_code == 2
    assert out.output.strip() == (f"error: {folder / 'comparison.json'}: not a comparison, missing overall, "
                                  "per_class, config_differences, same_test_rows; write it again with imbrun "
                                  "compare ... --out")


def test_report_refuses_a_run_whose_metrics_have_no_test_block(run_folder):
    (run_folder / "metrics.json").write_text(json.dumps({"class_names": ["a", "b", "c"]}))
    out = CliRunner().invoke(app, ["report", str(run_folder)])
    assert out.exit_code == 2
    assert out.output.strip() == (f"error: {run_folder / 'metrics.json'}: no scored 'test' block (overall, per_class) "
                                  "and class_names; it is not the metrics.json `imbrun train` or `imbrun evaluate` "
                                  "writes")
