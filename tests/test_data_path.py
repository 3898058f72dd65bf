"""The fast data path: cache contents, clip geometry, normalisation, datasets, invalidation."""

import json
import os
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from reference import clip_frames, pad_and_crop, to_three_channels
from torch.utils.data import DataLoader

from echobeat.data.cache import CacheError, VideoCache, build_cache, entry_paths
from echobeat.data.clips import clip_starts, crop_offsets, n_clips, padded_length, take_clip
from echobeat.data.normalisation import Normaliser, mean_and_std
from echobeat.data.tracings import tracing_mask
from echobeat.data.video_io import read_video, write_video
from echobeat.datasets.clips import ClipDataset, EpochBatches, prebatched
from echobeat.datasets.frames import FrameBatches, TracedFramesDataset
from echobeat.learn.distributed import ShardedBatchSampler
from echobeat.stages._training import shuffle_seed
from echobeat.stages.data import prepare_stage_inputs, synthetic_dataset


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    """The tiny dataset (videos of 30-70 frames) as the data rules leave it: (root, tables, cache index).

    ``tables`` has the ``manifest`` and the kept ``tracings``; the cache lives in root/cache.
    """
    from conftest import tiny_settings

    root = tmp_path_factory.mktemp("datapath")
    synthetic_dataset(tiny_settings(n_videos=6, seed=3), root / "data", threads=2)
    inputs = prepare_stage_inputs(root / "data", root, threads=2)
    tables = SimpleNamespace(
        manifest=pd.read_csv(inputs.manifest, dtype={"FileName": str}),
        tracings=pd.read_csv(inputs.tracings, dtype={"FileName": str}),
    )
    return root, tables, pd.read_csv(inputs.index, dtype={"FileName": str, "Source": str})


def test_hand_worked_clip_geometry():
    # F = 70, 32 x 2: no padding, starts 0..7, the last clip ends on frame 69.
    assert padded_length(70, 32, 2) == 70
    assert n_clips(70, 32, 2) == 8
    assert clip_starts(70, 32, 2).tolist() == list(range(8))
    assert clip_frames(7, 32, 2).tolist() == list(range(7, 70, 2))
    # F = 40: padded to 64 frames, starts 0 and 1; each clip has 20 real frames and 12 padding.
    assert padded_length(40, 32, 2) == 64
    assert clip_starts(40, 32, 2).tolist() == [0, 1]
    video = np.arange(40, dtype=np.uint8).reshape(1, 40, 1, 1)
    frames, n_pad = take_clip(video, 1, 32, 2)
    assert frames.ravel().tolist() == list(range(1, 40, 2)) and n_pad == 12
    frames, n_pad = take_clip(video, 0, 32, 2)
    assert frames.ravel().tolist() == list(range(0, 40, 2)) and n_pad == 12
    with pytest.raises(IndexError):
        take_clip(video, 2, 32, 2)
    # Crop offsets of pad = 12 cover 0..24 in both directions.
    rng = np.random.default_rng(0)
    offsets = np.array([crop_offsets(rng, 12, "symmetric") for _ in range(3000)])
    assert offsets.min() == 0 and offsets.max() == 24
    # The original's range (crop: echonet): randint(0, 2 pad) stops at 23, a shift of -12..11.
    rng = np.random.default_rng(0)
    original = np.array([crop_offsets(rng, 12, "echonet") for _ in range(3000)])
    assert original.min() == 0 and original.max() == 23
    assert set(np.unique(original)) == set(range(24))
    with pytest.raises(ValueError, match="crop must be one of symmetric, echonet"):
        crop_offsets(rng, 12, "asymmetric")


def test_pad_and_crop_moves_the_picture():
    clip = np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4) + 1
    np.testing.assert_array_equal(pad_and_crop(clip, 2, (2, 2)), clip)  # centred crop: unchanged
    shifted = pad_and_crop(clip, 2, (0, 4))  # two rows of padding on top, content moved left by 2
    assert (shifted[:, :, :2] == 0).all() and (shifted[:, :, :, 2:] == 0).all()
    np.testing.assert_array_equal(shifted[:, :, 2:, :2], clip[:, :, :2, 2:])


