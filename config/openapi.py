"""The API's JSON and its OpenAPI document: plain decimals, and every error response documented.

- Decimals are written as plain numbers in strings ("0.00000051", never "5.1E-7" or "0E-8"):
  money read by a person or a spreadsheet must not switch to scientific notation.
- Every operation documents the errors any request can meet (400, 401, 403, 404, 409, 413, 422,
  429, 503), each `{"detail": …}`: a sentence, or for 422 a list of `{loc, msg, type}` naming
  the fields. An operation's own, more specific documentation of a code is kept.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

from ninja import NinjaAPI
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder


class PlainDecimalEncoder(NinjaJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return format(o, "f") if o.is_finite() else None
        return super().default(o)


class PlainDecimalRenderer(JSONRenderer):
    encoder_class = PlainDecimalEncoder


ERROR_SCHEMA_NAME = "ErrorDetail"
ERROR_SCHEMA: dict[str, Any] = {
    "title": ERROR_SCHEMA_NAME,
    "type": "object",
    "properties": {
        "detail": {
            "title": "Detail",
            "anyOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "loc": {"type": "array", "items": {}},
                            "msg": {"type": "string"},
                            "type": {"type": "string"},
                        },
                    },
                },
            ],
        }
    },
    "required": ["detail"],
}

ERRORS: dict[str, str] = {
    "400": "The request could not be read (e.g. the body is not valid JSON).",
    "401": "Authentication required: log in, or send a Bearer token.",
    "403": "Not allowed (e.g. an account locked after failed log-ins).",
    "404": "Not found (or not yours).",
    "409": "Conflicts with the object's current state.",
    "413": "The request body is too large.",
    "422": "Invalid input; `detail` lists each problem with the field it concerns.",
    "429": "Too many requests; `Retry-After` says when to try again.",
    "503": "A service the request needs is unavailable; `Retry-After` says when to try again.",
}
# Codes whose generic documentation replaces an operation's own: their body is always the
# generic shape (ninja's own 422 documentation names a list where some routes said a string).
ALWAYS_GENERIC = {"422"}


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR_SCHEMA_NAME] = ERROR_SCHEMA
    reference = {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "put", "post", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for code, description in ERRORS.items():
                if code in responses and code not in ALWAYS_GENERIC:
                    continue
                responses[code] = {
                    "description": description,
                    "content": {"application/json": {"schema": reference}},
                }
    return schema


class DocumentedAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI document lists the error responses of every operation."""

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        # A plain dict through JSON, so the copy holds no ninja objects.
        return document_errors(json.loads(json.dumps(schema, cls=NinjaJSONEncoder)))
