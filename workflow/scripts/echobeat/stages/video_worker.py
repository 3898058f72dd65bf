"""One process of a distributed EF training run: ``torchrun ... -m echobeat.stages.video_worker spec.json``.

Started by :func:`echobeat.learn.distributed.launch`; the spec holds the arguments of
:func:`echobeat.stages.video.train_process`, the backend and the job's log file, which every rank
appends to (rank 0 everything, the others their warnings and errors).
"""

from __future__ import annotations

import json
import logging
import os
import sys

import torch
import torch.distributed as dist

from echobeat.compute import prepare_device
from echobeat.logs import setup_logging
from echobeat.stages.video import train_process


def main(spec_path: str) -> None:
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    # Rank 0 tells the story; the others add their warnings and errors, labelled.
    setup_logging(
        spec["log"], append=True, label=f"rank {rank}: ", level=logging.INFO if rank == 0 else logging.WARNING
    )
    if spec["backend"] == "nccl":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
        dist.init_process_group(backend="nccl", device_id=device)
    else:
        device = torch.device("cpu")
        dist.init_process_group(backend=spec["backend"])
    settings = spec["settings"]
    compute = prepare_device(str(device), spec["threads"], settings["precision"], compile=settings["compile"])
    try:
        train_process(
            spec["settings"],
            spec["manifest"],
            spec["index"],
            spec["normalisation"],
            spec["out_dir"],
            spec["threads"],
            compute=compute,
        )
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
