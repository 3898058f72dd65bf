"""Weight files: the original's checkpoints load, bad files are refused in one line, ImageNet backbone."""

import json
import urllib.error

import pytest
import torch
import torchvision

from echobeat.errors import UserError
from echobeat.models.segmentation import segmentation_model
from echobeat.models.video import video_model
from echobeat.models.weights import WeightsError, read_weights_file


class PickledCode:
    """A Python object in a weights file: what ``weights_only`` loading refuses."""


def save_original_checkpoint(model: torch.nn.Module, path, **extra) -> None:
    """A checkpoint as the original code writes it: the state of a DataParallel-wrapped model."""
    wrapped = torch.nn.DataParallel(model)
    torch.save({"epoch": 44, "state_dict": wrapped.state_dict(), "best_loss": 17.5, "loss": 18.0, **extra}, path)


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0)


def test_an_original_video_checkpoint_loads_key_for_key(tmp_path):
    torch.manual_seed(1)
    original = video_model("r3d_18", "random", bias=55.6)
    path = tmp_path / "r3d_18_32_2_pretrained.pt"
    optimiser = torch.optim.SGD(original.parameters(), lr=1e-4, momentum=0.9)
    save_original_checkpoint(original, path, opt_dict=optimiser.state_dict(), frames=32, period=2)
    assert all(key.startswith("module.") for key in torch.load(path, weights_only=True)["state_dict"])
    checkpoint = read_weights_file(path)
    assert checkpoint.origin == "echonet" and checkpoint.meta["frames"] == 32 and checkpoint.meta["epoch"] == 44
    torch.manual_seed(2)  # another initialisation: everything must come from the file
    loaded = video_model("r3d_18", str(path), bias=50.0)
    assert_same_weights(loaded, original)
    assert loaded.fc.bias.item() == pytest.approx(55.6)


def test_an_original_segmentation_checkpoint_loads_into_deeplabv3(tmp_path):
    torch.manual_seed(3)
    original = segmentation_model("deeplabv3_resnet50", "random")
    assert original.classifier[4].out_channels == 1 and original.aux_classifier is None
    path = tmp_path / "deeplabv3_resnet50_random.pt"
    save_original_checkpoint(original, path)
    assert "module.classifier.4.weight" in torch.load(path, weights_only=True)["state_dict"]
    torch.manual_seed(4)
    assert_same_weights(segmentation_model("deeplabv3_resnet50", str(path)), original)


def test_a_checkpoint_of_another_model_names_what_does_not_fit(tmp_path):
    path = tmp_path / "r2plus1d.pt"
    save_original_checkpoint(video_model("r2plus1d_18", "random"), path)
    with pytest.raises(WeightsError) as caught:
        video_model("r3d_18", str(path))
    message = str(caught.value)
    assert str(path) in message and "(echonet format) does not fit the model r3d_18" in message
    assert "missing" in message and "unexpected" in message and "\n" not in message
    # A head of another size (the original's fc before it was replaced: 400 Kinetics classes).
    kinetics = torchvision.models.video.r3d_18(weights=None)
    torch.save({"state_dict": kinetics.state_dict()}, path)
    with pytest.raises(WeightsError, match=r"another shape: fc.weight \(file \(400, 512\), model \(1, 512\)\)"):
        video_model("r3d_18", str(path))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("truncated", "is not a readable PyTorch checkpoint"),
        ("text", "is not a readable PyTorch checkpoint"),
        ("empty", "is empty"),
        ("no_weights", "holds no model weights"),
        ("code", "holds Python code, not only tensors (it refers to "),
    ],
)
def test_a_bad_weights_file_is_one_clear_line_naming_it(tmp_path, content, expected):
    good = tmp_path / "good.pt"
    save_original_checkpoint(video_model("mc3_18", "random"), good)
    path = tmp_path / f"{content}.pt"
    if content == "truncated":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif content == "text":
        path.write_text("this is not a checkpoint\n")
    elif content == "empty":
        path.write_bytes(b"")
    elif content == "code":
        torch.save({"model": PickledCode()}, path)
    else:
        torch.save({"epoch": 3, "best_loss": 1.0}, path)
    with pytest.raises(WeightsError) as caught:
        video_model("mc3_18", str(path))
    message = str(caught.value)
    assert expected in message and str(path) in message and "\n" not in message
    if content == "code":
        # Named, and never torch's advice to load with weights_only=False, which would run its code.
        assert "PickledCode" in message and "weights_only" not in message and "damaged" not in message
    assert isinstance(caught.value, UserError), "rule scripts log it without a traceback"


