/* The global regeneratorRuntime that Dash's lazy-loading helper calls (dash-renderer and
 * dash-core-components, compiled by Babel from an async function). It came with Dash's
 * @babel/polyfill bundle, which the page no longer loads (explorer/web/page_scripts.py).
 *
 * A generator compiled by regenerator is a state machine: `inner(context)` runs from
 * `context.next` and returns a yielded value (having set `context.next` to where it resumes), the
 * result of `context.stop()` when it ends, or the result of `context.abrupt("return", value)`.
 * This runs such machines without try/catch regions (the helper has none;
 * tests/unit/test_page_scripts.py checks the served bundles use no more than this). */
(function () {
  "use strict";
  if (window.regeneratorRuntime) { return; }
  var CONTINUE = {};

  function Context() {
    this.prev = 0;
    this.next = 0;
    this.sent = undefined;
    this.done = false;
    this.rval = undefined;
  }
  Context.prototype.stop = function () {
    this.done = true;
    return this.rval;
  };
  Context.prototype.abrupt = function (type, arg) {
    if (type === "throw") { throw arg; }
    if (type === "return") { this.rval = arg; this.next = "end"; }
    return CONTINUE;
  };

  function wrap(inner, outer, self, tryLocations) {
    if (tryLocations && tryLocations.length) {
      throw new Error("regeneratorRuntime: generators with try/catch are not supported here");
    }
    var context = new Context(), running = false;
    function resume(value) {
      if (context.done) { return { value: undefined, done: true }; }
      if (running) { throw new TypeError("Generator is already running"); }
      context.sent = value;
      running = true;
      try {
        var result;
        do { result = inner.call(self, context); } while (result === CONTINUE && !context.done);
        return { value: context.done ? context.rval : result, done: context.done };
      } catch (error) {
        context.done = true;
        throw error;
      } finally {
        running = false;
      }
    }
    var generator = Object.create(outer && outer.prototype ? outer.prototype : Object.prototype);
    generator.next = resume;
    generator.throw = function (error) { context.done = true; throw error; };
    generator["return"] = function (value) { context.done = true; return { value: value, done: true }; };
    return generator;
  }

  window.regeneratorRuntime = {
    mark: function (fn) { return fn; },
    wrap: wrap,
    isGeneratorFunction: function () { return false; }
  };
})();
