"""Inference: models on videos, no label needed (per-frame LV sizes and beats, clip EF predictions, overlays)."""
