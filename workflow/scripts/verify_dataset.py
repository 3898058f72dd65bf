"""Rule verify_dataset: check the dataset; write the manifest, exclusions, tracings and report."""

import sys
from pathlib import Path

from echobeat.atomic import write_csv, write_text
from echobeat.data.problems import DatasetError
from echobeat.data.verify import DatasetCheckFailed, VerifySettings, verify_dataset
from echobeat.logs import setup_logging

log = setup_logging(snakemake.log[0])
try:
    result = verify_dataset(
        Path(snakemake.input.filelist).parent,
        VerifySettings(**snakemake.params.settings),
        threads=snakemake.threads,
    )
except DatasetCheckFailed as failure:
    log.error("verification report:\n%s", failure.verification.report())
    log.error("%s", failure)
    sys.exit(1)
except DatasetError as failure:
    log.error("%s", failure)
    sys.exit(1)

write_csv(snakemake.output.manifest, result.manifest)
write_csv(snakemake.output.excluded, result.excluded)
write_csv(snakemake.output.tracings, result.tracings)
write_text(snakemake.output.report, result.report())
log.info(
    "%d usable videos, %d excluded, %d problems reported",
    len(result.manifest),
    len(result.excluded),
    len(result.problems),
)
