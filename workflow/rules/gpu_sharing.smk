"""Several GPU jobs on one GPU (config `jobs_per_gpu`) with integer slots: docs/decisions.md §6.

This file stands alone (tests/test_gpu_sharing.py includes it in a small workflow of its own).
"""

from snakemake.exceptions import WorkflowError


def _jobs_per_gpu():
    """config["jobs_per_gpu"] (1 when absent), checked: a whole number >= 1."""
    value = config.get("jobs_per_gpu", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise WorkflowError(
            f"jobs_per_gpu must be a whole number >= 1 (GPU jobs sharing one GPU), not {value!r}"
        )
    return value


def _global_value(name, entry):
    """The integer of global resource ``name``: a Resource with .value in Snakemake 9, an int
    in older versions; None when unset."""
    value = getattr(entry, "value", entry)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise WorkflowError(
            f"jobs_per_gpu: the global resource {name}={value!r} is not a whole number, so GPU "
            "slots cannot be counted from it; give --resources gpu=<number of GPUs>."
        )
    return value


def share_gpus(jobs_per_gpu):
    """Map the global `gpu` limit onto `gpu_slots` when GPU jobs share GPUs.

    Returns N, the real number of GPUs (the global `gpu` the user gave), while GPUs are shared;
    None when they are not: jobs_per_gpu is 1, or no global `gpu` was given (SLURM: each job has
    its own GPUs). Idempotent: a second evaluation, or a Snakemake process handed the resources
    already raised (`gpu` = `gpu_slots` = N * jobs_per_gpu), registers nothing and returns the
    same N. `gpu_slots` given by hand otherwise is left as given (None: nothing is mapped).
    """
    if jobs_per_gpu == 1:
        return None
    try:
        resources = workflow.global_resources
        register = workflow.register_resource
    except AttributeError as err:
        raise WorkflowError(
            f"jobs_per_gpu: {jobs_per_gpu} needs workflow.global_resources and "
            "workflow.register_resource, which this Snakemake version does not have (written "
            f"for Snakemake 9.27; {err}). Set jobs_per_gpu: 1 to run GPU jobs one per GPU."
        ) from err
    if "gpu" not in resources:
        return None
    gpus = _global_value("gpu", resources["gpu"])
    if "gpu_slots" in resources:
        slots = _global_value("gpu_slots", resources["gpu_slots"])
        mapped = slots is not None and slots == gpus and slots % jobs_per_gpu == 0
        return slots // jobs_per_gpu if mapped else None
    if gpus is None:
        return None
    register("gpu_slots", gpus * jobs_per_gpu)
    register("gpu", gpus * jobs_per_gpu)
    return gpus


JOBS_PER_GPU = _jobs_per_gpu()
# The real number of GPUs while this process shares them, else None.
SHARED_GPUS = share_gpus(JOBS_PER_GPU)


def job_gpus(gpus):
    """The `gpu` a job on ``gpus`` GPUs declares: ``gpus``, at most the real GPUs when shared
    (the raised global `gpu` would otherwise let Snakemake grant more GPUs than there are).
    """
    return gpus if SHARED_GPUS is None else min(gpus, SHARED_GPUS)


def gpu_slots(gpus=1):
    """The `gpu_slots` a job on ``gpus`` GPUs declares: 1 for one GPU, whole GPUs for several."""
    return 1 if gpus <= 1 else gpus * JOBS_PER_GPU
