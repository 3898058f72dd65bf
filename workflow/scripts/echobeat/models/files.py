"""Model files given by path: what architecture, clip geometry and normalisation running one needs.

Our ``best.pt`` describes itself in its ``meta`` (:func:`echobeat.models.weights.model_card`). A
checkpoint of the original code carries its clip geometry but no normalisation, and a bare state
dict carries neither: the EF architecture is then recognised from the weights' names and shapes,
the segmentation architecture is the caller's choice, and the normalisation must be given.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from echobeat.data.normalisation import Normaliser
from echobeat.models.segmentation import segmentation_model
from echobeat.models.video import VIDEO_MODELS, video_model
from echobeat.models.weights import WeightsError, fit_problems, load_weights, read_weights_file

# The original's clip (docs/echonet.md §2): what a file that does not say its geometry was trained on.
ECHONET_FRAMES, ECHONET_PERIOD = 32, 2


@dataclass(frozen=True)
class ModelFile:
    """A segmentation model file: its architecture and the normalisation its inputs need."""

    path: str
    model: str
    mean: list[float]
    std: list[float]

    @property
    def normaliser(self) -> Normaliser:
        return Normaliser(self.mean, self.std)


@dataclass(frozen=True)
class EFModelFile(ModelFile):
    """An EF model file: also the clip it takes (``frames`` frames, one every ``period``)."""

    frames: int
    period: int


def _normalisation(meta: dict, given: dict | None, path: str) -> tuple[list[float], list[float]]:
    if "normalisation" in meta:
        return meta["normalisation"]["mean"], meta["normalisation"]["std"]
    if not given:
        raise WeightsError(
            f"model file {path} carries no normalisation (a checkpoint of the original code): "
            "set predict.normalisation: {mean: [...], std: [...]} to the statistics it was trained with"
        )
    return list(given["mean"]), list(given["std"])


def ef_model_file(path: str, normalisation: dict | None) -> EFModelFile:
    """What an EF model file is: from its meta, or recognised from its weights (the original's files).
    ``normalisation`` ({mean, std}) serves a file that carries none."""
    weights = read_weights_file(path)
    meta = weights.meta
    name = meta.get("model")
    if name is None:
        # Models on the meta device cost no memory: only their parameter names and shapes are compared.
        with torch.device("meta"):
            fitting = [m for m in VIDEO_MODELS if not fit_problems(video_model(m, "random"), weights.state)]
        if not fitting:
            raise WeightsError(f"model file {path} is none of the EF models {', '.join(VIDEO_MODELS)}")
        name = fitting[0]
    mean, std = _normalisation(meta, normalisation, path)
    frames, period = int(meta.get("frames", ECHONET_FRAMES)), int(meta.get("period", ECHONET_PERIOD))
    return EFModelFile(str(path), name, mean, std, frames, period)


def segmentation_model_file(path: str, model: str, normalisation: dict | None) -> ModelFile:
    """What a segmentation model file is: from its meta, else architecture ``model`` and ``normalisation``."""
    meta = read_weights_file(path).meta
    mean, std = _normalisation(meta, normalisation, path)
    return ModelFile(str(path), meta.get("model", model), mean, std)


def load_ef_model(path: str, normalisation: dict | None) -> tuple[torch.nn.Module, EFModelFile]:
    """The EF model of a file, on the CPU with its weights loaded, and what the file is."""
    spec = ef_model_file(path, normalisation)
    model = video_model(spec.model, "random")
    load_weights(model, path, spec.model)
    return model, spec


def load_segmentation_model(path: str, model: str, normalisation: dict | None) -> tuple[torch.nn.Module, ModelFile]:
    """The segmentation model of a file, on the CPU with its weights loaded, and what the file is."""
    spec = segmentation_model_file(path, model, normalisation)
    network = segmentation_model(spec.model, "random")
    load_weights(network, path, spec.model)
    return network, spec
