"""The config schema is the one home of each key: README tables, config.yaml, code enums and GPU rules agree with it."""

import copy
import dataclasses
import re

import jsonschema
import pytest
import yaml
from conftest import REPO

from echobeat import config_schema
from echobeat.stages import rule_settings

SCHEMA = config_schema.load_schema()
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def test_readme_tables_are_generated_from_the_schema():
    readme = config_schema.README.read_text(encoding="utf-8")
    assert config_schema.BLOCK.search(readme), "config/README.md has no generated block"
    assert config_schema.render(readme, SCHEMA) == readme, (
        f"config/README.md is stale: run `{config_schema.REGENERATE}` (from workflow/scripts, or anywhere "
        "after `pip install -e .`)"
    )


def test_every_key_is_shown_with_a_meaning_and_what_it_reruns():
    readme = config_schema.README.read_text(encoding="utf-8")
    shown = [key for match in config_schema.BLOCK.finditer(readme) for key in match["keys"].split()]
    rows = [row for top in shown for row in config_schema.leaves(SCHEMA, top)]
    # Every top-level key appears in some block, and every row is complete.
    assert {key.split(".")[0] for key in shown} == set(SCHEMA["properties"])
    incomplete = [dotted for dotted, node, reruns in rows if not node.get("description") or not reruns]
    assert not incomplete, f"keys without a description or x-reruns in the schema: {incomplete}"
    assert len(rows) > 80


def test_a_stale_table_is_rewritten():
    readme = config_schema.README.read_text(encoding="utf-8")
    stale = readme.replace("| `on_error` |", "| `on_eror` |", 1)
    assert stale != readme
    assert config_schema.render(stale, SCHEMA) == readme


def leaves(config: dict, prefix: str = ""):
    for key, value in config.items():
        if isinstance(value, dict) and value:
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_config_yaml_repeats_the_schema_defaults():
    """config.yaml spells out the paper's run: every value it sets is the schema's default, so that
    the schema stays the one home of a default (only video.runs, the runs to train, is its own)."""
    defaults = dict(leaves(config_schema.defaults(SCHEMA)))
    own = {key: value for key, value in leaves(CONFIG) if not key.startswith("video.runs.")}
    differ = {
        key: (value, defaults.get(key, "<no default>")) for key, value in own.items() if defaults.get(key) != value
    }
    assert not differ, f"config.yaml value != schema default: {differ}"
    assert CONFIG["video"]["runs"], "config.yaml names the runs to train"


def merged(*layers: dict) -> dict:
    """Snakemake's merge of --configfile layers: key by key, recursively."""
    out = copy.deepcopy(layers[0])
    for layer in layers[1:]:
        stack = [(out, layer)]
        while stack:
            into, update = stack.pop()
            for key, value in update.items():
                if isinstance(value, dict) and isinstance(into.get(key), dict):
                    stack.append((into[key], value))
                else:
                    into[key] = copy.deepcopy(value)
    return out


@pytest.mark.parametrize("layer", ["demo.yaml", "released.yaml", "authors_rerun.yaml", None])
def test_every_shipped_config_validates(layer):
    layers = [CONFIG] + ([yaml.safe_load((REPO / "config" / layer).read_text())] if layer else [])
    jsonschema.Draft202012Validator(SCHEMA).validate(merged(*layers))


def test_the_schema_defaults_alone_are_a_valid_config():
    jsonschema.Draft202012Validator(SCHEMA).validate(config_schema.defaults(SCHEMA))


