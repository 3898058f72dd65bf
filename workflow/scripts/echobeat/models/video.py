"""EF video models: torchvision's video ResNets with the original's one-output regression head.

``weights`` is ``pretrained`` (Kinetics-400, downloaded on first use), ``random``, or the path
of a weights file in any format of :mod:`echobeat.models.weights` (our best.pt, the original's
checkpoints such as the released ``r2plus1d_18_32_2_pretrained.pt``). The head is Linear(512, 1) whose
bias starts at ``bias`` (the original hard-codes 55.6, the dataset's mean EF).
"""

from __future__ import annotations

import torch
import torchvision

from echobeat.compute import Compute
from echobeat.data.normalisation import Normaliser
from echobeat.models.weights import download_error, load_weights

VIDEO_MODELS = ("r2plus1d_18", "r3d_18", "mc3_18")
ECHONET_BIAS = 55.6


class Float32Head(torch.nn.Linear):
    """The EF head, computed in float32 even under autocast: in bf16 an EF near 55 would come out
    in steps of 0.25 (0.5 above 64). Same parameters as the Linear it replaces."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x.to(self.weight.dtype))


def video_model(name: str, weights: str, bias: float = ECHONET_BIAS) -> torch.nn.Module:
    """A torchvision video ResNet whose fc is Linear(512, 1) with the given bias."""
    if name not in VIDEO_MODELS:
        raise ValueError(f"unknown video model {name!r}; choose one of {', '.join(VIDEO_MODELS)}")
    builder = getattr(torchvision.models.video, name)
    if weights == "pretrained":
        try:
            model = builder(weights="DEFAULT")
        except Exception as err:  # network errors come in many types
            raise download_error("the run's weights", f"Kinetics-400 weights for {name}", err) from None
    else:
        model = builder(weights=None)
    model.fc = Float32Head(model.fc.in_features, 1)
    with torch.no_grad():
        model.fc.bias.fill_(bias)
    if weights not in ("pretrained", "random"):
        load_weights(model, weights, f"{name} with an fc of Linear(512, 1)")
    return model


def forward_batch(model: torch.nn.Module, batch, normaliser: Normaliser, compute: Compute) -> torch.Tensor:
    """(B,) predictions of a :class:`~echobeat.datasets.clips.ClipBatch`: float32, or float64 from a
    float64 model (the distributed tests compare in float64)."""
    x = batch.normalised(normaliser, compute.device).to(next(model.parameters()).dtype)
    out = model(compute.layout(x))[:, 0]
    return out.to(torch.promote_types(out.dtype, torch.float32))
