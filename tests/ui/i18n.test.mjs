// Every text exists in Japanese and English, with the same placeholders; every error kind and
// refusal reason of rules.js (generated from Rust) has words; the app picks Japanese for a
// Japanese system.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { LANGS, STRINGS, defaultLang, errorText, invalidText, placeholders, translate } from "../../ui/i18n.js";
import rules from "../../ui/rules.js";

test("every key is present in Japanese and English with the same placeholders", () => {
  const keys = new Set(LANGS.flatMap((l) => Object.keys(STRINGS[l])));
  for (const key of keys) {
    for (const lang of LANGS) {
      assert.ok(typeof STRINGS[lang][key] === "string" && STRINGS[lang][key].length > 0, `${lang} lacks ${key}`);
    }
    assert.deepEqual(placeholders(STRINGS.ja[key]), placeholders(STRINGS.en[key]), `placeholders of ${key}`);
  }
});

// Every module of the web view, for scanning which keys and kinds they use.
function uiSources(dir = new URL("../../ui/", import.meta.url)) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return uiSources(new URL(`${e.name}/`, dir));
    return e.name.endsWith(".js") ? [readFileSync(new URL(e.name, dir), "utf8")] : [];
  });
}

test("every key the screens use exists", () => {
  const html = readFileSync(new URL("../../ui/index.html", import.meta.url), "utf8");
  const js = uiSources().join("\n");
  const used = new Set([
    ...[...html.matchAll(/data-i18n="([^"]+)"/g)].map((m) => m[1]),
    ...[...js.matchAll(/\b(?:t|translate)\((?:lang, )?"([a-z_]+\.[a-z_0-9]+)"/g)].map((m) => m[1]),
  ]);
  assert.ok(used.size > 40, `found only ${used.size} keys; the scan is broken`);
  for (const key of used) assert.ok(key in STRINGS.en, `missing key ${key}`);
});

// What a customer would read for a message: no key names, no unfilled {placeholders}.
function assertReadable(text, what) {
  assert.ok(text.length > 0, `${what} is empty`);
  assert.doesNotMatch(text, /^[a-z_]+\.[a-z_0-9]+$/, `${what} is a key, not a message: ${text}`);
  assert.doesNotMatch(text, /\{\w+\}/, `${what} has an unfilled placeholder: ${text}`);
}

test("every error kind of rules.js has a message in Japanese and English", () => {
  assert.ok(rules.error_kinds.length >= 20, `only ${rules.error_kinds.length} kinds in rules.js`);
  // The numbers and field some kinds carry, as the app sends them.
  const carried = {
    invalid_input: { field: "user_id", reason: "wrong_length", min: 12, max: 12, found: 3 },
    wrong_activation_password: { triesLeft: 3 },
    rate_limited: { retryAfter: 30 },
  };
  for (const kind of rules.error_kinds) {
    for (const lang of LANGS) {
      assertReadable(errorText(lang, { kind, ...carried[kind] }), `${lang} message of ${kind}`);
    }
  }
});

test("kinds the customer can act on have a message of their own, not the generic one", () => {
  // Kinds worded like another: the bank's server failing, and what no customer can act on.
  const shared = new Set(["server_error", "protocol_violation", "crypto", "superseded", "internal", "not_kiosk"]);
  for (const kind of rules.error_kinds.filter((k) => !shared.has(k))) {
    for (const lang of LANGS) {
      assert.notEqual(errorText(lang, { kind }), translate(lang, "error.generic"), `${kind} is generic in ${lang}`);
    }
  }
  for (const lang of LANGS) {
    assert.equal(errorText(lang, { kind: "server_error" }), translate(lang, "error.server_problem"));
    assert.equal(errorText(lang, { kind: "no_backend" }), translate(lang, "error.generic"), "unknown kinds");
  }
});

test("every reason a value is refused for has a message in Japanese and English", () => {
  for (const reason of rules.invalid_reasons) {
    for (const [min, max] of [[8, 8], [4, 8]]) {
      for (const lang of LANGS) {
        const text = invalidText(lang, { reason, min, max, found: 3 }, "service_id");
        assertReadable(text, `${lang} message of ${reason} (${min}–${max})`);
        assert.ok(text.includes(translate(lang, "field.service_id")), `${lang} ${reason} names the field`);
      }
    }
  }
});

test("the numbers an error carries reach the customer", () => {
  assert.match(errorText("en", { kind: "wrong_activation_password", triesLeft: 3 }), /\b3\b/);
  assert.equal(
    errorText("ja", { kind: "wrong_activation_password", triesLeft: 1 }),
    translate("ja", "error.wrong_activation_password_last"),
  );
  assert.match(errorText("ja", { kind: "rate_limited", retryAfter: 45 }), /45/);
  assert.equal(errorText("en", { kind: "rate_limited" }), translate("en", "error.rate_limited"));
  assert.equal(
    errorText("en", { kind: "invalid_input", field: "user_id", reason: "wrong_length", min: 12, max: 12, found: 3 }),
    "The user ID has 12 digits (3 entered).",
  );
});

test("the screens use the manual's wording", () => {
  assert.equal(translate("ja", "activate.submit"), "送信");
  assert.equal(translate("ja", "setup.heading"), "初期設定");
  assert.equal(translate("ja", "setup.next"), "次へ");
  assert.equal(translate("ja", "name.heading"), "トークン表示名設定");
  assert.equal(translate("ja", "name.added"), "変更後の追加文言");
  assert.equal(translate("ja", "name.register"), "登録");
  assert.equal(translate("ja", "otp.heading"), "ワンタイムパスワード");
});

test("a Japanese system gets Japanese, any other gets English", () => {
  assert.equal(defaultLang("ja"), "ja");
  assert.equal(defaultLang("ja-JP"), "ja");
  assert.equal(defaultLang("JA-jp"), "ja");
  assert.equal(defaultLang("en-US"), "en");
  assert.equal(defaultLang("jv"), "en");
  assert.equal(defaultLang(undefined), "en");
});

test("placeholders are filled, unknown ones are left visible", () => {
  assert.equal(translate("en", "code.seconds_left", { n: 7 }), "7 s left");
  assert.equal(translate("ja", "code.seconds_left", { n: 7 }), "残り 7 秒");
  assert.equal(translate("en", "code.seconds_left"), "{n} s left");
  assert.equal(translate("en", "wrong.key"), "wrong.key");
});
