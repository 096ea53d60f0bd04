// Every text exists in Japanese and English, with the same placeholders, and the app picks
// Japanese for a Japanese system.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { LANGS, STRINGS, defaultLang, placeholders, translate } from "../../ui/i18n.js";

test("every key is present in Japanese and English with the same placeholders", () => {
  const keys = new Set(LANGS.flatMap((l) => Object.keys(STRINGS[l])));
  for (const key of keys) {
    for (const lang of LANGS) {
      assert.ok(typeof STRINGS[lang][key] === "string" && STRINGS[lang][key].length > 0, `${lang} lacks ${key}`);
    }
    assert.deepEqual(placeholders(STRINGS.ja[key]), placeholders(STRINGS.en[key]), `placeholders of ${key}`);
  }
});

test("every key the screens use exists", () => {
  const html = readFileSync(new URL("../../ui/index.html", import.meta.url), "utf8");
  const js = readFileSync(new URL("../../ui/app.js", import.meta.url), "utf8");
  const used = new Set([
    ...[...html.matchAll(/data-i18n="([^"]+)"/g)].map((m) => m[1]),
    ...[...js.matchAll(/\bt\("([a-z_]+\.[a-z_0-9]+)"/g)].map((m) => m[1]),
  ]);
  assert.ok(used.size > 40, `found only ${used.size} keys; the scan is broken`);
  for (const key of used) assert.ok(key in STRINGS.en, `missing key ${key}`);
});

test("every error kind the app can report has its own message in both languages", () => {
  const kinds = [
    "registration_locked", "registration_expired", "already_delivered", "registration_ended",
    "unknown_registration", "server_unreachable", "tls", "bank_not_authenticated",
    "duplicate_token", "token_not_found", "keychain_unavailable", "vault_key_missing",
    "vault_corrupted", "vault_too_new", "storage_io", "unsupported_parameters",
    "insecure_server_url", "clipboard_unavailable", "attempt_expired",
  ];
  for (const kind of kinds) {
    for (const lang of LANGS) {
      const text = translate(lang, `error.${kind}`);
      assert.notEqual(text, `error.${kind}`, `${lang} has no message for ${kind}`);
      assert.notEqual(text, translate(lang, "error.generic"), `${kind} falls back to generic in ${lang}`);
    }
  }
  // The manual's wording of the screens.
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