def test_our_best_pt_is_self_describing(tmp_path):
    from echobeat.models.weights import model_card, save_model

    model = video_model("mc3_18", "random")
    card = model_card(
        "ef", {"model": "mc3_18", "frames": 16, "period": 4}, ("model", "frames", "period"), [1, 2, 3], [4, 5, 6]
    )
    save_model(tmp_path / "best.pt", model.state_dict(), 7, 12.5, card)
    checkpoint = read_weights_file(tmp_path / "best.pt")
    assert checkpoint.origin == "echobeat" and checkpoint.meta["epoch"] == 7
    assert checkpoint.meta["frames"] == 16 and checkpoint.meta["normalisation"] == {"mean": [1, 2, 3], "std": [4, 5, 6]}
    assert_same_weights(video_model("mc3_18", str(tmp_path / "best.pt")), model)


def test_imagenet_backbone_comes_from_torchvision_cache_and_the_head_is_random(tmp_path, monkeypatch):
    """The original's default model: ImageNet ResNet-50 backbone, random ASPP head and 1-channel conv."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    torch.manual_seed(5)
    imagenet = torchvision.models.resnet50(weights=None)
    url = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.url
    cached = tmp_path / "torch" / "hub" / "checkpoints" / url.rsplit("/", 1)[-1]
    cached.parent.mkdir(parents=True)
    torch.save(imagenet.state_dict(), cached)  # stands in for the download: no network in tests
    torch.manual_seed(6)
    model = segmentation_model("deeplabv3_resnet50", "imagenet_backbone")
    torch.testing.assert_close(model.backbone.conv1.weight, imagenet.conv1.weight, rtol=0, atol=0)
    torch.testing.assert_close(model.backbone.layer4[2].conv3.weight, imagenet.layer4[2].conv3.weight, rtol=0, atol=0)
    assert model.classifier[4].out_channels == 1 and model.aux_classifier is None
    torch.manual_seed(7)
    again = segmentation_model("deeplabv3_resnet50", "imagenet_backbone")
    assert not torch.equal(again.classifier[4].weight, model.classifier[4].weight), "the head is drawn from the seed"


def test_imagenet_backbone_offline_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline, raising=False)
    with pytest.raises(WeightsError, match="ImageNet backbone weights for deeplabv3_resnet50") as caught:
        segmentation_model("deeplabv3_resnet50", "imagenet_backbone")
    assert "~/.cache/torch/hub/checkpoints" in str(caught.value) and "segmentation.weights" in str(caught.value)


def test_given_normalisation_replaces_the_computed_one():
    from echobeat.data.normalisation import normalisation_stats

    given = normalisation_stats(None, [], {"samples": 128, "mean": [30, 31, 32.5], "std": [50, 51, 52]})
    assert given["mean"] == [30.0, 31.0, 32.5] and given["std"] == [50.0, 51.0, 52.0]
    assert "given in the config" in given["source"]
    json.dumps(given)
    with pytest.raises(ValueError, match="mean and std together"):
        normalisation_stats(None, [], {"mean": [1, 2, 3], "std": None})


def test_released_style_checkpoints_ignore_the_rest_of_the_dict(tmp_path):
    """Scalars of the original's dict (epoch, losses, r2) travel as meta; tensors there do not matter."""
    model = video_model("mc3_18", "random")
    path = tmp_path / "x.pt"
    save_original_checkpoint(model, path, r2=0.8, scheduler_dict={"step_size": 15})
    checkpoint = read_weights_file(path)
    assert checkpoint.meta == {"epoch": 44, "best_loss": 17.5}
    assert_same_weights(video_model("mc3_18", str(path)), model)
