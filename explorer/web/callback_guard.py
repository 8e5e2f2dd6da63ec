"""Dash callback requests are checked before Dash runs them, and a callback that cannot use the
values it was sent answers 400, not 500.

``POST /_dash-update-component`` names a callback (``output``) and sends its inputs and states.
Dash trusts that body: a missing key, a list where it expects an object or an id it does not know
became a ``KeyError`` or ``TypeError`` deep inside Dash, a 500 and a full traceback in the log. Here,
before Dash reads it, the body must be what Dash's own renderer sends for *that* callback:

- a JSON object whose ``output`` is a registered server-side callback;
- ``inputs`` and ``state`` lists as long as the callback's, each item naming the same component id
  and property, in order (for a pattern id, ``ALL`` a list of such items, ``MATCH`` one, whose ids
  have the pattern's keys and its fixed values);
- ``outputs`` of the callback's shape, the same way; ``changedPropIds`` a short list of strings,
  of which those that do not name one of the callback's inputs are dropped (Dash parses them).

The values themselves are whatever JSON the client sent. A callback that fails on a value no page
of the app would send (a number for a search string, a list for a dataset id) raises ``TypeError``,
``ValueError``, ``KeyError``, ``IndexError`` or ``AttributeError``; those are answered 400 "this
callback could not use the values sent" with one line in the log (the callback, the error and
where it was raised: enough to find a real bug, without a traceback per request).

Every refusal is a short JSON ``{"error", "status"}`` (explorer/web/security.py) and one log line.
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import traceback
from typing import Any

log = logging.getLogger(__name__)

# a value of the wrong type or shape, wherever in the callback it is first used (sqlite3 refuses to
# bind a list or a dict: an id sent as one)
VALUE_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError,
                sqlite3.InterfaceError, sqlite3.ProgrammingError)
_NUMBER = (int, float)
# What the app's components send for the properties its callbacks read: a value of another JSON
# type never comes from a page of this app (dcc.Store ``data`` and ``children`` may hold anything).
PROPERTY_TYPES: dict[str, tuple] = {
    "pathname": (str, type(None)), "search": (str, type(None)), "hash": (str, type(None)),
    "href": (str, type(None)), "url": (str, type(None)),
    "n_clicks": (int, type(None)), "n_intervals": (int, type(None)),
    "value": (str, int, float, bool, list, type(None)),
    "clickData": (dict, type(None)), "selectedData": (dict, type(None)),
    "hideout": (dict, type(None)), "zoom": (*_NUMBER, type(None)),
    "center": (list, dict, type(None)), "disabled": (bool, type(None)), "hidden": (bool, type(None)),
    "id": (str, dict),
}
MAX_CHANGED = 64
MAX_PATTERN_ITEMS = 2000       # components one ALL pattern may match (a page has at most ~100)
WILDCARDS = ("ALL", "MATCH", "ALLSMALLER")


class CallbackRefused(Exception):
    """A callback request that is not what the page would send; its message is the client's."""

    status = 400


@functools.lru_cache(maxsize=512)
def _pattern(dep_id: str) -> dict | None:
    """The pattern of a dependency id written as JSON ({"type": "x", "index": ["MATCH"]}), else None."""
    if not dep_id.startswith("{"):
        return None
    value = json.loads(dep_id)
    return value if isinstance(value, dict) else None


def _wildcard(value: Any) -> str | None:
    if isinstance(value, list) and len(value) == 1 and value[0] in WILDCARDS:
        return value[0]
    return None


def _id_matches(sent: Any, pattern: dict) -> bool:
    if not isinstance(sent, dict) or set(sent) != set(pattern):
        return False
    for key, want in pattern.items():
        got = sent[key]
        if _wildcard(want):
            if not isinstance(got, (str, int, float)):   # Dash's id values (bool is an int)
                return False
        elif got != want:
            return False
    return True


def _check_item(item: Any, dep: dict, where: str) -> None:
    if not isinstance(item, dict):
        raise CallbackRefused(f"{where}: each item must be an object with id and property")
    sent = item.get("property")
    # an output with allow_duplicate=True is sent as "data@<hash>", as the callback's key names it
    if not isinstance(sent, str) or sent.split("@", 1)[0] != dep["property"].split("@", 1)[0]:
        raise CallbackRefused(f"{where}: expected property {dep['property'].split('@', 1)[0]!r}")
    pattern = _pattern(dep["id"])
    if pattern is None:
        if item.get("id") != dep["id"]:
            raise CallbackRefused(f"{where}: expected the component {dep['id']!r}")
    elif not _id_matches(item.get("id"), pattern):
        raise CallbackRefused(f"{where}: the id does not match the callback's pattern")
    kinds = PROPERTY_TYPES.get(dep["property"])
    value = item.get("value")
    if kinds and "value" in item and (not isinstance(value, kinds)
                                      or (isinstance(value, bool) and bool not in kinds)):
        raise CallbackRefused(f"{where}: {dep['property']} cannot be a {type(value).__name__}")


def _check_dependency(sent: Any, dep: dict, where: str) -> None:
    """An input, state or output as the renderer sends it (a value may be absent: a property
    never set is sent without one)."""
    pattern = _pattern(dep["id"])
    many = pattern is not None and any(_wildcard(v) in ("ALL", "ALLSMALLER") for v in pattern.values())
    if many:
        if not isinstance(sent, list) or len(sent) > MAX_PATTERN_ITEMS:
            raise CallbackRefused(f"{where}: a pattern input must be a list of items")
        for item in sent:
            _check_item(item, dep, where)
    else:
        _check_item(sent, dep, where)


