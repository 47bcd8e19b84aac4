"""The builder's agent config fields, built on the server from each agent's JSON Schema (enum →
select, arrays of enums → multi-select, numbers with their bounds, booleans → checkboxes,
nested objects → fieldsets), with the graph check's errors and warnings attached."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pipelines.forms import DAY_NAMES

ENUM_LABELS: dict[str, dict[Any, str]] = {
    "model": {"": "Default model"},
    "active_days": dict(enumerate(DAY_NAMES)),
}
# §6.3: clear labels for the timeframes an agent reads.
LABEL_OVERRIDES = {
    ("bias_agent", "analysis_timeframes"): "Analysis timeframes",
    ("strategy_agent", "timeframe"): "Execution timeframe",
    ("market_data_agent", "timeframes"): "Timeframes to fetch",
}


@dataclass
class ConfigField:
    """One input of an agent's config form, or a fieldset of them (kind "group")."""

    path: str
    label: str
    kind: str  # group | select | multiselect | number | integer | checkbox | text | csv | json
    help: str = ""
    required: bool = False
    value: Any = None
    choices: list[tuple[str, str]] = field(default_factory=list)
    minimum: Any = None
    maximum: Any = None
    item_type: str = "string"
    nullable: bool = False
    max_length: int | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    children: list[ConfigField] = field(default_factory=list)

    @property
    def input_name(self) -> str:
        return f"cfg.{self.path}"

    @property
    def input_id(self) -> str:
        return "cfg-" + self.path.replace(".", "-")

    @property
    def step(self) -> str:
        return "1" if self.kind == "integer" else "any"

    @property
    def display_value(self) -> str:
        """The value as the input shows it."""
        value = self.value
        if value is None:
            return ""
        if self.kind == "csv":
            return ", ".join(str(item) for item in value) if isinstance(value, list) else ""
        if self.kind == "json":
            return json.dumps(value, indent=1)
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    @property
    def selected(self) -> set[str]:
        if isinstance(self.value, list):
            return {str(item) for item in self.value}
        return {"" if self.value is None else str(self.value)}


def _types(schema: dict[str, Any]) -> tuple[str, bool]:
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        nullable = "null" in kind
        kind = next((k for k in kind if k != "null"), "string")
        return kind, nullable
    return kind, False


def _label(key: str) -> str:
    text = key.replace("_", " ")
    return text[:1].upper() + text[1:]


def _choice_label(key: str, value: Any) -> str:
    labels = ENUM_LABELS.get(key, {})
    return labels.get(value, str(value))


def _field(
    agent_type: str, key: str, path: str, schema: dict[str, Any], value: Any, required: bool
) -> ConfigField:
    kind, nullable = _types(schema)
    label = LABEL_OVERRIDES.get((agent_type, path)) or schema.get("title") or _label(key)
    common = {
        "path": path,
        "label": label,
        "help": schema.get("description", ""),
        "required": required,
        "value": value,
        "nullable": nullable,
    }
    if kind == "object" and "properties" in schema:
        children = _fields(agent_type, schema, value if isinstance(value, dict) else {}, path)
        return ConfigField(kind="group", children=children, **common)
    if "enum" in schema:
        return ConfigField(
            kind="select",
            choices=[(str(v), _choice_label(key, v)) for v in schema["enum"]],
            item_type=kind,
            **common,
        )
    if kind == "boolean":
        return ConfigField(kind="checkbox", **common)
    if kind in ("number", "integer"):
        minimum = schema.get("minimum", schema.get("exclusiveMinimum"))
        return ConfigField(kind=kind, minimum=minimum, maximum=schema.get("maximum"), **common)
    if kind == "array":
        items = schema.get("items", {})
        item_kind, _ = _types(items)
        if "enum" in items:
            return ConfigField(
                kind="multiselect",
                choices=[(str(v), _choice_label(key, v)) for v in items["enum"]],
                item_type=item_kind,
                **common,
            )
        if item_kind in ("string", "integer", "number"):
            return ConfigField(kind="csv", item_type=item_kind, **common)
        return ConfigField(kind="json", **common)
    if kind == "string":
        return ConfigField(kind="text", max_length=schema.get("maxLength"), **common)
    return ConfigField(kind="json", **common)


def _fields(
    agent_type: str, schema: dict[str, Any], values: dict[str, Any], prefix: str = ""
) -> list[ConfigField]:
    required = set(schema.get("required", []))
    fields = []
    for key, prop in schema.get("properties", {}).items():
        path = f"{prefix}.{key}" if prefix else key
        fields.append(_field(agent_type, key, path, prop, values.get(key), key in required))
    return fields


def _attach(fields: list[ConfigField], path: str, message: str, *, warning: bool) -> bool:
    for item in fields:
        if item.path == path or (item.kind != "group" and path.startswith(item.path + ".")):
            (item.warnings if warning else item.errors).append(message)
            return True
        if (
            item.kind == "group"
            and path.startswith(item.path + ".")
            and _attach(item.children, path, message, warning=warning)
        ):
            return True
    return False


def config_fields(
    *,
    agent_type: str,
    schema: dict[str, Any],
    values: dict[str, Any],
    issues: list[dict[str, Any]] = (),
) -> tuple[list[ConfigField], list[dict[str, Any]]]:
    """The form fields for one node, with the server's issues put on the fields they name.
    Returns the fields and the issues that name no field (shown above the form)."""
    fields = _fields(agent_type, schema, values)
    unplaced = []
    for issue in issues:
        name = issue.get("field") or ""
        placed = name.startswith("config.") and _attach(
            fields,
            name.removeprefix("config."),
            issue.get("msg", ""),
            warning=issue.get("level") == "warning",
        )
        if not placed:
            unplaced.append(issue)
    return fields, unplaced
