// The screen's checks agree with softtoken-core's rules (crates/core/src/ids.rs).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkAddedWording, checkBaseName, checkPassword, checkServiceId, checkUserId,
  invalidMessage, previewName,
} from "../../ui/validate.js";

test("customer typing full-width digits gets the same service ID", () => {
  assert.deepEqual(checkServiceId("１０１１２２３１"), { ok: true, value: "10112231" });
  assert.deepEqual(checkServiceId("10112231"), { ok: true, value: "10112231" });
});

test("customer pasting with spaces and hyphens gets the digits", () => {
  for (const s of [" 9998-0000-0001 ", "9998 0000 0001", "９９９８－００００－０００１", "9998ー0000ー0001", "9998\u30000000\u30000001"]) {
    assert.deepEqual(checkUserId(s), { ok: true, value: "999800000001" }, s);
  }
  assert.deepEqual(checkPassword("12-34"), { ok: true, value: "1234" });
});

test("letters and other scripts' digits are refused as not digits", () => {
  assert.equal(checkServiceId("1011223l").reason, "not_digits");
  assert.equal(checkUserId("99980000000a").reason, "not_digits");
  assert.equal(checkPassword("12a4").reason, "not_digits");
  assert.equal(checkServiceId("١٠١١٢٢٣١").reason, "not_digits");
});

test("wrong lengths say how many digits are expected and were typed", () => {
  assert.deepEqual(checkServiceId("1011223"), { ok: false, reason: "wrong_length", min: 8, max: 8, found: 7 });
  assert.deepEqual(checkUserId("9998000000011"), { ok: false, reason: "wrong_length", min: 12, max: 12, found: 13 });
  assert.equal(checkPassword("123").found, 3);
  assert.equal(checkPassword("123456789").reason, "wrong_length");
  assert.ok(checkPassword("12345678").ok);
  assert.ok(checkPassword("１２３４").ok);
});

test("empty input is refused as empty", () => {
  for (const s of ["", "   ", "\u3000", "--"]) {
    assert.equal(checkServiceId(s).reason, "empty", JSON.stringify(s));
    assert.equal(checkPassword(s).reason, "empty");
  }
});

test("display names: trimmed, Japanese welcome, limits in characters not bytes", () => {
  assert.deepEqual(checkBaseName("  テスト信用組合\u3000"), { ok: true, value: "テスト信用組合" });
  assert.equal(checkBaseName(" ").reason, "empty");
  assert.ok(checkBaseName("あ".repeat(32)).ok);
  assert.deepEqual(checkBaseName("あ".repeat(33)), { ok: false, reason: "too_long", max: 32 });
  assert.ok(checkBaseName("😀".repeat(32)).ok, "an emoji counts once");
  assert.deepEqual(checkAddedWording(""), { ok: true, value: "" });
  assert.equal(checkAddedWording("a\nb").reason, "control");
  assert.equal(checkAddedWording("a\u202eb").reason, "control", "bidi override");
  assert.equal(checkAddedWording("a\u200bb").reason, "control", "zero-width space");
});

test("the preview shows the name as core will store it", () => {
  assert.equal(previewName("テスト信用組合", ""), "テスト信用組合");
  assert.equal(previewName("テスト信用組合", " 個人用 "), "テスト信用組合 個人用");
});

test("refusals map to messages with the numbers the customer needs", () => {
  assert.deepEqual(invalidMessage(checkServiceId("123"), "service_id"), {
    key: "invalid.wrong_length_exact", params: { min: 8, max: 8, found: 3 }, field: "service_id",
  });
  assert.equal(invalidMessage(checkPassword("123"), "activation_password").key, "invalid.wrong_length_range");
  assert.equal(invalidMessage(checkPassword("x"), "activation_password").key, "invalid.not_digits");
});
