// What every screen module needs from the page: its elements, the language texts are written
// in, and a way to write a text only when it changed.

import { errorText as errorTextIn, invalidText as invalidTextIn, translate } from "./i18n.js";

let lang = "en";

export const $ = (id) => document.getElementById(id);

export const currentLang = () => lang;

export function setLang(next) {
  lang = next;
}

export const t = (key, params) => translate(lang, key, params);

export const errorText = (e) => errorTextIn(lang, e);

export const invalidText = (result, field) => invalidTextIn(lang, result, field);

// An unchanged text node rewritten every second still costs a style pass, a repaint and an
// accessibility event.
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** Shows `text` as the problem of input `inputId`, or clears it when `text` is null. */
export function setFieldError(inputId, text) {
  const input = $(inputId);
  const err = $(`${inputId}-error`);
  err.hidden = !text;
  err.textContent = text ?? "";
  if (text) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}
