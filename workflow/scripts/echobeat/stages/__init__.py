"""Stages: what each Snakemake rule does, wiring the library for it, and the config keys each rule gets."""
