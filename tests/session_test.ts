import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { hamustroSession, hashDeviceId } from "../src/hamustro/session.ts";
import { Environment, type EnvironmentName } from "../src/hamustro/environment.ts";

function md5(text: string): string {
  return createHash("md5").update(text, "utf8").digest("hex");
}

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

Deno.test("hashDeviceId() is the lowercase sha256 hex of the raw device id", () => {
  const long = "device-Ω-".repeat(1000); // longer than the hasher's reused encode buffer
  for (
    const raw of [
      "",
      "device-1",
      "5F3C2A1E-0000-4000-8000-ÄÖÜ",
      "🎉📱",
      "lone \ud800 surrogate",
      long,
    ]
  ) {
    assert.equal(hashDeviceId(raw), sha256(raw));
  }
});

Deno.test("hamustroSession() is md5 of 'sha256(device):client:system:product:envNumber'", () => {
  const cases: Array<[string, string, string, string, EnvironmentName]> = [
    ["device-1", "c1", "14.1", "2.3", "PRODUCTION"],
    ["a1b2c3", "client-ü", "Android 13", "10.0.0-beta", "STAGING"],
    ["x", "", "", "", "DEVELOPMENT"],
    ["日本", "c:1", "v:2", "p:3", "QUALITY_ASSURANCE"],
  ];
  for (const [raw, clientId, systemVersion, productVersion, env] of cases) {
    const number = Environment[env];
    const expected = md5(`${sha256(raw)}:${clientId}:${systemVersion}:${productVersion}:${number}`);
    const fields = { deviceId: hashDeviceId(raw), clientId, systemVersion, productVersion };
    assert.equal(hamustroSession({ ...fields, env }), expected, `${raw} by name`);
    assert.equal(hamustroSession({ ...fields, env: number }), expected, `${raw} by number`);
  }
});

Deno.test("hamustroSession() uses the environment number, not its name", () => {
  const fields = { deviceId: sha256("d"), clientId: "c", systemVersion: "s", productVersion: "p" };
  assert.notEqual(
    hamustroSession({ ...fields, env: "STAGING" }),
    md5(`${fields.deviceId}:c:s:p:STAGING`),
  );
  assert.equal(hamustroSession({ ...fields, env: "STAGING" }), md5(`${fields.deviceId}:c:s:p:8`));
  assert.notEqual(
    hamustroSession({ ...fields, env: "BETA" }),
    hamustroSession({ ...fields, env: "ALPHA" }),
  );
});

Deno.test("hamustroSession() rejects an unknown environment name, and takes any int32 number as the reference does", () => {
  const fields = { deviceId: sha256("d"), clientId: "c", systemVersion: "s", productVersion: "p" };
  assert.throws(() => hamustroSession({ ...fields, env: "PROD" as never }), RangeError);
  assert.throws(() => hamustroSession({ ...fields, env: 1.5 }), RangeError);
  assert.throws(() => hamustroSession({ ...fields, env: 2 ** 31 }), RangeError);
  assert.equal(
    hamustroSession({ ...fields, env: 12 }),
    md5(`${fields.deviceId}:c:s:p:12`),
  );
});
