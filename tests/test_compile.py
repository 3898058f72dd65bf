"""``compile``: torch.compile'd models compute what eager ones do, to float tolerance, on the CPU.

Each test runs the stage's own code twice, eager and compiled (``compile: default``, inductor),
in float32. Compiling costs a minute or two per graph on two cores, so the datasets are tiny
and the batches sized to avoid recompiling for a ragged last batch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY_EF_RUN

from echobeat.compute import Compute, prepare_device
from echobeat.models.segmentation import segmentation_model
from echobeat.models.weights import save_model
from echobeat.stages import segmentation as segmentation_stage
from echobeat.stages import video as video_stage

# One epoch in float32, with a rate that moves the weights visibly in two steps; the 4 VAL videos
# in one validation batch: one validation graph.
EF_SETTINGS = {**TINY_EF_RUN, "epochs": 1, "lr": 1e-4, "precision": "fp32"}


@pytest.fixture(scope="module")
def stage_inputs(tmp_path_factory) -> dict[str, str]:
    """16 tiny synthetic videos: 8 TRAIN (two batches of 4), 4 VAL, 4 TEST."""
    from conftest import stage_inputs_in, tiny_settings

    synthetic = tiny_settings(n_videos=16, seed=5, frames={"min": 30, "max": 40})
    return stage_inputs_in(tmp_path_factory.mktemp("compile"), synthetic)


def test_compile_setting_is_checked():
    with pytest.raises(ValueError, match="compile must be one of"):
        prepare_device("cpu", 1, "fp32", compile="fast")
    eager = Compute.cpu()
    model = torch.nn.Linear(2, 1)
    assert eager.compiled(model) is model, "eager mode hands back the model itself"


def test_compiled_ef_training_matches_eager(stage_inputs, tmp_path):
    paths = [stage_inputs[k] for k in ("manifest", "index", "normalisation")]
    _, untrained = video_stage.training_run({**EF_SETTINGS, "compile": "none"}, *paths, str(tmp_path), Compute.cpu())
    start = {key: value.clone() for key, value in untrained.model.state_dict().items()}
    logs, states = {}, {}
    for mode in ("none", "default"):
        out = tmp_path / mode
        logs[mode] = video_stage.train_process({**EF_SETTINGS, "compile": mode}, *paths, str(out), threads=2)
        states[mode] = torch.load(out / "best.pt", weights_only=True)["model"]
    eager, compiled = logs["none"], logs["default"]
    assert eager[["epoch", "phase", "samples"]].equals(compiled[["epoch", "phase", "samples"]])
    # The training loss (forward and backward compiled) and the validation loss (the eval-mode graph).
    np.testing.assert_allclose(compiled["loss"], eager["loss"], rtol=1e-4)
    assert not any(key.startswith("_orig_mod") for key in states["default"]), "best.pt holds the bare model's keys"
    # Two SGD steps moved the weights; both modes moved them the same way, to float error.
    trained = [key for key, value in start.items() if value.is_floating_point()]
    step = torch.cat([(states["none"][k] - start[k]).flatten() for k in trained])
    apart = torch.cat([(states["default"][k] - states["none"][k]).flatten() for k in trained])
    assert step.norm() > 0
    assert apart.norm() <= 1e-3 * step.norm(), f"{apart.norm()} apart for a step of {step.norm()}"


def test_compiled_segmentation_gives_the_same_sizes(stage_inputs, tmp_path):
    torch.manual_seed(12)
    model = segmentation_model("lraspp_mobilenet_v3_large", "random")
    with torch.no_grad():  # about half the pixels on each side, so that the sizes say something
        model.classifier.high_classifier.bias.fill_(0.0)
        model.classifier.low_classifier.bias.fill_(0.0)
    best = tmp_path / "best.pt"
    save_model(best, model.state_dict(), 0, 0.0, {"task": "segmentation", "model": "lraspp_mobilenet_v3_large"})
    manifest = pd.read_csv(stage_inputs["manifest"])
    test_frames = int(manifest.loc[manifest["Split"] == "TEST", "NumberOfFrames"].sum())
    settings = {
        "model": "lraspp_mobilenet_v3_large",
        "device": "cpu",
        "precision": "fp32",
        # Every TEST frame in one batch: one graph, no recompilation for a smaller last batch.
        "inference_batch_size": test_frames,
        "size_splits": ["TEST"],
        "beats": {"trim": "echonet"},
    }
    paths = [stage_inputs[k] for k in ("manifest", "index", "normalisation")]
    sizes = {
        mode: segmentation_stage.sizes({**settings, "compile": mode}, str(best), *paths, threads=2)
        for mode in ("none", "default")
    }
    eager, compiled = sizes["none"], sizes["default"]
    assert eager["Size"].std() > 0, "the sizes vary: a comparison of constants would prove nothing"
    assert eager[["Filename", "Frame"]].equals(compiled[["Filename", "Frame"]])
    # A pixel whose logit sits within float error of 0 may flip: at most a few per frame.
    assert (eager["Size"] - compiled["Size"]).abs().max() <= 2
