// The same input rules as softtoken-core's ids.rs, so the customer sees a problem while typing.
// Core checks again when the form is sent; these functions only decide what to show early.

export const SERVICE_ID_DIGITS = 8;
export const USER_ID_DIGITS = 12;
export const PASSWORD_MIN_DIGITS = 4;
export const PASSWORD_MAX_DIGITS = 8;
export const DISPLAY_NAME_MAX_CHARS = 32;
export const ADDED_WORDING_MAX_CHARS = 32;

// Spaces and hyphens people paste from mail, as core drops them: ASCII and full-width space,
// no-break space, hyphens and dashes, minus, and the katakana prolonged sound marks an IME
// produces for "-".
const SEPARATORS = new Set([
  " ", "\u3000", "\u00a0", "-", "\uff0d", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014",
  "\u2212", "\u30fc", "\uff70",
]);

// Characters core refuses in a name: controls and invisible formatting characters.
const FORBIDDEN_IN_NAME =
  /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]/u;

/**
 * Normalises typed digits: full-width digits become ASCII, separators are dropped.
 * Returns `{ ok: true, value }` or `{ ok: false, reason, min, max, found }`.
 */
export function normaliseDigits(input, min, max) {
  let out = "";
  for (const c of String(input).trim()) {
    if (c >= "0" && c <= "9") {
      out += c;
    } else if (c >= "\uff10" && c <= "\uff19") {
      out += String.fromCharCode(c.charCodeAt(0) - 0xff10 + 0x30);
    } else if (SEPARATORS.has(c)) {
      continue;
    } else {
      return { ok: false, reason: "not_digits" };
    }
  }
  if (out.length === 0) return { ok: false, reason: "empty" };
  if (out.length < min || out.length > max) {
    return { ok: false, reason: "wrong_length", min, max, found: out.length };
  }
  return { ok: true, value: out };
}

export const checkServiceId = (s) => normaliseDigits(s, SERVICE_ID_DIGITS, SERVICE_ID_DIGITS);
export const checkUserId = (s) => normaliseDigits(s, USER_ID_DIGITS, USER_ID_DIGITS);
export const checkPassword = (s) => normaliseDigits(s, PASSWORD_MIN_DIGITS, PASSWORD_MAX_DIGITS);

function trimName(s) {
  // Rust's char::is_whitespace at both ends, which includes the full-width space.
  return String(s).replace(/^[\s\u3000\u0085]+|[\s\u3000\u0085]+$/gu, "");
}

function checkName(input, max, allowEmpty) {
  const s = trimName(input);
  if (FORBIDDEN_IN_NAME.test(s)) return { ok: false, reason: "control" };
  if (s.length === 0 && !allowEmpty) return { ok: false, reason: "empty" };
  // Characters, not UTF-16 units: one kanji or emoji counts once, as in core.
  if ([...s].length > max) return { ok: false, reason: "too_long", max };
  return { ok: true, value: s };
}

export const checkBaseName = (s) => checkName(s, DISPLAY_NAME_MAX_CHARS, false);
export const checkAddedWording = (s) => checkName(s, ADDED_WORDING_MAX_CHARS, true);

/** The whole display name as core shows it: base, then the added wording after a space. */
export function previewName(base, added) {
  const b = trimName(base);
  const a = trimName(added);
  return a ? `${b} ${a}` : b;
}

/** The i18n key and parameters of a refusal, for `field` (a `field.*` key suffix). */
export function invalidMessage(result, field) {
  if (result.reason === "wrong_length") {
    return {
      key: result.min === result.max ? "invalid.wrong_length_exact" : "invalid.wrong_length_range",
      params: { min: result.min, max: result.max, found: result.found },
      field,
    };
  }
  return { key: `invalid.${result.reason}`, params: { max: result.max }, field };
}
