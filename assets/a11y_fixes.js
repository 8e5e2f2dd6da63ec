/* Accessibility repairs for markup that Dash's own components write (dash 4.x), so every page
 * passes axe-core's WCAG 2.1 A/AA rules (tests/browser/test_pages_as_seen.py):
 *
 * - dcc.Dropdown puts a focus proxy before its button: an <input tabindex=0 aria-hidden=true>
 *   that hands focus on to the button (whose tabindex is -1). A focusable element hidden from
 *   assistive technology is a WCAG 4.1.2 failure, so the button itself takes the Tab stop and the
 *   proxy leaves the tab order (the dropdown's keyboard handling is on the button already).
 * - dcc.Checklist and dcc.RadioItems wrap native checkboxes and radios in role="listbox" /
 *   role="option" labels: an interactive control inside another (nested-interactive). The
 *   native inputs already say what they are, so the ARIA roles are taken off (not in a
 *   dropdown's pop-up list, a listbox the arrow keys move through).
 * - dcc.Slider's thumb (role="slider") has no name and takes no aria props: it is named from the
 *   nearest enclosing element's data-slider-label attribute, which the layouts write.
 *
 * One MutationObserver watches for these components as Dash draws and redraws them.
 */
(function () {
  "use strict";

  var PROXY = "input.dash-dropdown-focus-target";
  // checklists and radio lists only: a dropdown's pop-up list is a real listbox (arrow keys move
  // through its options) and keeps its roles
  var OPTION_LIST = ".dash-options-list.dash-checklist, .dash-options-list.dash-radioitems";
  var THUMB = "[role=slider]";

  function repairProxy(proxy) {
    if (proxy.getAttribute("tabindex") !== "-1") { proxy.setAttribute("tabindex", "-1"); }
    var button = proxy.nextElementSibling;
    if (button && button.tagName === "BUTTON" && !button.disabled && button.getAttribute("tabindex") !== "0") {
      button.setAttribute("tabindex", "0");
    }
  }

  function repairOption(option) {
    if (option.hasAttribute("role")) { option.removeAttribute("role"); }
    if (option.hasAttribute("aria-selected")) { option.removeAttribute("aria-selected"); }
  }

  function repairList(list) {
    if (list.hasAttribute("role")) { list.removeAttribute("role"); }
    var options = list.querySelectorAll(".dash-options-list-option");
    for (var i = 0; i < options.length; i++) { repairOption(options[i]); }
  }

  function nameThumb(thumb) {
    if (thumb.hasAttribute("aria-label") || thumb.hasAttribute("aria-labelledby")) { return; }
    var named = thumb.closest("[data-slider-label]");
    if (named) { thumb.setAttribute("aria-label", named.getAttribute("data-slider-label")); }
  }

  function repairWithin(root) {
    if (!root || root.nodeType !== 1) { return; }
    if (root.matches(PROXY)) { repairProxy(root); }
    if (root.matches(OPTION_LIST)) { repairList(root); }
    var proxies = root.querySelectorAll(PROXY);
    for (var i = 0; i < proxies.length; i++) { repairProxy(proxies[i]); }
    var lists = root.querySelectorAll(OPTION_LIST);
    for (var j = 0; j < lists.length; j++) { repairList(lists[j]); }
    var thumbs = root.querySelectorAll(THUMB);
    for (var k = 0; k < thumbs.length; k++) { nameThumb(thumbs[k]); }
  }

  function onChange(records) {
    for (var i = 0; i < records.length; i++) {
      var record = records[i];
      if (record.type === "childList") {
        for (var j = 0; j < record.addedNodes.length; j++) { repairWithin(record.addedNodes[j]); }
      } else {
        var target = record.target;
        // the button's blur handler gives the proxy its tab stop back; a redraw sets the roles again
        if (target.matches(PROXY)) { repairProxy(target); }
        else if (target.matches(".dash-options-list-option") && target.parentElement &&
                 target.parentElement.matches(OPTION_LIST)) { repairOption(target); }
        else if (target.matches(OPTION_LIST)) { repairList(target); }
        else if (target.matches(THUMB)) { nameThumb(target); }
        else if (target.tagName === "BUTTON" && target.previousElementSibling &&
                 target.previousElementSibling.matches(PROXY)) { repairProxy(target.previousElementSibling); }
      }
    }
  }

  function start() {
    repairWithin(document.body);
    new MutationObserver(onChange).observe(document.body, {
      childList: true, subtree: true, attributes: true,
      attributeFilter: ["tabindex", "role", "aria-selected"],
    });
  }

  if (document.body) { start(); } else { document.addEventListener("DOMContentLoaded", start); }
}());
