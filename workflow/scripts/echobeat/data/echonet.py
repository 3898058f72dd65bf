"""The real EchoNet-Dynamic dataset's sizes (docs/echonet.md §1), in one place.

The workflow sizes its jobs' time limits against them, and the benchmarks project a full
reproduction from them. Plain numbers: the Snakefile reads this module on every parse.
"""

from __future__ import annotations

# FileList.csv rows per split.
SPLIT_VIDEOS = {"TRAIN": 7465, "VAL": 1288, "TEST": 1277}
VIDEOS = sum(SPLIT_VIDEOS.values())  # 10,030

# The videos a run can use: the six 768x1024 / 768x1040 videos have no tracings (five in TRAIN,
# one in TEST), and the original drops every video with fewer than two traced frames.
USABLE_VIDEOS = {"TRAIN": 7460, "VAL": 1288, "TEST": 1276}

# Mean frames per video (lengths run from 28 to 1002).
MEAN_FRAMES = 176
