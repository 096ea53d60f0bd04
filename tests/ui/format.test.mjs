// How codes are grouped, spoken and counted down.
import { test } from "node:test";
import assert from "node:assert/strict";
import { clockGapMinutes, groupCode, maskUserId, msToNextSecond, secondsLeftAt, showsNextCode, spokenDigits } from "../../ui/format.js";

test("codes are grouped in halves for reading", () => {
  assert.equal(groupCode("123456"), "123 456");
  assert.equal(groupCode("12345678"), "1234 5678");
  assert.equal(groupCode("012345"), "012 345", "a leading zero stays");
});

test("screen readers get the digits one by one", () => {
  assert.equal(spokenDigits("123456"), "1 2 3, 4 5 6");
  assert.equal(spokenDigits("00123456"), "0 0 1 2, 3 4 5 6");
});

test("the countdown follows the code's expiry second, never below zero", () => {
  const expires = 1_700_000_040;
  assert.equal(secondsLeftAt(expires, 1_700_000_000_000), 40);
  assert.equal(secondsLeftAt(expires, 1_700_000_000_999), 40);
  assert.equal(secondsLeftAt(expires, 1_700_000_001_000), 39);
  assert.equal(secondsLeftAt(expires, 1_700_000_050_000), 0);
});

test("the next code shows only in the last ten seconds", () => {
  assert.equal(showsNextCode(11), false);
  assert.equal(showsNextCode(10), true);
  assert.equal(showsNextCode(1), true);
});

test("the ticker wakes just after each whole second", () => {
  assert.equal(msToNextSecond(5_000), 1_020);
  assert.equal(msToNextSecond(5_999), 21);
  assert.ok(msToNextSecond(5_500) > 500 && msToNextSecond(5_500) < 1_000);
});

test("user IDs are masked as core masks them", () => {
  assert.equal(maskUserId("999800000001"), "********0001");
});

test("a phone clock off the bank's is told in whole minutes, its sign saying which way", () => {
  assert.equal(clockGapMinutes(null), null, "no gap worth telling");
  assert.equal(clockGapMinutes(undefined), null);
  assert.equal(clockGapMinutes(60), 1, "a minute behind");
  assert.equal(clockGapMinutes(-3600), -60, "an hour ahead");
  assert.equal(clockGapMinutes(89), 1);
  assert.equal(clockGapMinutes(91), 2);
  assert.equal(clockGapMinutes(-20), -1, "never shown as 0 minutes");
});
