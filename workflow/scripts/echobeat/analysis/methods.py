"""The EF methods: how one EF per video is made from a model's clip predictions.

- ``single_clip``: the clip starting at frame 0 (the R script's "single clip"; the EF stage's
  metrics called it ``first_clip`` before they moved here);
- ``one_clip``: one seeded random clip per video (the original's one-clip test pass);
- ``all_clips``: the mean over every clip of the video (the paper's test-time augmentation);
- ``beat_by_beat``: the mean over the clips centred on the detected end-systoles.
"""

from __future__ import annotations

EF_METHODS = {
    "single_clip": "single clip (frame 0)",
    "one_clip": "one random clip",
    "all_clips": "all clips",
    "beat_by_beat": "beat-by-beat",
}
# The methods the beat-by-beat table holds a column of (one_clip is drawn from the clip predictions).
TABLE_METHODS = ("single_clip", "all_clips", "beat_by_beat")
# The methods whose HFrEF AUCs are reported (the published AUCs are of the all-clip means).
AUC_METHODS = ("all_clips", "beat_by_beat")
