// The web view's history follows the screens, so that Android's back button (which goes back one
// entry, and leaves the app when there is none) walks back through them: the list is the bottom
// entry; a screen opened from the list is one entry above it; the next steps of a flow
// (activation → setup → name → code) replace that entry; and returning to the list goes back
// instead of pushing, so there is never more than one entry above the list.
// docs/PLATFORMS-native.md, "Android back button". No document here: node tests drive it.

/**
 * The rules over `history` (the web view's, or a fake). `entered(name, from)` is called each
 * time a screen is shown; `popped(busy)` on each `popstate`, and answers "list" when the
 * customer went back to the list, "stay" when the screen on view stays (a request in flight, or
 * the pop of our own `history.back()`).
 */
export function screenHistory(history) {
  // Whether an entry sits above the list's.
  let above = false;
  // Pops still to come from our own `history.back()` calls: the list is already shown.
  let ownBacks = 0;

  function entered(name, from) {
    if (name === "list") {
      if (above) {
        above = false;
        ownBacks += 1;
        history.back();
      } else {
        history.replaceState({ screen: name }, "");
      }
    } else if (from === "list" && !above) {
      history.pushState({ screen: name }, "");
      above = true;
    } else {
      // A later step of a flow, or a first screen other than the list (an error at start):
      // nothing is pushed that the list would sit on top of.
      history.replaceState({ screen: name }, "");
    }
  }

  function popped(busy) {
    if (ownBacks > 0) {
      ownBacks -= 1;
      return "stay";
    }
    if (!above) return "stay";
    above = false;
    if (busy) {
      // The answer is on its way: leaving now would drop it (and a token the bank already
      // issued). The entry comes back and the screen stays until the answer is shown.
      history.pushState(history.state, "");
      above = true;
      return "stay";
    }
    return "list";
  }

  return { entered, popped };
}
