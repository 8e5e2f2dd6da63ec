"""YAML from strangers, read without aliases.

PyYAML's safe loader still expands aliases: ``a: &a [x, x]``, ``b: &b [*a, *a]`` … doubles at each
line, so a front matter or catalogue of a few hundred bytes becomes a structure of billions of
items ("billion laughs") once a harvester walks it. Catalogues, JKAN front matter, sources files
and theme files have no need of anchors and aliases, so :func:`compose` refuses any alias.

The document is composed into a node tree first (libyaml's parser when PyYAML has it). Composing
does not expand an alias — it is the same node object reached twice — so a walk over the tree that
meets a node it has already seen finds the alias in time bounded by the size of the text. Only a
tree without one is constructed into Python objects.
"""

from __future__ import annotations

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class AliasRefused(yaml.MarkedYAMLError):
    """A YAML alias in a file from elsewhere (a ``yaml.YAMLError``, so callers name the file)."""


def _refuse_aliases(root: yaml.Node) -> None:
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, yaml.Node | None]] = [(root, None)]
    while stack:
        node, parent = stack.pop()
        if id(node) in seen:
            where = parent.start_mark if parent is not None else node.start_mark
            raise AliasRefused(
                problem="uses a YAML alias (an &anchor repeated with *name), which is not accepted "
                        "here: an alias can expand a small file into a huge one",
                problem_mark=where, context_mark=node.start_mark,
                context="the repeated part starts")
        seen.add(id(node))
        # children pushed last first, so they are met in the order of the text (the anchor before
        # its alias); an alias value is reported at its key's line
        if isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                stack.append((value, key))
                stack.append((key, node))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, node) for item in reversed(node.value))


def compose(text: str) -> tuple[yaml.Node | None, object]:
    """(node tree, data) of one YAML document; ``AliasRefused`` for a document with an alias,
    another ``yaml.YAMLError`` for one that is not valid YAML."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _refuse_aliases(node)
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def load(text: str) -> object:
    """The data of one YAML document, aliases refused (see :func:`compose`)."""
    return compose(text)[1]
