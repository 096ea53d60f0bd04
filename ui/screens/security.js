// The lock's settings, from the token list: choose, change or remove the PIN, lock at once, and
// how long the app may stay in the background before it asks for the PIN again (60 s unless
// the customer chooses otherwise). A build that requires a PIN offers no way to remove it. On a
// phone that can keep it behind its biometrics, fingerprint or face unlock is turned on (with
// the PIN) or off here.

import * as api from "../api.js";
import { clearErrorIn, showErrorIn } from "../errors.js";
import * as lock from "../lock.js";
import { go, show } from "../navigation.js";
import * as notice from "../notice.js";
import { $, setText, t } from "../view.js";

export function open() {
  clearErrorIn("security-error");
  paint();
  show("security");
  lock.refresh().then(paint, (e) => showErrorIn("security-error", e));
}

export function relang() {
  paint();
}

function paint() {
  const s = lock.current();
  const state = t(s.pinSet ? "security.state_on" : "security.state_off");
  setText($("security-state"), s.pinRequired ? `${state} ${t("security.state_required")}` : state);
  $("security-set").hidden = s.pinSet;
  $("security-change").hidden = !s.pinSet;
  $("security-lock-now").hidden = !s.pinSet;
  $("security-remove").hidden = !s.pinSet || s.pinRequired;
  $("security-after-field").hidden = !s.pinSet;
  // Offered only where the phone can keep the unlock behind its biometrics, and only with a PIN.
  $("security-biometric-on").hidden = !s.biometricAvailable || s.biometricOn;
  $("security-biometric-off").hidden = !s.biometricOn;
  $("security-biometric-state").hidden = !s.biometricOn;
  setText($("security-biometric-state"), s.biometricOn ? t("security.biometric_state_on") : "");
  const select = $("security-after");
  for (const option of select.options) option.textContent = t(`security.after_${option.value}`);
  select.value = String(s.lockAfterSecs);
}

async function saveAfter() {
  clearErrorIn("security-error");
  try {
    lock.remember(await api.setLockTimeout(Number($("security-after").value)));
    notice.say("security.after_saved");
  } catch (e) {
    showErrorIn("security-error", e);
  }
  paint();
}

async function biometricOff() {
  clearErrorIn("security-error");
  try {
    lock.remember(await api.turnOffBiometric());
    notice.say("security.biometric_off_done");
  } catch (e) {
    showErrorIn("security-error", e);
  }
  paint();
}

async function lockNow() {
  clearErrorIn("security-error");
  try {
    lock.remember(await api.lockNow());
    go("lock");
  } catch (e) {
    showErrorIn("security-error", e);
  }
}

export function wire() {
  $("security-set").addEventListener("click", () => go("pin", "set"));
  $("security-change").addEventListener("click", () => go("pin", "change"));
  $("security-remove").addEventListener("click", () => go("pin", "remove"));
  $("security-lock-now").addEventListener("click", lockNow);
  $("security-biometric-on").addEventListener("click", () => go("pin", "biometric"));
  $("security-biometric-off").addEventListener("click", biometricOff);
  $("security-after").addEventListener("change", saveAfter);
  $("security-back").addEventListener("click", () => go("list"));
}
