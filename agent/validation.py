"""Loading YAML files into pydantic models with errors that name file, field and reason.

Every config and profile file goes through :func:`read_yaml_document`: a bounded size, a
bounded nesting depth and number of aliases, no duplicate keys and no integer longer than
:data:`MAX_INT_DIGITS` digits, each refused with ``file: field.path: reason (line N)``.
List positions in messages count from 1, as a person counts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from agent.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

MAX_YAML_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 32
MAX_ALIASES = 100
MAX_INT_DIGITS = 18
_INT_TAG = "tag:yaml.org,2002:int"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class FieldError(ValueError):
    """A validator's refusal that names the field it is about (``loc`` from the place the
    validator runs, e.g. a model validator checking a cross-reference)."""

    def __init__(self, loc: Sequence[str | int], message: str) -> None:
        super().__init__(message)
        self.loc = tuple(loc)


def field_path(loc: Iterable[str | int]) -> str:
    """``services.2.code``: list positions counted from 1."""
    return ".".join(str(p + 1) if isinstance(p, int) else str(p) for p in loc)


def describe_errors(
    source: str, errors: Iterable[Mapping[str, Any]], root: Node | None = None
) -> str:
    """``source: field.path: reason`` for each problem, one per line (and its line in the
    file when the document's node tree is at hand)."""
    lines = []
    for err in errors:
        loc, message = tuple(err["loc"]), str(err["msg"])
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            loc, message = loc + cause.loc, str(cause)
        elif isinstance(cause, ValueError):  # a validator's own words, without "Value error, "
            message = str(cause)
        where = field_path(loc) or "(whole file)"
        line = _line_of(root, loc) if root is not None else None
        lines.append(f"{source}: {where}: {message}" + (f" (line {line})" if line else ""))
    return "\n".join(lines)


def describe_validation_error(source: str, exc: ValidationError, root: Node | None = None) -> str:
    return describe_errors(source, exc.errors(), root)


def _line_of(root: Node, loc: Sequence[Any]) -> int | None:
    """The line (from 1) of the deepest node of ``loc`` found in the document."""
    node: Node = root
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
    return node.start_mark.line + 1 if node.start_mark else None


def _child(node: Node, part: Any) -> Node | None:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == str(part):
                return value
    if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        child: Node = node.value[part]
        return child
    return None


@dataclass(frozen=True)
class YamlDocument:
    data: Any
    root: Node | None


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with the composer's recursion and alias expansion bounded."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Refused(self.peek_event().start_mark, f"more than {MAX_ALIASES} aliases")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(self.peek_event().start_mark, f"nested deeper than {MAX_DEPTH}")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Refused(Exception):
    def __init__(self, mark: Any, reason: str, path: str = "") -> None:
        super().__init__(reason)
        self.mark, self.reason, self.path = mark, reason, path


def _check_tree(root: Node) -> None:
    """Duplicate keys and over-long integers, named by field path (iterative: no recursion)."""
    todo: list[tuple[Node, tuple[str | int, ...]]] = [(root, ())]
    seen_nodes: set[int] = set()
    while todo:
        node, loc = todo.pop()
        if id(node) in seen_nodes:  # an alias: checked where it was defined
            continue
        seen_nodes.add(id(node))
        if isinstance(node, ScalarNode):
            digits = sum(ch.isdigit() for ch in node.value)
            if node.tag == _INT_TAG and digits > MAX_INT_DIGITS:
                reason = f"a number of {digits} digits (at most {MAX_INT_DIGITS})"
                raise _Refused(node.start_mark, reason, field_path(loc))
        elif isinstance(node, SequenceNode):
            todo.extend((child, (*loc, i)) for i, child in enumerate(node.value))
        elif isinstance(node, MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if not isinstance(key, ScalarNode):
                    raise _Refused(key.start_mark, "a key must be a plain value", field_path(loc))
                if key.tag == _MERGE_TAG:
                    todo.append((value, loc))
                    continue
                ident = (key.tag, key.value)
                if ident in first:
                    reason = f"duplicate key, first at line {first[ident]}"
                    raise _Refused(key.start_mark, reason, field_path((*loc, key.value)))
                first[ident] = key.start_mark.line + 1
                todo.append((key, loc))
                todo.append((value, (*loc, key.value)))


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse one YAML document within the bounds above; :class:`ConfigError` otherwise."""
    if len(text) > MAX_YAML_BYTES:
        raise _too_large(source)
    loader = _BoundedLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return YamlDocument(None, None)
        _check_tree(root)
        data = loader.construct_document(root)
    except _Refused as exc:
        where = exc.path or "(whole file)"
        line = f" (line {exc.mark.line + 1})" if exc.mark else ""
        raise ConfigError(f"{source}: {where}: {exc.reason}{line}", file=source) from exc
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"{source}: (whole file): not valid YAML: {reason}", file=source) from exc
    finally:
        loader.dispose()
    return YamlDocument(data, root)


def _too_large(source: str) -> ConfigError:
    reason = f"larger than {MAX_YAML_BYTES // 1024} KiB"
    return ConfigError(f"{source}: (whole file): {reason}", file=source)


def read_yaml_document(path: Path) -> YamlDocument:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_YAML_BYTES + 1)
        if len(raw) > MAX_YAML_BYTES:
            raise _too_large(str(path))
        text = raw.decode("utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found", file=str(path)) from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{path}: is a directory, not a YAML file", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})", file=str(path)) from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}", file=str(path)) from exc
    return parse_yaml(text, str(path))


def validate_data(model: type[M], data: Any, source: str, root: Node | None = None) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(source, exc, root), file=source) from exc


def load_model(model: type[M], path: Path) -> M:
    document = read_yaml_document(path)
    return validate_data(model, document.data, str(path), document.root)
