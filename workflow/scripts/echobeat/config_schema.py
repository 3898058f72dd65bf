"""The config schema as data: its defaults and enums, and config/README.md's key tables generated from it.

``workflow/schemas/config.schema.yaml`` is the one home of each key's type, default, allowed
values and meaning, and of what an edit reruns (its ``x-reruns`` annotation, inherited from the
nearest section that has one). config/README.md keeps hand-written prose between generated
blocks::

    <!-- generated from the schema: segmentation -->
    ...the table...
    <!-- end of generated table -->

A block names the dotted keys it shows (``predict_dir predict``, ``video.defaults``). Rewrite the
tables after a schema edit with::

    python -m echobeat.config_schema          # rewrites config/README.md
    python -m echobeat.config_schema --check  # exit status 1 when it is stale
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

WORKFLOW = Path(__file__).resolve().parents[2]
SCHEMA = WORKFLOW / "schemas" / "config.schema.yaml"
README = WORKFLOW.parent / "config" / "README.md"
REGENERATE = "python -m echobeat.config_schema"

BLOCK = re.compile(
    r"(<!-- generated from the schema: (?P<keys>[^>]*?) -->\n)(?P<body>.*?)(<!-- end of generated table -->)",
    re.DOTALL,
)
COLUMNS = ("key", "type", "default", "allowed", "meaning", "an edit reruns")


def load_schema(path: Path = SCHEMA) -> dict:
    with open(path, encoding="utf-8") as file:
        return yaml.safe_load(file)


def resolve(schema: dict, node: dict) -> dict:
    """``node`` with its ``$ref`` (a ``#/$defs/...`` pointer) merged in: the referenced properties
    overlaid, key by key, with the node's own (video.defaults gives only defaults)."""
    if "$ref" not in node:
        return node
    target = schema
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    merged = {**target, **{k: v for k, v in node.items() if k not in ("$ref", "properties")}}
    own = node.get("properties", {})
    merged["properties"] = {key: {**value, **own.get(key, {})} for key, value in target.get("properties", {}).items()}
    return merged


def node_at(schema: dict, dotted: str) -> tuple[dict, str | None]:
    """The schema node of a dotted config key, and the ``x-reruns`` it inherits."""
    node, reruns = schema, schema.get("x-reruns")
    for part in dotted.split("."):
        node = resolve(schema, node["properties"][part])
        reruns = node.get("x-reruns", reruns)
    return node, reruns


def _is_section(node: dict) -> bool:
    return "properties" in node and not node.get("x-row")


def leaves(schema: dict, dotted: str, reruns: str | None = None):
    """(dotted key, node, inherited x-reruns) of every key shown as a row, below ``dotted`` included."""
    node, inherited = node_at(schema, dotted)
    reruns = node.get("x-reruns", reruns or inherited)
    if not _is_section(node):
        yield dotted, node, reruns
        return
    for key in node["properties"]:
        child = resolve(schema, node["properties"][key])
        yield from leaves(schema, f"{dotted}.{key}", child.get("x-reruns", reruns))


def default(node: dict):
    """A key's default; an ``x-row`` object's is its children's."""
    children_default = node.get("x-row") and any("default" in child for child in node.get("properties", {}).values())
    if "default" in node and not (children_default and node["default"] == {}):
        return node["default"]
    if children_default:
        return {key: default(child) for key, child in node["properties"].items()}
    return node.get("default")


def defaults(schema: dict) -> dict:
    """The config that the schema's defaults make on their own (what validation fills in)."""

    def fill(node):
        node = resolve(schema, node)
        if node.get("type") == "object" and "properties" in node:
            return {key: fill(child) for key, child in node["properties"].items() if _has_default(schema, child)}
        return node.get("default")

    return fill(schema)


def _has_default(schema: dict, node: dict) -> bool:
    node = resolve(schema, node)
    return "default" in node


def enum(schema: dict, dotted: str) -> list:
    """The allowed values of a dotted key (of its items, for an array)."""
    node, _ = node_at(schema, dotted)
    return node["enum"] if "enum" in node else node["items"]["enum"]


def _inline(value) -> str:
    """A value as YAML flow text, as a user writes it in a config file."""
    text = yaml.safe_dump([value], default_flow_style=True, width=10_000, sort_keys=False).strip()
    return text[1:-1]


def _type(node: dict) -> str:
    kinds = node.get("type", "object")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    names = []
    for kind in kinds:
        if kind == "array" and "items" in node:
            items = node["items"]
            choices = [choice.get("type") or f"`{choice['const']}`" for choice in items.get("anyOf", [])]
            kind = f"list of {' or '.join(choices) or items.get('type', 'object')}"
        names.append(kind)
    return " or ".join(sorted(names, key=lambda name: name == "null"))


def _bounds(node: dict) -> list[str]:
    bounds = []
    for word, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if word in node:
            bounds.append(f"{sign} {node[word]}")
    return bounds


def _allowed(node: dict) -> str:
    if "enum" in node:
        return ", ".join(f"`{value}`" for value in node["enum"])
    if "x-named" in node:
        return ", ".join(f"`{value}`" for value in node["x-named"]) + ", or a file path"
    items = node.get("items", {})
    if "enum" in items:
        return "each of " + ", ".join(f"`{value}`" for value in items["enum"])
    parts = _bounds(node)
    if items:
        parts += [f"each {bound}" for bound in _bounds(items)]
    if "minItems" in node and node.get("minItems") == node.get("maxItems"):
        parts.append(f"{node['minItems']} values")
    elif "minItems" in node:
        parts.append(f"at least {node['minItems']} value{'s' if node['minItems'] > 1 else ''}")
    if "pattern" in node:
        parts.append("letters, digits, `_`, `.`, `-`")
    return "; ".join(parts)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def table(schema: dict, keys: list[str]) -> str:
    """The markdown table of the keys of one generated block."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for top in keys:
        # One section's keys are named from inside it; several sections' keys in full.
        strip = f"{top}." if len(keys) == 1 and _is_section(node_at(schema, top)[0]) else ""
        for dotted, node, reruns in leaves(schema, top):
            row = (
                f"`{dotted.removeprefix(strip)}`",
                _type(node),
                f"`{_inline(default(node))}`",
                _allowed(node),
                node.get("description", ""),
                reruns or "",
            )
            lines.append("| " + " | ".join(_cell(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def render(text: str, schema: dict) -> str:
    """``text`` (config/README.md) with every generated block rewritten from ``schema``."""

    def block(match: re.Match) -> str:
        keys = match["keys"].split()
        return match.group(1) + table(schema, keys) + match.group(4)

    return BLOCK.sub(block, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write config/README.md's key tables from the config schema.")
    parser.add_argument("--check", action="store_true", help="only report whether README.md is current")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    rendered = render(current, load_schema())
    if args.check:
        if rendered != current:
            print(f"{README} is stale: run `{REGENERATE}`", file=sys.stderr)
            return 1
        return 0
    if rendered != current:
        README.write_text(rendered, encoding="utf-8")
        print(f"rewrote {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
