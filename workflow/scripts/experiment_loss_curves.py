"""Rule experiment_loss_curves: train and validation loss per epoch of the EF runs and the segmentation run."""

from echobeat.atomic import write_csv
from echobeat.logs import setup_logging
from echobeat.stages.experiments import loss_curves

setup_logging(snakemake.log[0])
points = loss_curves(
    snakemake.params.settings,
    list(snakemake.input.ef_logs),
    snakemake.input.segmentation_log,
    dict(snakemake.output.items()),
)
write_csv(snakemake.output.points, points)
