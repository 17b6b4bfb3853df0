"""The gigapixel benchmark runs end to end on a small image and writes every stage's numbers (a smoke run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gigapixel.py"


@pytest.mark.slow
def test_small_run_measures_every_stage_in_its_own_process(tmp_path: Path) -> None:
    out = tmp_path / "giga.json"
    argv = ["--side", "2048", "--generator", "mock", "--cache", str(tmp_path), "--scratch", str(tmp_path)]
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *argv, "--json", str(out)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    r = json.loads(out.read_text())
    assert "errors" not in r
    st = r["stages"]
    assert set(st) == {"import", "grow", "pyramid", "tiff", "ui"}
    assert set(r["pyvips"]) == {"import", "tiff"}
    assert r["pyvips"]["import"]["output"] == [2048, 2048]
    # the grow step added one 512-px column band over the whole edge, on the cluster's workers
    assert st["grow"]["output"]["size"] == {"width": 2560, "height": 2048}
    assert len(st["grow"]["cluster"]["workers"]) == 2
    assert st["pyramid"]["output"] > 0  # the grown chunks were reduced by the pyramid stage
    assert st["tiff"]["bytes"] > 0
    assert st["ui"]["tiles"] >= 1
    pids = {st[k]["cluster"]["cluster_process"]["pid"] for k in ("grow", "pyramid")}
    assert len(pids) == 2  # a fresh cluster per stage, so each peak is that stage's
    for key in ("import", "grow", "pyramid", "tiff", "ui"):
        assert st[key]["peak_rss"] > 20 * 2**20
    assert "| 5. first UI view" in r["markdown"]
    assert not list(tmp_path.glob("bench_gigapixel_*"))  # the scratch folder is removed
