"""torch datasets on the video cache, shared by training and inference: clips, traced frames, frame batches.

Below ``learn`` and ``inference``, above ``data``: it imports only ``data`` and the base modules.
"""
