"""Rule predict_examples: a few TEST videos of the synthetic dataset as AVI, MP4 and DICOM, for `predict`."""

from pathlib import Path

from echobeat.logs import setup_logging
from echobeat.stages.data import predict_examples

setup_logging(snakemake.log[0])
predict_examples(Path(snakemake.input.filelist).parent, snakemake.output.examples)