def test_cache_serves_exactly_the_decoded_video(verified):
    root, result, index = verified
    cache = VideoCache(root / "cache", index)
    assert (index["Channels"] == 1).all(), "identical grey channels are stored once"
    assert index["Frames"].min() < 64
    for name in result.manifest["FileName"]:
        decoded = read_video(root / "data" / "Videos" / f"{name}.avi")
        np.testing.assert_array_equal(to_three_channels(np.asarray(cache.video(name))), decoded)


def test_clips_frames_and_masks_equal_those_from_the_avi(verified):
    root, result, index = verified
    cache = VideoCache(root / "cache", index)
    normaliser = Normaliser([30.0, 31.0, 32.0], [40.0, 41.0, 42.0])
    clips = ClipDataset(cache, result.manifest, 32, 2, "all")
    videos = {name: read_video(root / "data" / "Videos" / f"{name}.avi") for name in clips.names}
    assert len(clips) == sum(n_clips(v.shape[1], 32, 2) for v in videos.values())
    for i in range(len(clips)):
        v, start, _ = clips.locate(i)
        expected, n_pad = take_clip(videos[clips.names[v]], start, 32, 2)
        n = 32 - n_pad
        item = clips[i]  # a batch of one, as the DataLoader hands it over
        np.testing.assert_array_equal(to_three_channels(item.pixels[0, :, :n].numpy()), expected)
        assert item.window[0].tolist() == [n, 0, 112, 0, 112]
        assert (item.videos.item(), item.starts.item()) == (v, start)
        clip = item.normalised(normaliser)[0]
        assert clip.shape == (3, 32, 112, 112) and clip.dtype == torch.float32
        by_hand = (expected.astype(np.float32) - normaliser.mean[:, None, None, None]) / normaliser.std[
            :, None, None, None
        ]
        np.testing.assert_allclose(clip[:, :n].numpy(), by_hand, rtol=0, atol=1e-6)
        assert (clip[:, n:] == 0).all()
        assert item.targets.item() == pytest.approx(result.manifest["EF"].iloc[v])
    traced = TracedFramesDataset(cache, result.manifest, result.tracings, normaliser)
    for i, row in enumerate(result.manifest.itertuples()):
        ed, es, ed_mask, es_mask = traced.raw(i)
        np.testing.assert_array_equal(to_three_channels(ed), videos[row.FileName][:, row.EDFrame])
        np.testing.assert_array_equal(to_three_channels(es), videos[row.FileName][:, row.ESFrame])
        rows = result.tracings[result.tracings["FileName"] == row.FileName]
        for phase, mask in (("ED", ed_mask), ("ES", es_mask)):
            coords = rows[rows["Phase"] == phase][["X1", "Y1", "X2", "Y2"]].to_numpy()
            np.testing.assert_array_equal(mask, tracing_mask(coords, (112, 112)))
        items = traced[i]
        assert [t.shape for t in items] == [(3, 112, 112), (3, 112, 112), (112, 112), (112, 112)]


