"""echobeat: EchoNet-Dynamic reproduced end to end (see README.md and docs/)."""

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml", set_default=True)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/segmentation.smk"
include: "workflow/rules/video.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/experiments.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
