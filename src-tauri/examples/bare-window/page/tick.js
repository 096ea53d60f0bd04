// A countdown once a second, stopped while the page is hidden; after its first paint the page
// tells Rust (`ui_ready`), as the app does after its first codes.
const seconds = document.getElementById("seconds");
let timer = null;

function tick() {
  const left = 60 - (Math.floor(Date.now() / 1000) % 60);
  const text = `${left} s`;
  if (seconds.textContent !== text) seconds.textContent = text;
}

function follow() {
  clearInterval(timer);
  timer = null;
  if (document.visibilityState === "visible") {
    tick();
    timer = setInterval(tick, 1000);
  }
}

document.addEventListener("visibilitychange", follow);
follow();
requestAnimationFrame(() =>
  requestAnimationFrame(() => window.__TAURI_INTERNALS__.invoke("ui_ready").catch(() => {})),
);
