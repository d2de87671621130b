"""OpenAPI 3.0 response schemas as JSON Schema validators (draft 4, with OpenAPI's `nullable`
turned into a null type), by schema name or by request path and method."""
import re

import jsonschema


def _nullable(node):
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable(v) for k, v in node.items()}
    if node.pop("nullable", False):
        if "type" in node:
            node["type"] = [node["type"], "null"]
        elif "$ref" in node:
            ref = node.pop("$ref")
            node["anyOf"] = [{"$ref": ref}, {"type": "null"}]
        elif "allOf" in node:
            node = {"anyOf": [{"allOf": node.pop("allOf")}, {"type": "null"}], **node}
    return node


def _pattern(template):
    """`/a/{b}/c` as `^/a/[^/]+/c$`."""
    parts = re.split(r"\{[^/}]+\}", template)
    return "^" + "[^/]+".join(re.escape(p) for p in parts) + "$"


class Spec:
    def __init__(self, doc):
        self.doc = _nullable(doc)
        self.cache = {}
        # Path templates, the most literal first: /x/{a}/snapshot before /x/{a}/{b}.
        self.paths = sorted(
            ((re.compile(_pattern(p)), p) for p in self.doc.get("paths", {})),
            key=lambda rp: rp[1].count("{"),
        )

    def _validator(self, key, schema):
        if key not in self.cache:
            self.cache[key] = jsonschema.Draft4Validator({**schema, "components": self.doc["components"]})
        return self.cache[key]

    def named(self, name):
        return self._validator(name, {"$ref": f"#/components/schemas/{name}"})

    def operation(self, method, path):
        """The answer schema of `method path` (a validator, or None for an operation with no
        body), and the template matched; KeyError when the description has no such operation."""
        for regex, template in self.paths:
            if regex.match(path):
                op = self.doc["paths"][template].get(method.lower())
                if op is None:
                    continue
                ok = op["responses"].get("200") or op["responses"].get("201") or {}
                schema = ok.get("content", {}).get("application/json", {}).get("schema")
                if schema is None:
                    return None, template
                return self._validator((method, template), schema), template
        raise KeyError(f"{method} {path}")


def errors(validator, doc):
    found = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    return [f"{e.message} at {list(e.absolute_path)}" for e in found[:3]]
