"""`imbrun report`: one self-contained HTML file for a run or a comparison, rendered by a real browser."""

import base64
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
    assert "<tr><td>b</td><td>1.0000</td><td>0.5000</td><td>0.6667</td><td>4</td><td></td><td></td></tr>" in text
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


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
def test_report_renders_in_headless_chromium(run_folder, tmp_path):
    from PIL import Image

    html = write_report(run_folder, tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--no-first-run", f"--user-data-dir={tempfile.mkdtemp()}",
                    f"--screenshot={shot}", "--window-size=1000,1400", html.as_uri()],
                   check=True, capture_output=True, timeout=60)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)  # (1400, 1000) grey levels
    assert pixels.shape == (1400, 1000)
    assert pixels.std() > 10  # not blank: text, tables and the embedded confusion matrix
    assert (pixels < 100).mean() > 0.005  # dark text and the matrix's dark cells are drawn
