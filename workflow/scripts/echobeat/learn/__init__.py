"""Learning: torch datasets on the cache, the shared training loop with checkpoints, DDP, each stage's task."""
