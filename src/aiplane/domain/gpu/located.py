"""YAML documents as plain values that remember their lines, so an error names the line and field."""

from __future__ import annotations

from typing import Any

import yaml

from aiplane.domain.errors import InvalidInput


class Located:
    """A YAML document as plain values, remembering the line each value came from."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[int, int] = {}
        self.key_lines: dict[tuple[int, Any], int] = {}

    def value(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.MappingNode):
            out: Any = {}
            for k, v in node.value:
                key = self.value(k)
                out[key] = self.value(v)
                self.key_lines[(id(out), key)] = k.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            out = [self.value(v) for v in node.value]
        else:
            out = yaml.safe_load(yaml.serialize(node))
        if isinstance(out, (dict, list)):
            self.lines[id(out)] = node.start_mark.line + 1
        return out

    def error(self, near: Any, field: str, problem: str) -> InvalidInput:
        """`field` of the mapping `near` is wrong: the line is the field's, else the mapping's."""
        key = field.rsplit(".", 1)[-1]
        line = self.key_lines.get((id(near), key)) or self.lines.get(id(near))
        where = f"{self.source} line {line}" if line else self.source
        return InvalidInput(f"{where}: {field} {problem}.")



def load(text: str, source: str) -> tuple[Located, Any]:
    """The document in `text` (from `source`) and its top value; bad YAML names its line."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise InvalidInput(f"{source}{where}: not valid YAML; fix the syntax.") from None
    doc = Located(source)
    return doc, doc.value(root) if root is not None else None


def fields(doc: Located, raw: Any, path: str, allowed: tuple[str, ...], required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise doc.error(raw, path, f"must be a mapping with {', '.join(allowed)}")
    for key in raw:
        if key not in allowed:
            raise doc.error(raw, f"{path}.{key}" if path != "the inventory" else str(key),
                            f"is not a field; use {', '.join(allowed)}")
    for key in required:
        if key not in raw:
            raise doc.error(raw, f"{path}.{key}" if path != "the inventory" else key, "is missing")
    return raw