def test_random_clips_do_not_depend_on_workers(verified):
    # The EF stage's training path: shuffled batches carrying their epoch to workers that live
    # for the whole run (persistent_workers), so no worker is ever told the epoch.
    root, result, index = verified
    normaliser = Normaliser([0, 0, 0], [1, 1, 1])

    def clips_of_two_epochs(workers: int) -> list[list[tuple[torch.Tensor, ...]]]:
        dataset = ClipDataset(
            VideoCache(root / "cache", index), result.manifest, 8, 2, "random", pad=12, crop="symmetric", seed=5
        )
        shuffle = torch.Generator()
        batches = EpochBatches(ShardedBatchSampler(len(dataset), 2, shuffle, rank=0, world=1))
        loader = DataLoader(
            dataset, batch_sampler=batches, num_workers=workers, persistent_workers=workers > 0, collate_fn=prebatched
        )
        epochs = []
        for epoch in (0, 1):
            batches.set_epoch(epoch)
            shuffle.manual_seed(shuffle_seed(5, epoch))
            epochs.append([(b.videos, b.starts, b.window, b.normalised(normaliser)) for b in loader])
        return epochs

    single, several = clips_of_two_epochs(0), clips_of_two_epochs(2)
    assert [len(epoch) for epoch in single] == [3, 3]
    for one, other in zip(single, several, strict=True):
        for a, b in zip(one, other, strict=True):
            for x, y in zip(a, b, strict=True):
                torch.testing.assert_close(x, y, rtol=0, atol=0)
    drawn = [
        {v: (s, tuple(w)) for b in epoch for v, s, w in zip(b[0].tolist(), b[1].tolist(), b[2].tolist(), strict=True)}
        for epoch in single
    ]
    assert drawn[0].keys() == drawn[1].keys() and drawn[0] != drawn[1], "another epoch draws other clips"


def test_random_clips_need_their_epoch(verified):
    root, result, index = verified
    dataset = ClipDataset(VideoCache(root / "cache", index), result.manifest, 8, 2, "random", seed=5)
    with pytest.raises(TypeError, match=r"\(epoch, item\) pairs"):
        dataset.locate(0)
    assert dataset.locate((3, 0)) == dataset.locate((3, 0))


def test_augmented_batches_equal_pad_then_crop(verified):
    root, result, index = verified
    normaliser = Normaliser([30.0, 31.0, 32.0], [40.0, 41.0, 42.0])
    cache = VideoCache(root / "cache", index)
    dataset = ClipDataset(cache, result.manifest, 32, 2, "random", pad=12, crop="symmetric", seed=1)
    items = [(4, i) for i in range(len(dataset))]  # epoch 4
    batch = dataset.__getitems__(items)
    assert batch.pixels.dtype == torch.uint8 and batch.pixels.shape[1] == 1, "grey clips travel as one uint8 channel"
    clips, targets, videos, starts = batch.normalised(normaliser), batch.targets, batch.videos, batch.starts
    offsets = set()
    for i, item in enumerate(items):
        video, start, offset = dataset.locate(item)
        offsets.add(offset)
        frames, n_pad = take_clip(cache.video(dataset.names[video]), start, 32, 2)
        padded = np.concatenate([normaliser(frames), np.zeros((3, n_pad, 112, 112), np.float32)], axis=1)
        expected = pad_and_crop(padded, 12, offset)
        np.testing.assert_allclose(clips[i].numpy(), expected, rtol=0, atol=1e-6)
        assert (videos[i].item(), starts[i].item()) == (video, start)
        assert targets[i].item() == pytest.approx(result.manifest["EF"].iloc[video])
    assert len(offsets) > 1


def test_frame_batches_cover_every_frame_once(verified):
    root, result, index = verified
    cache = VideoCache(root / "cache", index)
    names = result.manifest["FileName"].tolist()
    normaliser = Normaliser([10.0, 10.0, 10.0], [2.0, 2.0, 2.0])
    seen = []
    for workers in (0, 2):
        loader = DataLoader(FrameBatches(cache, names, batch_size=50), batch_size=None, num_workers=workers)
        pairs = set()
        for pixels, videos, indices in loader:
            frames = normaliser.batch(pixels)
            assert frames.shape[0] == videos.shape[0] == indices.shape[0] <= 50
            assert frames.shape[1:] == (3, 112, 112) and frames.dtype == torch.float32
            for frame, v, f in zip(frames, videos.tolist(), indices.tolist(), strict=True):
                assert (v, f) not in pairs
                pairs.add((v, f))
                if f == 3:
                    expected = to_three_channels(np.asarray(cache.video(names[v])[:, 3])).astype(np.float32)
                    np.testing.assert_array_equal(frame.numpy(), (expected - 10) / 2)
        seen.append(pairs)
    assert seen[0] == seen[1] == {(v, f) for v, n in enumerate(names) for f in range(cache.n_frames(n))}


