"""The prepared GPU check: it refuses cleanly without CUDA and runs end to end at smoke sizes on the CPU."""

from __future__ import annotations

import json

import pytest
import torch

from gancourse.cli import main
from gancourse.gpu_check import run_gpu_check


def test_the_gpu_check_refuses_without_cuda_before_writing_anything(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        run_gpu_check("cuda", output=tmp_path / "out")
    assert main(["gpu-check", "--output", str(tmp_path / "out")]) == 1
    assert "needs a CUDA GPU" in capsys.readouterr().err and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_gpu_check_runs_at_smoke_size_on_the_cpu(tmp_path):
    results = run_gpu_check("cpu", smoke=True, output=tmp_path / "out")
    written = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert written["smoke"] and written["card"] is None and len(written["workloads"]) == 8
    assert all(row["measured_seconds"] > 0 and row["flops"] > 0 for row in written["workloads"])
    assert set(written["projection_step_seconds"]) == {"float32", "bfloat16 autocast"}
    paper = written["paper_projection"]
    assert paper["seconds_for_10000_images"] == pytest.approx(paper["seconds"] * 10_000 / paper["images"])
    assert "projection L = 2, R = 2" in (tmp_path / "out" / "gpu_check.txt").read_text()
    assert results["workloads"] == written["workloads"]
