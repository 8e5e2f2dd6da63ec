"""Checks a person (and a screen reader) would make of a page, for the browser tests.

* ``axe_violations``: axe-core, from the npm registry (``package.json``; ``./dev test`` installs
  it), injected into the page and run with the WCAG 2.1 A/AA rules;
* ``overflow``: how far the page is wider than the window (a phone scrolls sideways);
* ``raw_names_seen``: raw column names of the page's datasets in its visible text;
* ``screenshot``: the window as a PNG under the test's temporary folder, to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..conftest import REPO_ROOT

AXE_PATH = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG21_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")

RUN_AXE = """
var done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})
  .then(function (r) {
    done(r.violations.map(function (v) {
      return {id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(function (n) {
        return n.target.join(' ') + ' — ' + (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 240);
      })};
    }));
  })
  .catch(function (e) { done('axe failed: ' + e); });
"""


def axe_source() -> str:
    if not AXE_PATH.is_file():
        raise AssertionError(f"axe-core is not installed at {AXE_PATH}: run `npm ci` at the repository root "
                             "(./dev test does)")
    return AXE_PATH.read_text(encoding="utf-8")


def axe_violations(driver) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now."""
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(axe_source())
    driver.set_script_timeout(60)
    result = driver.execute_async_script(RUN_AXE, list(WCAG21_AA))
    if isinstance(result, str):
        raise AssertionError(result)
    return result


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} node(s)")
        lines.extend(f"    {node}" for node in v["nodes"][:12])
    return "\n".join(lines)


def assert_axe_clean(driver, where: str) -> None:
    violations = axe_violations(driver)
    assert not violations, f"axe-core finds WCAG 2.1 A/AA violations on {where}:\n{describe(violations)}"


def overflow(driver) -> int:
    """Pixels the page is wider than the window (0: no sideways scrolling)."""
    return driver.execute_script(
        "return Math.max(0, document.documentElement.scrollWidth - document.documentElement.clientWidth);")


def widest(driver, limit: int = 8) -> list[str]:
    """The elements reaching past the window's right edge (outside any scrolling box), for messages."""
    return driver.execute_script("""
      var w = document.documentElement.clientWidth, out = [];
      document.querySelectorAll('body *').forEach(function (e) {
        var r = e.getBoundingClientRect();
        if (r.width === 0 || r.right <= w + 1) { return; }
        for (var p = e.parentElement; p; p = p.parentElement) {
          var o = getComputedStyle(p).overflowX;
          if (o === 'auto' || o === 'scroll' || o === 'hidden') { return; }
        }
        out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                 (typeof e.className === 'string' && e.className ? '.' + e.className.split(' ')[0] : '') +
                 ' ends at ' + Math.round(r.right) + ' px');
      });
      return out.slice(0, arguments[0]);""", limit)


def assert_no_sideways_scroll(driver, where: str) -> None:
    extra = overflow(driver)
    assert extra <= 0, f"{where} is {extra} px wider than the window: {widest(driver)}"


def visible_text(driver) -> str:
    """The text a person sees: the live page (not the inert first view), open parts only."""
    return driver.execute_script(
        "var root = document.getElementById('react-entry-point') || document.body; return root.innerText;")


# A column name no resident would write: words joined by _ or -, a code in capitals and digits
# (LSOA11CD, NO2), a year and month run together (202603), camelCase.
RAW_SHAPE = re.compile(r"^(?=.*[A-Za-z0-9])(?:.*[A-Za-z0-9][_-][A-Za-z0-9].*|(?:19|20)\d\d(?:0[1-9]|1[0-2])"
                       r"|[A-Z]{2,}\d+[A-Za-z]*|.*[a-z][A-Z].*)$")


def raw_names(columns) -> set[str]:
    """The raw-looking names among a dataset's columns (see RAW_SHAPE)."""
    return {str(c) for c in columns if RAW_SHAPE.match(str(c)) and len(str(c)) >= 3}


def raw_names_seen(text: str, names: set[str]) -> set[str]:
    """Which of ``names`` appear as whole words in ``text``."""
    seen = set()
    for name in names:
        if re.search(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", text):
            seen.add(name)
    return seen


def screenshot(driver, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (re.sub(r"[^\w.-]+", "_", name) + ".png")
    driver.save_screenshot(str(path))
    return path