def test_normalisation_matches_a_hand_computation(tmp_path):
    # Constant videos: TRAIN A (40 frames of 10), B (20 frames of 30), C (64 frames of 50);
    # VAL D (frames of 200) must not count. Each 16 x 2 clip has 16 frames; B's has 10 real
    # frames and 6 zero padding frames (padded to 32 frames), whatever its start.
    videos = tmp_path / "Videos"
    specs = {"A": (40, 10, "TRAIN"), "B": (20, 30, "TRAIN"), "C": (64, 50, "TRAIN"), "D": (40, 200, "VAL")}
    for name, (frames, value, _) in specs.items():
        write_video(videos / f"{name}.avi", np.full((frames, 112, 112), value, np.uint8), 50)
    manifest = pd.DataFrame({"FileName": list(specs), "Split": [s[2] for s in specs.values()]})
    index = build_cache(manifest, videos, tmp_path / "cache")
    train = manifest.loc[manifest["Split"] == "TRAIN", "FileName"].tolist()
    stats = mean_and_std(VideoCache(tmp_path / "cache", index), train, samples=128, length=16, period=2, seed=0)
    # Per 16 frames of 112 x 112: A 16 frames of 10, B 10 of 30 and 6 of 0, C 16 of 50.
    n = 48
    mean = (16 * 10 + 10 * 30 + 16 * 50) / n  # 26.25
    mean_sq = (16 * 100 + 10 * 900 + 16 * 2500) / n
    assert stats["mean"] == pytest.approx([mean] * 3)
    assert stats["std"] == pytest.approx([np.sqrt(mean_sq - mean**2)] * 3)  # 19.1077...
    assert stats["mean"][0] == pytest.approx(26.25)
    assert stats["std"][0] == pytest.approx(19.10770, abs=1e-5)
    assert stats["videos"] == 3 and stats["pixels_per_channel"] == n * 112 * 112


def test_damaged_entries_are_rebuilt_and_nothing_else(verified, tmp_path):
    root, result, _ = verified
    data, cache_dir = tmp_path / "data", tmp_path / "cache"
    shutil.copytree(root / "data", data)
    build = lambda: build_cache(result.manifest, data / "Videos", cache_dir, threads=2)  # noqa: E731
    assert build()["Rebuilt"].all()
    assert not build()["Rebuilt"].any(), "an up-to-date cache is reused"
    names = result.manifest["FileName"].tolist()
    entry_paths(cache_dir, names[0]).array.unlink()  # deleted
    with open(entry_paths(cache_dir, names[1]).array, "r+b") as handle:  # truncated
        handle.truncate(1000)
    os.utime(data / "Videos" / f"{names[2]}.avi")  # source touched
    sidecar = entry_paths(cache_dir, names[3]).sidecar  # crash between array and sidecar
    sidecar.unlink()
    assert build().set_index("FileName")["Rebuilt"].to_dict() == {name: int(i < 4) for i, name in enumerate(names)}


def test_readers_never_read_a_damaged_entry_silently(verified, tmp_path):
    root, result, _ = verified
    cache_dir = tmp_path / "cache"
    index = build_cache(result.manifest, root / "data" / "Videos", cache_dir)
    name = result.manifest["FileName"][0]
    array = entry_paths(cache_dir, name).array
    good = np.load(array).copy()
    data = bytearray(array.read_bytes())
    data[-5] ^= 0xFF  # same size, one pixel flipped
    array.write_bytes(bytes(data))
    with pytest.raises(CacheError, match="CRC32"):
        VideoCache(cache_dir, index, heal=False).video(name)
    with open(array, "r+b") as handle:
        handle.truncate(500)
    with pytest.raises(CacheError, match="truncated"):
        VideoCache(cache_dir, index, heal=False).video(name)
    healed = VideoCache(cache_dir, index).video(name)
    np.testing.assert_array_equal(healed, good)
    assert json.loads(entry_paths(cache_dir, name).sidecar.read_text())["bytes"] == array.stat().st_size
