"""Agent configs: JSON-Schema validation with defaults filled in and errors named per field."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, validators


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


def _with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


_DefaultingValidator = _with_defaults(Draft202012Validator)


def _field_of(error) -> str:
    path = [str(part) for part in error.absolute_path]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        path.append(missing)
    elif error.validator == "additionalProperties" and "'" in error.message:
        path.append(error.message.split("'")[1])
    return ".".join(part for part in path if part) or "config"


def _message_of(error) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if schema.get("x-message"):
        # A conditional rule (if/then) words its own refusal: "is required when …".
        return schema["x-message"]
    title = schema.get("title")
    if error.validator == "enum":
        return f"must be one of {', '.join(map(str, error.validator_value))}"
    if error.validator in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
        words = {
            "minimum": "at least",
            "maximum": "at most",
            "exclusiveMinimum": "more than",
            "exclusiveMaximum": "less than",
        }
        return f"must be {words[error.validator]} {error.validator_value}"
    if error.validator == "type":
        return f"must be of type {error.validator_value}"
    if error.validator == "required":
        return "is required"
    if title and error.validator in {"pattern", "format"}:
        return f"is not a valid {title.lower()}"
    return error.message


def validate_config(schema: dict[str, Any], config: Any) -> tuple[dict[str, Any], list[FieldError]]:
    """Return (config with defaults filled in, errors). The input is not modified."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        return {}, [FieldError("config", "must be an object")]
    filled = copy.deepcopy(config)
    if not schema:
        return filled, []
    validator = _DefaultingValidator(schema)
    errors = sorted(validator.iter_errors(filled), key=lambda e: list(map(str, e.absolute_path)))
    return filled, [FieldError(_field_of(e), _message_of(e)) for e in errors]
