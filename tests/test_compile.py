"""``compile``: the stages' torch.compile wiring, on the CPU in seconds.

Each stage test runs the stage's own code twice, eager and compiled (``compile: default``), in
float32, with torch.compile's ``aot_eager`` backend (``Compute.compile_backend``, test-only): the
same graph capture and forward/backward split as inductor, without generating code. What these
tests hold is the wiring: the compiled module trains the weights that best.pt saves, under their
own names, and computes what the eager module computes. That inductor's generated kernels agree
with eager to float tolerance is PyTorch's contract; bench/compile_check.py checks it for these
stages on the GPU machine (a minute or two per graph on a 2-core CPU, hence not here).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY_EF_RUN

from echobeat.compute import Compute, prepare_device
from echobeat.learn.training import TrainingRun
from echobeat.models.segmentation import segmentation_model
from echobeat.models.weights import save_model
from echobeat.stages import segmentation as segmentation_stage
from echobeat.stages import video as video_stage

# One epoch in float32, with a rate that moves the weights visibly in two steps; the 4 VAL videos
# in one validation batch: one validation graph.
EF_SETTINGS = {**TINY_EF_RUN, "epochs": 1, "lr": 1e-4, "precision": "fp32"}

CHEAP_BACKEND = "aot_eager"


class CountingBackend:
    """CHEAP_BACKEND, counting the graphs it compiles: the proof that a run went through torch.compile."""

    def __init__(self):
        self.graphs = 0
        self._compile = torch._dynamo.lookup_backend(CHEAP_BACKEND)

    def __call__(self, graph, example_inputs):
        self.graphs += 1
        return self._compile(graph, example_inputs)


@pytest.fixture
def cheap_compile(monkeypatch) -> CountingBackend:
    """The stages compile with a CountingBackend: their prepare_device, and nothing else, patched."""
    backend = CountingBackend()

    def prepare(*args, **kwargs) -> Compute:
        return dataclasses.replace(prepare_device(*args, **kwargs), compile_backend=backend)

    for stage in (video_stage, segmentation_stage):
        monkeypatch.setattr(stage, "prepare_device", prepare)
    return backend


def test_compile_setting_is_checked():
    with pytest.raises(ValueError, match="compile must be one of"):
        prepare_device("cpu", 1, "fp32", compile="fast")
    eager = Compute.cpu()
    model = torch.nn.Linear(2, 1)
    assert eager.compiled(model) is model, "eager mode hands back the model itself"
    compiling = prepare_device("cpu", 1, "fp32", compile="default")
    assert (compiling.compile_mode, compiling.compile_backend) == ("default", "inductor"), "jobs compile with inductor"


def test_training_run_compiles_each_network_once():
    """One process: training and validation share one compiled module (torch recompiles it for eval
    mode). With a wrapper that trains (DDP), the wrapper is compiled for training and the bare
    model for validation. Either way compiled once per run, around the modules themselves."""
    compute = Compute(torch.device("cpu"), compile_mode="default", compile_backend=CHEAP_BACKEND)
    model, wrapper = torch.nn.Linear(2, 1), torch.nn.Sequential(torch.nn.Linear(2, 1))
    alone = TrainingRun(model, None, None, {}, 1, None, "", compute)
    networks = alone.networks()
    assert networks["train"] is networks["val"] and networks["train"]._orig_mod is model
    assert alone.networks() is networks, "compiled once per run"
    wrapped = TrainingRun(model, None, None, {}, 1, None, "", compute, trained=wrapper).networks()
    assert wrapped["train"]._orig_mod is wrapper and wrapped["val"]._orig_mod is model
    eager = TrainingRun(model, None, None, {}, 1, None, "", Compute.cpu(), trained=wrapper).networks()
    assert eager == {"train": wrapper, "val": model}


@pytest.mark.slow
def test_compiled_ef_training_matches_eager(stage_inputs, tmp_path, cheap_compile):
    paths = [stage_inputs.manifest, stage_inputs.index, stage_inputs.normalisation]
    _, untrained = video_stage.training_run({**EF_SETTINGS, "compile": "none"}, *paths, str(tmp_path), Compute.cpu())
    start = {key: value.clone() for key, value in untrained.model.state_dict().items()}
    logs, states = {}, {}
    for mode in ("none", "default"):
        out = tmp_path / mode
        logs[mode] = video_stage.train_process({**EF_SETTINGS, "compile": mode}, *paths, str(out), threads=2)
        states[mode] = torch.load(out / "best.pt", weights_only=True)["model"]
    assert cheap_compile.graphs > 0, "the compiled run went through torch.compile"
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


def test_compiled_segmentation_gives_the_same_sizes(stage_inputs, tmp_path, cheap_compile):
    torch.manual_seed(12)
    model = segmentation_model("lraspp_mobilenet_v3_large", "random")
    with torch.no_grad():  # about half the pixels on each side, so that the sizes say something
        model.classifier.high_classifier.bias.fill_(0.0)
        model.classifier.low_classifier.bias.fill_(0.0)
    best = tmp_path / "best.pt"
    save_model(best, model.state_dict(), 0, 0.0, {"task": "segmentation", "model": "lraspp_mobilenet_v3_large"})
    manifest = pd.read_csv(stage_inputs.manifest)
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
    paths = [stage_inputs.manifest, stage_inputs.index, stage_inputs.normalisation]
    sizes = {
        mode: segmentation_stage.sizes({**settings, "compile": mode}, str(best), *paths, threads=2)
        for mode in ("none", "default")
    }
    assert cheap_compile.graphs > 0, "the compiled run went through torch.compile"
    eager, compiled = sizes["none"], sizes["default"]
    assert eager["Size"].std() > 0, "the sizes vary: a comparison of constants would prove nothing"
    assert eager[["Filename", "Frame"]].equals(compiled[["Filename", "Frame"]])
    # A pixel whose logit sits within float error of 0 may flip: at most a few per frame.
    assert (eager["Size"] - compiled["Size"]).abs().max() <= 2