def test_schema_enums_equal_the_code_constants():
    from echobeat.compute import COMPILE_MODES, PRECISIONS
    from echobeat.data.clips import CROP_RANGES
    from echobeat.data.filelist import SPLITS
    from echobeat.data.preprocess import PREPROCESS
    from echobeat.data.tracings import REPEATED_TRACING_MODES
    from echobeat.data.verify import ON_ERROR_MODES
    from echobeat.inference.beats import TRIM_MODES
    from echobeat.models.video import VIDEO_MODELS

    pairs = {
        "video.defaults.model": VIDEO_MODELS,
        "experiments.sweep.models": VIDEO_MODELS,
        "experiments.complexity.models": VIDEO_MODELS,
        "experiments.sweep.weights": rule_settings.NAMED_WEIGHTS["video"],
        "video.defaults.crop": CROP_RANGES,
        "video.defaults.precision": PRECISIONS,
        "segmentation.precision": PRECISIONS,
        "predict.precision": PRECISIONS,
        "video.defaults.compile": COMPILE_MODES,
        "segmentation.compile": COMPILE_MODES,
        "segmentation.beats.trim": TRIM_MODES,
        "predict.beats.trim": TRIM_MODES,
        "predict.preprocess": PREPROCESS,
        "data.on_error": ON_ERROR_MODES,
        "data.repeated_tracings": REPEATED_TRACING_MODES,
        # size.csv's splits: the dataset's, or every video.
        "segmentation.size_splits": (*SPLITS, "all"),
        "synthetic.splits": SPLITS,
    }
    for dotted, constant in pairs.items():
        if dotted == "synthetic.splits":
            allowed = list(config_schema.node_at(SCHEMA, dotted)[0]["properties"])
        else:
            allowed = config_schema.enum(SCHEMA, dotted)
        assert sorted(allowed) == sorted(constant), f"{dotted}: schema {allowed} != code {list(constant)}"


def test_verification_defaults_are_the_schemas():
    # VerifySettings() (tests, benchmarks) must verify as a config without those keys would.
    from echobeat.data.verify import VerifySettings

    defaults = config_schema.defaults(SCHEMA)
    assert dataclasses.asdict(VerifySettings()) == rule_settings.verify_slice(defaults)


def test_named_weights_are_one_list():
    from echobeat.models.segmentation import SEGMENTATION_WEIGHTS

    for stage, dotted in (("segmentation", "segmentation.weights"), ("video", "video.defaults.weights")):
        named = config_schema.node_at(SCHEMA, dotted)[0]["x-named"]
        assert sorted(named) == sorted(rule_settings.NAMED_WEIGHTS[stage]), dotted
    assert sorted(SEGMENTATION_WEIGHTS) == sorted(rule_settings.NAMED_WEIGHTS["segmentation"])


RULE = re.compile(r"^\s*(?:rule|checkpoint)\s+(\w+)\s*:")
GPU_RESOURCE = re.compile(r"^\s*gpu\s*=")


def rules_asking_for_a_gpu() -> dict[str, set[str]]:
    """{rule: its .smk file} of every rule whose resources name `gpu`, read from the rule files."""
    found = {}
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        rule = None
        for line in path.read_text(encoding="utf-8").splitlines():
            if match := RULE.match(line):
                rule = match[1]
            elif GPU_RESOURCE.match(line):
                assert rule is not None, f"{path.name}: gpu= outside a rule: {line}"
                found[rule] = path.name
    return found


def test_exactly_the_gpu_rules_ask_for_a_gpu():
    found = rules_asking_for_a_gpu()
    assert set(found) == rule_settings.GPU_RULES, found


def test_the_slurm_profile_sends_exactly_the_gpu_rules_to_a_gpu_partition():
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.v8+.yaml").read_text())
    on_gpu = {rule for rule, settings in profile["set-resources"].items() if settings.get("slurm_partition") == "gpu"}
    assert on_gpu == rule_settings.GPU_RULES
    # train_video takes its run's gpus from the rule; the others one each.
    with_one = {rule for rule, settings in profile["set-resources"].items() if settings.get("gpu") == 1}
    assert with_one == rule_settings.GPU_RULES - {"train_video"}
    assert profile["default-resources"]["slurm_partition"] != "gpu"


def test_every_rule_with_resources_has_a_resources_entry():
    """The non-local rules read config["resources"][rule]: the schema has an entry for each GPU rule."""
    assert set(SCHEMA["properties"]["resources"]["properties"]) >= rule_settings.GPU_RULES
