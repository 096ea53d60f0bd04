// The input rules of softtoken-core's ids.rs, so the customer sees a problem while typing. The
// numbers, separators and forbidden characters come from rules.js, which is generated from core;
// core checks again when the form is sent, these functions only decide what to show early.

import rules from "./rules.js";

const SEPARATORS = new Set(rules.separators);

// Rust's char::is_whitespace (Unicode White_Space), which core trims from both ends. Not JS's
// \s or trim(): those also drop U+FEFF, which core refuses in a name and in an ID.
const WHITESPACE = "\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const ENDS = new RegExp(`^[${WHITESPACE}]+|[${WHITESPACE}]+$`, "gu");

function trimLikeRust(s) {
  return String(s).replace(ENDS, "");
}

function isForbiddenInName(c) {
  const n = c.codePointAt(0);
  return rules.forbidden_in_name.some(([first, last]) => n >= first && n <= last);
}

/**
 * Normalises typed digits: full-width digits become ASCII, separators are dropped.
 * Returns `{ ok: true, value }` or `{ ok: false, reason, min, max, found }`.
 */
export function normaliseDigits(input, min, max) {
  let out = "";
  for (const c of trimLikeRust(input)) {
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

const digitsOf = (rule) => (s) => normaliseDigits(s, rule.min_digits, rule.max_digits);

export const checkServiceId = digitsOf(rules.service_id);
export const checkUserId = digitsOf(rules.user_id);
export const checkPassword = digitsOf(rules.activation_password);
export const checkAppPin = digitsOf(rules.app_pin);

// Characters as the customer sees them (extended grapheme clusters), as core counts them:
// 👨‍👩‍👧 or が is one.
const graphemes = new Intl.Segmenter("en", { granularity: "grapheme" });
const clustersOf = (s) => [...graphemes.segment(s)].map((x) => x.segment);
const JOINER = String.fromCodePoint(rules.emoji_joiner);
const extendsALetter = (c) => clustersOf(`a${c}`).length === 1;

// Core's has_forbidden_char: the joiner is allowed where an emoji follows it in its cluster.
function hasForbiddenChar(cluster) {
  const cs = [...cluster];
  return cs.some((c, i) =>
    c === JOINER ? i + 1 === cs.length || extendsALetter(cs[i + 1]) : isForbiddenInName(c));
}

function checkName(input, rule, allowEmpty) {
  const s = trimLikeRust(input);
  const clusters = clustersOf(s);
  if (clusters.some(hasForbiddenChar)) return { ok: false, reason: "control" };
  if (s.length === 0 && !allowEmpty) return { ok: false, reason: "empty" };
  const max = rule.max_chars;
  if (clusters.length > max || [...s].length > rule.max_code_points) {
    return { ok: false, reason: "too_long", max };
  }
  return { ok: true, value: s };
}

export const checkBaseName = (s) => checkName(s, rules.base_name, false);
export const checkAddedWording = (s) => checkName(s, rules.added_wording, true);

/** The whole display name as core shows it: base, then the added wording after a space. */
export function previewName(base, added) {
  const b = trimLikeRust(base);
  const a = trimLikeRust(added);
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
