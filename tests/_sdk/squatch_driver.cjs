// Drives the official @saasquatch/squatch-js squatch.events().track (its own
// HTTP code, fetch) against a route over loopback, for
// tests/profiles_official_sdk_test.ts. Usage:
//   echo '{"domain":"http://127.0.0.1:PORT","tenantAlias":"…","jwt":"…","calls":[…]}' | node squatch_driver.cjs
// Prints, per call, {"ok":answer} or {"error":message}, as JSON.
"use strict";
// squatch-js is a browser SDK: loading it defines its widget custom elements.
// These stand-ins only let it load; track() runs its own code on Node's fetch.
globalThis.window = globalThis;
globalThis.HTMLElement = class HTMLElement {};
globalThis.customElements = { get: () => undefined, define: () => {} };
const squatch = require("@saasquatch/squatch-js");

async function main() {
  const { domain, tenantAlias, jwt, calls } = JSON.parse(
    require("node:fs").readFileSync(0, "utf8"),
  );
  squatch.init({ tenantAlias, domain });
  const answers = [];
  for (const call of calls) {
    try {
      answers.push({ ok: await squatch.events().track(call, { jwt }) });
    } catch (error) {
      answers.push({ error: String(error && error.message || error) });
    }
  }
  process.stdout.write(JSON.stringify(answers));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exit(1);
});
