// Step 9 and rename: the token's display name. Registering keeps the bank's base name and adds
// an optional wording; renaming may change both. A preview shows the whole name as it will be.

import * as api from "../api.js";
import { clearErrorIn, showErrorIn } from "../errors.js";
import { go, show } from "../navigation.js";
import * as tokens from "../tokens.js";
import rules from "../rules.js";
import { checkAddedWording, checkBaseName, previewName } from "../validate.js";
import { $, invalidText, setFieldError, t } from "../view.js";

const FIELDS = [
  ["base-name", checkBaseName, "display_name"],
  ["added-wording", checkAddedWording, "added_wording"],
];

// "register" (step 9, after setup) or "rename" (from the list).
let mode = "register";
// The token being named.
let tokenId = null;
// True while the name is being saved.
let busy = false;

export function open(how, tok) {
  mode = how;
  tokenId = tok.id;
  writeTitles();
  $("name-intro").hidden = mode === "rename";
  $("base-field").hidden = mode !== "rename";
  $("base-fixed-field").hidden = mode === "rename";
  $("name-cancel").hidden = mode !== "rename";
  $("base-name").value = tok.baseName;
  $("base-fixed").textContent = tok.baseName;
  $("added-wording").value = mode === "rename" ? tok.addedWording : "";
  setFieldError("base-name", null);
  setFieldError("added-wording", null);
  clearErrorIn("name-error");
  updatePreview();
  show("name", mode === "rename" ? "base-name" : "added-wording");
}

export function relang() {
  $("added-wording-hint").textContent = t("name.added_hint", { max: rules.added_wording.max_chars });
  writeTitles();
  for (const [input, check, field] of FIELDS) {
    if ($(input).getAttribute("aria-invalid") === "true") {
      const r = check($(input).value);
      setFieldError(input, r.ok ? null : invalidText(r, field));
    }
  }
  updatePreview();
}

export function forget() {
  $("name-form").reset();
  for (const id of ["base-fixed", "name-preview"]) $(id).textContent = "";
}

function writeTitles() {
  $("name-heading").textContent = t(mode === "rename" ? "name.rename_heading" : "name.heading");
  $("name-submit").textContent = t(mode === "rename" ? "name.save" : "name.register");
}

function currentBase() {
  return mode === "rename" ? $("base-name").value : $("base-fixed").textContent;
}

function updatePreview() {
  $("name-preview").textContent = previewName(currentBase(), $("added-wording").value);
}

async function submit(ev) {
  ev.preventDefault();
  if (busy) return;
  const base = checkBaseName(currentBase());
  const added = checkAddedWording($("added-wording").value);
  setFieldError("base-name", base.ok ? null : invalidText(base, "display_name"));
  setFieldError("added-wording", added.ok ? null : invalidText(added, "added_wording"));
  if (!base.ok) return $("base-name").focus();
  if (!added.ok) return $("added-wording").focus();
  busy = true;
  $("name-submit").disabled = true;
  try {
    await api.renameToken(tokenId, base.value, added.value);
    await tokens.refresh();
    if (mode === "register") go("otp", tokenId);
    else go("list");
  } catch (e) {
    showErrorIn("name-error", e);
  } finally {
    busy = false;
    $("name-submit").disabled = false;
  }
}

export function wire() {
  $("name-form").addEventListener("submit", submit);
  $("name-cancel").addEventListener("click", () => go("list"));
  $("base-name").addEventListener("input", updatePreview);
  $("added-wording").addEventListener("input", updatePreview);
}
