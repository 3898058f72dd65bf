"""Rule predict_examples: a few TEST videos of the synthetic dataset as AVI, MP4 and DICOM, for `predict`."""

from pathlib import Path

from echobeat.data.predict_examples import write_examples
from echobeat.logs import setup_logging

log = setup_logging(snakemake.log[0])
names = write_examples(Path(snakemake.input.filelist).parent, snakemake.output.examples)
log.info("examples of %s in %s", ", ".join(names), snakemake.output.examples)
