// Drives the official @suprsend/node-sdk (its own HTTP code, axios) against a
// route over loopback, for tests/profiles_official_sdk_test.ts. Usage:
//   echo '{"base":"http://127.0.0.1:PORT/","key":"…","secret":"…","calls":[…]}' | node suprsend_driver.cjs
// Each call is {"kind":"single"|"bulk","events":[{distinct_id,event,properties,
// idempotency_key,tenant_id,attachment}]}; prints the SDK's answer to each, as JSON.
"use strict";
const { Suprsend, Event } = require("@suprsend/node-sdk");

async function main() {
  const { base, key, secret, calls } = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
  const client = new Suprsend(key, secret, { base_url: base });
  const toEvent = (e) => {
    const event = new Event(e.distinct_id, e.event, e.properties, {
      idempotency_key: e.idempotency_key,
      tenant_id: e.tenant_id,
    });
    if (e.attachment) event.add_attachment(e.attachment);
    return event;
  };
  const answers = [];
  for (const call of calls) {
    if (call.kind === "single") {
      answers.push(await client.track_event(toEvent(call.events[0])));
    } else {
      const bulk = client.bulk_events.new_instance();
      bulk.append(...call.events.map(toEvent));
      answers.push(await bulk.trigger());
    }
  }
  process.stdout.write(JSON.stringify(answers));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exit(1);
});
