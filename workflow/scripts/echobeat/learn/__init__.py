"""Learning: the shared training loop with checkpoints, DDP, and each stage's task (loss and metrics)."""