def _output_deps(output: str) -> tuple[list[dict], bool]:
    """The callback's outputs as {"id", "property"} from its key in ``callback_map``, and whether
    the key names several (``..a.b...c.d..``)."""
    def split(one: str) -> dict:
        ident, _, prop = one.split("@", 1)[0].rpartition(".")   # allow_duplicate: "prop@hash"
        return {"id": ident, "property": prop}

    if output.startswith("..") and output.endswith(".."):
        return [split(part) for part in output[2:-2].split("...")], True
    return [split(output)], False


def _changed_ok(prop_id: Any, deps: list[dict]) -> bool:
    if not isinstance(prop_id, str) or len(prop_id) > 1000:
        return False
    ident, _, prop = prop_id.rpartition(".")
    for dep in deps:
        if dep["property"] != prop:
            continue
        pattern = _pattern(dep["id"])
        if pattern is None:
            if ident == dep["id"]:
                return True
            continue
        try:
            sent = json.loads(ident)
        except ValueError:
            return False
        if _id_matches(sent, pattern):
            return True
    return False


def check_body(body: Any, callback_map: dict) -> dict:
    """The callback entry the body names, or CallbackRefused saying what is wrong."""
    if not isinstance(body, dict):
        raise CallbackRefused("the body must be a JSON object")
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        raise CallbackRefused("no such callback")
    entry = callback_map[output]
    if "callback" not in entry:
        raise CallbackRefused("that callback runs in the browser, not on the server")
    for name in ("inputs", "state"):
        sent = body.get(name, [])
        deps = entry.get(name) or []
        if not isinstance(sent, list) or len(sent) != len(deps):
            raise CallbackRefused(f"{name} must be a list of {len(deps)} item(s)")
        for i, (item, dep) in enumerate(zip(sent, deps)):
            _check_dependency(item, dep, f"{name}[{i}]")
    if not entry.get("no_output"):
        deps, several = _output_deps(output)
        outputs = body.get("outputs")
        if several:
            if not isinstance(outputs, list) or len(outputs) != len(deps):
                raise CallbackRefused(f"outputs must be a list of {len(deps)} item(s)")
        else:
            outputs = [outputs]
        for i, (item, dep) in enumerate(zip(outputs, deps)):
            _check_dependency(item, dep, f"outputs[{i}]")
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or len(changed) > MAX_CHANGED:
        raise CallbackRefused("changedPropIds must be a short list")
    if not all(isinstance(p, str) for p in changed):
        raise CallbackRefused("changedPropIds must be strings")
    kept = [p for p in changed if _changed_ok(p, entry.get("inputs") or [])]
    if len(kept) != len(changed):
        # Normalised, not refused: Dash's renderer can name an input it no longer has (a component
        # an ALL pattern matched, just removed); what is left is what Dash may parse as a trigger.
        log.debug("callback %s: changedPropIds not among its inputs dropped: %s", output[:80],
                  [p[:80] for p in changed if p not in kept])
        body["changedPropIds"] = kept
    return entry


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/site-packages/" not in f.filename] or frames
    if not ours:
        return "?"
    frame = ours[-1]
    return f"{frame.filename.rsplit('/', 2)[-2:][0]}/{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"


def _guarded(func, output: str):
    from dash.exceptions import PreventUpdate

    from explorer.guards.request_limits import QueryRefused

    def guarded(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (PreventUpdate, QueryRefused):
            raise                # Dash's own; a 400 naming the query's limit (explorer/web/security.py)
        except VALUE_ERRORS as exc:
            name = output if len(output) <= 80 else output[:77] + "…"
            log.warning("callback %s could not use the values sent: %s: %s (at %s)", name,
                        type(exc).__name__, str(exc)[:200], _where(exc))
            raise CallbackRefused("this callback could not use the values sent") from None

    guarded.__wrapped__ = func  # type: ignore[attr-defined]
    guarded.explorer_guarded = True  # type: ignore[attr-defined]
    return guarded


def install_callback_guard(app) -> None:
    """Check every ``/_dash-update-component`` body before Dash reads it, and answer a callback's
    failure on values it cannot use with a 400."""
    from flask import jsonify, request

    server = app.server
    path = (app.config.routes_pathname_prefix or "/") + "_dash-update-component"

    def refuse(message: str, status: int = 400):
        response = jsonify({"error": message, "status": status})
        response.status_code = status
        return response

    @server.before_request
    def _check_callback_request():
        if request.path != path or request.method != "POST":
            return None
        body = request.get_json(silent=True)
        try:
            entry = check_body(body, app.callback_map)
        except CallbackRefused as exc:
            output = body.get("output") if isinstance(body, dict) else None
            log.info("refused a callback request (%s): %s", str(output)[:100] if output else "-", exc)
            return refuse(str(exc))
        func = entry["callback"]
        if not getattr(func, "explorer_guarded", False):
            entry["callback"] = _guarded(func, body["output"])
        return None

    @server.errorhandler(CallbackRefused)
    def _callback_refused(exc: CallbackRefused):
        return refuse(str(exc), exc.status)
