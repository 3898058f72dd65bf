"""Rule compare_runs: every EF run's TEST numbers side by side, against the paper's."""

from echobeat.atomic import write_csv, write_text
from echobeat.logs import setup_logging
from echobeat.stages.analysis import compare_runs

setup_logging(snakemake.log[0])
table, markdown = compare_runs(
    snakemake.params.runs, list(snakemake.input.metrics), list(snakemake.input.auc), snakemake.input.dice
)
write_csv(snakemake.output.table, table)
write_text(snakemake.output.markdown, markdown)
