"""A small JSON Schema checker for the payload schemas in alerts/schemas (no dependency).

Covers the keywords those schemas use: type, enum, const, pattern, minLength, maxLength,
minimum, maximum, exclusiveMinimum, required, properties, additionalProperties,
propertyNames, items, minItems, maxItems, uniqueItems.
Unknown keywords raise, so a schema cannot silently use something this checker ignores.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "alerts" / "schemas"

_ANNOTATIONS = {"$schema", "$id", "title", "description"}
_KNOWN = _ANNOTATIONS | {
    "type",
    "enum",
    "const",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "required",
    "properties",
    "additionalProperties",
    "propertyNames",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
}


def load_schema(name: str) -> dict[str, Any]:
    """``alerts/schemas/<name>.schema.json`` as a dict."""
    schema: dict[str, Any] = json.loads(
        (SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8")
    )
    return schema


def _is_type(value: Any, name: str) -> bool:
    checks = {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "null": value is None,
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
    }
    if name not in checks:
        raise ValueError(f"unknown JSON Schema type {name!r}")
    return checks[name]


def errors(instance: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every way ``instance`` breaks ``schema``; empty when it conforms."""
    unknown = set(schema) - _KNOWN
    if unknown:
        raise ValueError(f"schema at {path} uses unsupported keywords {sorted(unknown)}")
    found: list[str] = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(instance, t) for t in types):
            return [f"{path}: {instance!r} is not of type {schema['type']}"]
    if "enum" in schema and instance not in schema["enum"]:
        found.append(f"{path}: {instance!r} not in {schema['enum']}")
    if "const" in schema and instance != schema["const"]:
        found.append(f"{path}: {instance!r} != {schema['const']!r}")
    if isinstance(instance, str):
        if "pattern" in schema and re.search(schema["pattern"], instance) is None:
            found.append(f"{path}: {instance!r} does not match {schema['pattern']}")
        if len(instance) < schema.get("minLength", 0):
            found.append(f"{path}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(instance) > schema["maxLength"]:
            found.append(f"{path}: longer than {schema['maxLength']}")
    if _is_type(instance, "number"):
        if "minimum" in schema and instance < schema["minimum"]:
            found.append(f"{path}: {instance} < {schema['minimum']}")
        if "maximum" in schema and instance > schema["maximum"]:
            found.append(f"{path}: {instance} > {schema['maximum']}")
        if "exclusiveMinimum" in schema and instance <= schema["exclusiveMinimum"]:
            found.append(f"{path}: {instance} <= {schema['exclusiveMinimum']}")
    if isinstance(instance, dict):
        found += _object_errors(instance, schema, path)
    if isinstance(instance, list):
        found += _array_errors(instance, schema, path)
    return found


def _array_errors(instance: list[Any], schema: dict[str, Any], path: str) -> list[str]:
    found = []
    if len(instance) < schema.get("minItems", 0):
        found.append(f"{path}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(instance) > schema["maxItems"]:
        found.append(f"{path}: more than {schema['maxItems']} items")
    if schema.get("uniqueItems", False):
        seen = [json.dumps(item, sort_keys=True) for item in instance]
        if len(set(seen)) != len(seen):
            found.append(f"{path}: items are not unique")
    if "items" in schema:
        for index, item in enumerate(instance):
            found += errors(item, schema["items"], f"{path}[{index}]")
    return found


def _object_errors(instance: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
    found = [
        f"{path}: missing {key!r}" for key in schema.get("required", ()) if key not in instance
    ]
    properties: dict[str, Any] = schema.get("properties", {})
    additional = schema.get("additionalProperties", True)
    for key, value in instance.items():
        if "propertyNames" in schema:
            found += errors(key, schema["propertyNames"], f"{path}.<name {key!r}>")
        if key in properties:
            found += errors(value, properties[key], f"{path}.{key}")
        elif additional is False:
            found.append(f"{path}: unexpected property {key!r}")
        elif isinstance(additional, dict):
            found += errors(value, additional, f"{path}.{key}")
    return found
