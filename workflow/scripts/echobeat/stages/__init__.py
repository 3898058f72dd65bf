"""Stages: what each Snakemake rule does, wiring the library for it, the data stage's outputs, and each rule's keys."""
