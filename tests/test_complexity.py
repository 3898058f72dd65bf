"""The complexity experiment: FLOPs and parameters of tiny networks by hand, the timing table's columns and units."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from echobeat.analysis import robustness_figures
from echobeat.compute import Compute
from echobeat.inference import complexity
from echobeat.stages import complexity as complexity_stage


class TinyVideoNet(torch.nn.Module):
    """Conv3d(3 -> 2, kernel 1) on (3, L, 112, 112), global mean, Linear(2 -> 1)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv3d(3, 2, kernel_size=1)
        self.fc = torch.nn.Linear(2, 1)

    def forward(self, x):
        return self.fc(self.conv(x).mean(dim=(2, 3, 4)))


def test_parameters_by_hand():
    # conv: 3 * 2 weights + 2 biases; fc: 2 weights + 1 bias.
    assert complexity.parameter_count(TinyVideoNet()) == 8 + 3


def test_flops_by_hand():
    # A multiply-add counts two: conv 2 * (3 in * 2 out) per output position (L x 112 x 112 of
    # them); fc 2 * 2 * 1. The mean and the biases are not counted.
    frames = 4
    expected = 2 * 3 * 2 * frames * 112 * 112 + 2 * 2 * 1
    assert complexity.flops_per_clip(TinyVideoNet(), frames, Compute.cpu()) == expected
    # A 3x3x3 convolution, padded: 27 taps per output.
    conv = torch.nn.Conv3d(3, 4, kernel_size=3, padding=1)
    assert complexity.flops_per_clip(conv, 2, Compute.cpu()) == 2 * 3 * 4 * 27 * 2 * 112 * 112


def test_seconds_and_memory_per_clip_are_per_clip():
    model = TinyVideoNet()
    seconds = complexity.seconds_per_clip(model, 2, Compute.cpu(), batch_size=2, warmup=1, repeats=2)
    assert 0 < seconds < 5
    memory = complexity.peak_memory_per_clip(model, 2, Compute.cpu(), batch_size=2)
    # At least the clip itself (3 x 2 x 112 x 112 float32) is held; NaN where /proc forbids the reset.
    assert math.isnan(memory) or memory >= 3 * 2 * 112 * 112 * 4
    with pytest.raises(ValueError, match="repeats"):
        complexity.seconds_per_clip(model, 2, Compute.cpu(), batch_size=1, warmup=0, repeats=0)


def test_device_and_precision_names():
    assert complexity.precision_name(Compute.cpu()) == "fp32"
    assert complexity.precision_name(Compute(torch.device("cpu"), torch.bfloat16)) == "bf16"
    assert complexity.device_name(torch.device("cpu"))


def test_the_timing_table_columns_and_units(monkeypatch, tmp_path):
    # The table's wiring on the tiny network (the real models take seconds per clip on a CPU).
    monkeypatch.setattr(complexity_stage, "video_model", lambda name, weights: TinyVideoNet())
    table = complexity_stage.measure_complexity(
        ["tiny_a", "tiny_b"], [1, 2], period=2, device="cpu", precision="fp32", batch_size=2, warmup=1, repeats=1
    )
    assert table.columns.tolist() == complexity_stage.COMPLEXITY_COLUMNS
    assert table[["model", "frames"]].values.tolist() == [["tiny_a", 1], ["tiny_a", 2], ["tiny_b", 1], ["tiny_b", 2]]
    assert (table["period"] == 2).all() and (table["device"] == "cpu").all() and (table["precision"] == "fp32").all()
    assert (table["parameters"] == 11).all() and (table["batch_size"] == 2).all()
    # GFLOPs (1e9 FLOPs) per clip: the by-hand count at 2 frames.
    two = table[table["frames"] == 2]["gflops_per_clip"]
    assert two.tolist() == pytest.approx([(2 * 6 * 2 * 112 * 112 + 4) / 1e9] * 2)
    assert (table["seconds_per_clip"] > 0).all()
    # MiB per clip: at least the clip's own 3 x L x 112 x 112 float32 bytes.
    memory = table["peak_memory_mb_per_clip"]
    clip_mib = 3 * table["frames"] * 112 * 112 * 4 / 2**20
    assert memory.isna().all() or (memory >= clip_mib).all()
    assert (table["memory_kind"] == complexity.MEMORY_KINDS["cpu"]).all()
    out = [tmp_path / "complexity.png", tmp_path / "complexity.pdf"]
    robustness_figures.complexity_figure(table, out, dpi=50)
    assert all(path.stat().st_size > 0 for path in out)
    robustness_figures.complexity_figure(pd.DataFrame(columns=table.columns), [tmp_path / "empty.png"], dpi=50)


@pytest.mark.slow
def test_a_real_model_on_a_cpu():
    table = complexity_stage.measure_complexity(
        ["r3d_18"], [1], period=1, device="cpu", precision="fp32", batch_size=1, warmup=0, repeats=1
    )
    # R3D-18 with a one-output head: 33,166,785 parameters (torchvision's 33,371,472 less fc's 512 x 399 + 399).
    assert table["parameters"].tolist() == [33_371_472 - 512 * 399 - 399]
    assert table["gflops_per_clip"][0] > 1
