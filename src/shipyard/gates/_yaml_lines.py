"""Reading a YAML file while remembering where each value was written.

``yaml.compose`` keeps a mark (line, column) on every node; walking the node tree gives the line
of any path such as ``("checks", 2, "min")``, so a schema error can name the line to fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

__all__ = ["YamlDocument", "parse_yaml"]


class YamlDocument:
    """The parsed value of a YAML text and the line (1-based) of each node in it."""

    def __init__(self, value: Any, root: yaml.Node | None) -> None:
        self.value = value
        self._root = root

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of the deepest node ``path`` reaches; path parts that name no node (a
        union's tag in a validation error) are skipped."""
        node = self._root
        if node is None:
            return None
        for part in path:
            child = _child(node, part)
            if child is not None:
                node = child
        return node.start_mark.line + 1


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return value  # type: ignore[no-any-return]
    in_range = isinstance(part, int) and 0 <= part < len(node.value)
    if isinstance(node, yaml.SequenceNode) and in_range:
        return node.value[part]  # type: ignore[no-any-return,index]
    return None


def parse_yaml(text: str) -> YamlDocument:
    """Parse ``text`` (safe types only); ``yaml.YAMLError`` carries the line of a syntax error."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    value = yaml.safe_load(text) if root is not None else None
    return YamlDocument(value, root)
