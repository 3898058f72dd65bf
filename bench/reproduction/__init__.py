"""The full reproduction's wall time on one GPU, projected from measurements at the real dataset's size.

Not a test. On a machine with a GPU, from the repository root (about 8 minutes in all):

    python -m bench.reproduction --out reproduction.json
    python -m bench.reproduction --quick --device cpu      # a smoke run of the script (1-2 min)

(``python bench/reproduction`` runs the same.) The modules: ``report`` (the JSON, the budget, the
summary), ``dataset`` (generation in frame bands, replication), ``measure`` (training and inference
rates), ``contention`` (two jobs sharing the GPU), ``schedule`` (projection and the best schedule),
``__main__`` (options and the plan).

1. Data. A synthetic dataset of the real size and shape (docs/echonet.md §1): 10,030 videos
   split 7465 / 1288 / 1277, 112x112, frame counts 28-1002 (mean ~176) and frame rates 18-138
   (most 50 fps), with tracings, written by the library's own generator on all cores. The
   generator draws frame counts uniformly between a minimum and a maximum, so the script calls
   it once per frame-count band and merges the bands (a piecewise-uniform mixture with the
   real mean and tail). Generating 10,030 videos does not fit the time (0.26-0.56 CPU seconds
   per video on the project's CPU machine: 3-6 minutes on 16 cores, and as much again to verify
   and cache them), so by default ``--distinct`` (1000) videos are generated, verified
   (``verify_dataset``) and cached (``build_cache``) on all cores, each timed, and their cache
   entries are then hard-linked under new names up to ``--videos`` (manifest, tracings and
   cache index list all of them): the stages, the cache checks and the DataLoaders see the
   real size. The JSON says what was done (``data_stage.replication``).
2. Rates, with the workflow's own code: ``stages.segmentation.training_run`` and
   ``stages.video.training_run`` (every configured EF run) timed with ``learn.training.run_epoch``
   (warm-up, then a timed call of many steps; then a whole validation pass, twice);
   ``inference.segmentation.frame_sizes`` on TEST videos; ``inference.video.predict_clips``
   on all the clips of TEST videos. Each in every ``--precisions`` x ``--compile`` variant (the
   config's variant first), with the data-wait share and the peak GPU memory; compile time
   happens in the warm-up and is recorded, not timed. (The two inference functions build their
   DataLoader inside, so their data wait is not observable: the loader alone is timed instead,
   ``loader_headroom`` = its rate / the stage's.) Then, if cheap, two training jobs at once
   in two processes (segmentation and the first EF run): how much each slows down when they
   share the GPU.
3. Projection of ``config/config.yaml``'s chain (50 segmentation epochs, evaluation, size
   inference, each EF run's 45 epochs and all-clip inference on VAL+TEST, the data stage) on one
   GPU: jobs one after another, and the best schedule with two GPU jobs sharing the GPU
   (``jobs_per_gpu: 2``; 16 cores hold two 8-thread jobs).

Options: ``--precisions bf16,fp32``, ``--compile none,default`` (any of the library's modes),
``--threads`` (per GPU job; default the config's, 8 = 7 DataLoader workers + 1), ``--data-threads``
(default all cores), ``--budget-s 480``, ``--workdir``, ``--videos``/``--distinct``,
``--train-seconds``/``--size-frames``/``--clip-count`` (the size of each measurement),
``--jobs-per-gpu 2``, ``--no-contention``, ``--quick`` (a 40-video dataset of 16 distinct short
videos, LR-ASPP for segmentation, 4x8 clips, batch 1-2, one or two steps, one thread: checks
the script on a CPU, measures nothing).

Everything goes to one JSON (``--out``), rewritten atomically after every stage; a stage that
fails is recorded there and the others go on; ``--budget-s`` skips what would not fit.
``--workdir`` keeps the dataset: a second run reuses it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

START = time.monotonic()  # before the heavy imports: the budget counts them

REPO = Path(__file__).resolve().parents[2]
# The library from this checkout, also before `pip install -e .`.
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
