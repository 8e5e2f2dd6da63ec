"""A minimal Dash client for the load test: callback requests built as the browser builds them.

It keeps what the page holds (every component with an id, from the layout and from callback
answers) and, for a callback in ``/_dash-dependencies``, fills the inputs and states from it:
plain ids, and pattern-matching ids (``ALL`` gives every matching component, ``MATCH`` the one
with the asked index). Answers are applied back to the page, so a later step sees the layer cards
an earlier one added.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator

WILDCARDS = ("ALL", "MATCH", "ALLSMALLER")


def id_text(ident: Any) -> str:
    """An id as Dash writes it in prop ids and answers (dict ids: sorted, compact JSON)."""
    if isinstance(ident, dict):
        return json.dumps(ident, sort_keys=True, separators=(",", ":"))
    return str(ident)


def _spec_id(text: str) -> Any:
    """A dependency's id: a plain string or a (wildcard) dict written as JSON."""
    if text.startswith("{"):
        return json.loads(text)
    return text


def _outputs(spec: str) -> list[tuple[Any, str]]:
    parts = spec[2:-2].split("...") if spec.startswith("..") and spec.endswith("..") else [spec]
    out = []
    for part in parts:
        part = part.split("@", 1)[0]
        ident, prop = part.rsplit(".", 1)
        out.append((_spec_id(ident), prop))
    return out


def walk(tree: Any) -> Iterator[dict]:
    """Every component (a dict with 'props') in a layout tree or callback value.

    Only lists and dicts are gone into, and not a chart's figure (its thousands of numbers are
    stepped over, not each made a generator): the client shares the CPUs with the server it measures, so its own work is
    kept small."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "props" in node and "type" in node:
                yield node
                # a chart's figure holds no components (dash-renderer does not look in it either)
                children = [v for k, v in node["props"].items() if k != "figure"]
            else:
                children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        stack.extend(reversed([c for c in children if isinstance(c, (dict, list))]))


class Page:
    """The components of one browser tab, by id."""

    def __init__(self, deps: list[dict]):
        self.deps = deps
        self.props: dict[str, dict] = {}
        self.ids: dict[str, Any] = {}

    def add(self, tree: Any) -> None:
        for comp in walk(tree):
            ident = comp["props"].get("id")
            if ident is not None:
                key = id_text(ident)
                self.ids[key] = ident
                self.props[key] = comp["props"]

    def apply(self, answer: dict) -> set[str]:
        """Put a callback's answer into the page (and any components it brings); return the ids
        of the components it brought."""
        before = set(self.props)
        for key, props in (answer.get("response") or {}).items():
            target = self.props.setdefault(key, {})
            if key not in self.ids:
                self.ids[key] = json.loads(key) if key.startswith("{") else key
            for prop, value in props.items():
                target[prop] = value
                self.add(value)
        return set(self.props) - before

    def initial(self, new: set[str]) -> list[tuple[dict, Any]]:
        """The callbacks the browser fires when components ``new`` appear: those without
        ``prevent_initial_call`` with an input among them, once (MATCH: once per index)."""
        fired: list[tuple[dict, Any]] = []
        for dep in self.deps:
            if dep.get("clientside_function") or dep.get("prevent_initial_call"):
                continue
            indexes: list[Any] = []
            hit = False
            for spec in dep["inputs"]:
                pattern = _spec_id(spec["id"])
                for ident in self.matching(pattern):
                    if id_text(ident) in new:
                        hit = True
                        if isinstance(pattern, dict) and any(v == ["MATCH"] for v in pattern.values()):
                            key = next(k for k, v in pattern.items() if v == ["MATCH"])
                            indexes.append(ident[key])
            if not hit:
                continue
            for index in (list(dict.fromkeys(indexes)) or [None]):
                # as the renderer: a MATCH callback fires for an index only when its outputs exist
                if index is not None and any(isinstance(pattern, dict) and not self.matching(pattern, index)
                                             for pattern, _ in _outputs(dep["output"])):
                    continue
                fired.append((dep, index))
        return fired

    def matching(self, pattern: Any, index: Any = None) -> list[Any]:
        """Concrete ids that fit a (wildcard) id; with ``index``, MATCH keys take it."""
        if not isinstance(pattern, dict):
            return [pattern] if id_text(pattern) in self.props else []
        found = []
        for ident in self.ids.values():
            if not isinstance(ident, dict) or set(ident) != set(pattern):
                continue
            ok = True
            for k, v in pattern.items():
                if isinstance(v, list) and v and v[0] in WILDCARDS:
                    if v[0] == "MATCH" and index is not None and ident[k] != index:
                        ok = False
                elif ident[k] != v:
                    ok = False
            if ok:
                found.append(ident)
        return found

    def find(self, test: Callable[[dict], bool]) -> dict | None:
        """A callback whose inputs and outputs pass ``test`` (on the dependency dict)."""
        for dep in self.deps:
            if not dep.get("clientside_function") and test(dep):
                return dep
        return None

    def body(self, dep: dict, changed: list[tuple[Any, str]], values: dict[tuple[str, str], Any] | None = None,
             index: Any = None) -> dict:
        """The request body for ``dep``: inputs and states from the page (``values`` override,
        keyed by (id text, property)); ``changed`` are the props that fired it."""
        values = values or {}

        def value(ident: Any, prop: str) -> Any:
            key = (id_text(ident), prop)
            if key in values:
                return values[key]
            return self.props.get(id_text(ident), {}).get(prop)

        def items(specs: list[dict]) -> list:
            out = []
            for spec in specs:
                pattern = _spec_id(spec["id"])
                prop = spec["property"]
                if isinstance(pattern, dict) and any(isinstance(v, list) and v and v[0] == "ALL"
                                                     for v in pattern.values()):
                    out.append([{"id": i, "property": prop, "value": value(i, prop)}
                                for i in self.matching(pattern)])
                elif isinstance(pattern, dict):
                    ids = self.matching(pattern, index)
                    ident = ids[0] if ids else pattern
                    out.append({"id": ident, "property": prop, "value": value(ident, prop)})
                else:
                    out.append({"id": pattern, "property": prop, "value": value(pattern, prop)})
            return out

        outputs = []
        for pattern, prop in _outputs(dep["output"]):
            if isinstance(pattern, dict) and any(isinstance(v, list) and v and v[0] == "ALL"
                                                 for v in pattern.values()):
                outputs.append([{"id": i, "property": prop} for i in self.matching(pattern)])
            elif isinstance(pattern, dict):
                ids = self.matching(pattern, index)
                outputs.append({"id": ids[0] if ids else pattern, "property": prop})
            else:
                outputs.append({"id": pattern, "property": prop})
        return {
            "output": dep["output"],
            "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": items(dep["inputs"]),
            "state": items(dep.get("state") or []),
            "changedPropIds": [f"{id_text(i)}.{p}" for i, p in changed],
        }


def has_input(dep: dict, ident: str, prop: str | None = None) -> bool:
    """Whether a dependency takes ``ident`` (a plain id, or a wildcard id's ``type``) as input."""
    for spec in dep["inputs"]:
        pattern = _spec_id(spec["id"])
        name = pattern.get("type") if isinstance(pattern, dict) else pattern
        if name == ident and (prop is None or spec["property"] == prop):
            return True
    return False


def has_output(dep: dict, ident: str, prop: str | None = None) -> bool:
    for pattern, p in _outputs(dep["output"]):
        name = pattern.get("type") if isinstance(pattern, dict) else pattern
        if name == ident and (prop is None or p == prop):
            return True
    return False
