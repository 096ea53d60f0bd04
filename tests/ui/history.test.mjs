// Android's back button and the web view's history (ui/history.js): the list is the bottom,
// one screen above it at most, and back leaves the app from the list only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { screenHistory } from "../../ui/history.js";

// The web view's history as Android's back button sees it. Pops are delivered at once, as
// `popstate` would be after the current script.
function phone() {
  const entries = [{ state: null }];
  let at = 0;
  const app = { left: false, screen: null, busy: false };
  const history = {
    get state() {
      return entries[at].state;
    },
    pushState(state) {
      entries.splice(at + 1, entries.length, { state });
      at += 1;
    },
    replaceState(state) {
      entries[at] = { state };
    },
    back() {
      queueMicrotask(pop);
      at = Math.max(0, at - 1);
    },
  };
  const steps = screenHistory(history);
  function show(name) {
    steps.entered(name, app.screen);
    app.screen = name;
  }
  function pop() {
    if (steps.popped(app.busy) === "list") show("list");
  }
  app.show = show;
  app.depth = () => at;
  // The back button: one entry back when there is one, otherwise the app leaves.
  app.pressBack = async () => {
    if (at === 0) {
      app.left = true;
      return;
    }
    at -= 1;
    pop();
    await Promise.resolve();
  };
  app.settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  return app;
}

test("back on the token list leaves the app", async () => {
  const app = phone();
  app.show("list");
  await app.pressBack();
  assert.equal(app.left, true);
});

test("back from a token's code returns to the list, and back again leaves", async () => {
  const app = phone();
  app.show("list");
  app.show("otp");
  assert.equal(app.depth(), 1);
  await app.pressBack();
  assert.deepEqual([app.screen, app.left, app.depth()], ["list", false, 0]);
  await app.pressBack();
  assert.equal(app.left, true);
});

test("the activation steps replace one another: back after any of them goes to the list", async () => {
  const app = phone();
  app.show("list");
  for (const step of ["activate", "setup", "name", "otp"]) {
    app.show(step);
    assert.equal(app.depth(), 1, `${step} sits right above the list`);
  }
  await app.pressBack();
  assert.deepEqual([app.screen, app.depth()], ["list", 0]);
});

test("a screen's own button back to the list never grows the history", async () => {
  const app = phone();
  app.show("list");
  for (let i = 0; i < 3; i += 1) {
    app.show("name");
    app.show("list");
    await app.settle();
    assert.deepEqual([app.screen, app.depth()], ["list", 0]);
  }
  await app.pressBack();
  assert.equal(app.left, true);
});

test("back while the activation is sending keeps the screen until the answer arrives", async () => {
  const app = phone();
  app.show("list");
  app.show("activate");
  app.busy = true;
  await app.pressBack();
  assert.deepEqual([app.screen, app.left, app.depth()], ["activate", false, 1]);
  app.busy = false;
  app.show("setup");
  await app.pressBack();
  assert.deepEqual([app.screen, app.depth()], ["list", 0]);
});

test("an error at start sits at the bottom: back leaves, and the list replaces it", async () => {
  const app = phone();
  app.show("error");
  app.show("list");
  assert.equal(app.depth(), 0);
  await app.pressBack();
  assert.equal(app.left, true);
});
