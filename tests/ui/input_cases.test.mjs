// The screen's early checks agree with softtoken-core on every case of input-cases.json, the
// file crates/core/tests/input_cases.rs runs through softtoken_core::ids: what a customer types
// is accepted (and normalised) or refused for the same reason on both sides.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import rules from "../../ui/rules.js";
import {
  checkAddedWording, checkBaseName, checkPassword, checkServiceId, checkUserId,
} from "../../ui/validate.js";

const cases = JSON.parse(readFileSync(new URL("./input-cases.json", import.meta.url), "utf8"));

const CHECKS = {
  service_id: checkServiceId,
  user_id: checkUserId,
  activation_password: checkPassword,
  base_name: checkBaseName,
  added_wording: checkAddedWording,
};

// Code points, so a failure shows which invisible character it was about.
const shown = (s) => `${JSON.stringify(s)} [${[...s].map((c) => c.codePointAt(0).toString(16)).join(" ")}]`;

test("the cases cover every rule and every reason a value is refused for", () => {
  assert.ok(cases.length >= 50, `only ${cases.length} cases`);
  for (const c of cases) {
    assert.ok(c.rule in CHECKS, `unknown rule ${c.rule}`);
    if (!c.ok) assert.ok(rules.invalid_reasons.includes(c.reason), `unknown reason ${c.reason}`);
  }
  for (const rule of Object.keys(CHECKS)) {
    assert.ok(cases.some((c) => c.rule === rule && c.ok), `no accepted ${rule}`);
    assert.ok(cases.some((c) => c.rule === rule && !c.ok), `no refused ${rule}`);
  }
  for (const reason of rules.invalid_reasons) {
    assert.ok(cases.some((c) => c.reason === reason), `no case refused as ${reason}`);
  }
});

for (const rule of Object.keys(CHECKS)) {
  test(`every ${rule} case is accepted or refused as core does`, () => {
    const wrong = [];
    for (const c of cases.filter((x) => x.rule === rule)) {
      const r = CHECKS[rule](c.input);
      const expected = c.ok ? { ok: true, value: c.value } : { ok: false, reason: c.reason };
      const got = r.ok ? { ok: true, value: r.value } : { ok: false, reason: r.reason };
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        wrong.push(`${shown(c.input)}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`);
      }
    }
    assert.deepEqual(wrong, [], `${wrong.length} ${rule} cases disagree with core`);
  });
}
