import assert from "node:assert/strict";
import {
  checkEncodedSize,
  createEvent,
  DEFAULT_EVENT_RULES,
  type EventInput,
  type EventRules,
  RESERVED_EVENT_NAMES_ALLOWED,
} from "../src/event.ts";
import {
  EventValidationError,
  isEventValidationError,
} from "../src/errors/event_validation_error.ts";
import { IdempotencyKeyError } from "../src/errors/idempotency_key_error.ts";
import { LENIENT_KEY_POLICY } from "../src/idempotency_key.ts";

function invalid(
  input: unknown,
  field: string,
  rule: string,
  rules?: EventRules,
): EventValidationError {
  try {
    createEvent(input as EventInput, rules);
  } catch (error) {
    assert.ok(error instanceof EventValidationError, `expected EventValidationError, got ${error}`);
    assert.equal(error.field, field, error.message);
    assert.equal(error.rule, rule, error.message);
    assert.ok(error.message.includes(`'${field}'`), error.message);
    assert.ok(error.allowed.length > 0);
    return error;
  }
  assert.fail(`accepted ${JSON.stringify(input)}; expected ${field}/${rule}`);
}

Deno.test("createEvent() fills defaults: type track, empty properties, timestamp from the clock, UUID key", () => {
  const event = createEvent({ name: "order_paid", userId: "u1" }, { now: () => 1_700_000_000_123 });
  assert.equal(event.type, "track");
  assert.deepEqual(event.properties, {});
  assert.equal(event.timestamp, 1_700_000_000_123);
  assert.match(
    event.idempotencyKey,
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.notEqual(
    createEvent({ name: "x", userId: "u" }).idempotencyKey,
    createEvent({ name: "x", userId: "u" }).idempotencyKey,
  );
  assert.ok(!("anonymousId" in event) && !("tenantId" in event) && !("attachments" in event));
});

Deno.test("createEvent() trims the name and every id", () => {
  const event = createEvent({
    name: "  signup\n",
    userId: " u1 ",
    anonymousId: "\tanon ",
    tenantId: " acme ",
    brandId: " brand ",
  });
  assert.equal(event.name, "signup");
  assert.equal(event.userId, "u1");
  assert.equal(event.anonymousId, "anon");
  assert.equal(event.tenantId, "acme");
  assert.equal(event.brandId, "brand");
});

Deno.test("createEvent() requires a non-empty name", () => {
  invalid({ userId: "u1" }, "name", "required");
  invalid({ name: "", userId: "u1" }, "name", "required");
  invalid({ name: "   ", userId: "u1" }, "name", "required");
  invalid({ name: 42, userId: "u1" }, "name", "required");
  invalid({ name: "n".repeat(256), userId: "u1" }, "name", "maxLength");
  invalid({ name: "n".repeat(11), userId: "u1" }, "name", "maxLength", { maxIdLength: 10 });
});

Deno.test("createEvent() requires a userId or an anonymousId", () => {
  invalid({ name: "x" }, "userId", "required");
  invalid({ name: "x", userId: "   " }, "userId", "required");
  invalid({ name: "x", anonymousId: "" }, "anonymousId", "required");
  invalid({ name: "x", userId: 7 }, "userId", "type");
  invalid({ name: "x", userId: "u".repeat(256) }, "userId", "maxLength");
  assert.equal(createEvent({ name: "x", anonymousId: "a1" }).anonymousId, "a1");
  invalid({ name: "x", userId: "u", tenantId: "t".repeat(65) }, "tenantId", "maxLength");
  invalid({ name: "x", userId: "u", brandId: " " }, "brandId", "required");
});

Deno.test("an alias needs a previousId or an anonymousId", () => {
  invalid({ type: "alias", name: "$alias", userId: "u1" }, "previousId", "required");
  assert.equal(
    createEvent({ type: "alias", name: "$alias", userId: "u1", previousId: " old " }).previousId,
    "old",
  );
  assert.equal(
    createEvent({ type: "alias", name: "$alias", userId: "u1", anonymousId: "a" }).type,
    "alias",
  );
});

Deno.test("reserved prefixes '$' and 'ss_' are refused in event names, case-insensitively", () => {
  for (const name of ["$custom", "ss_thing", "SS_thing", "Ss_thing", "  $x"]) {
    const error = invalid({ name, userId: "u1" }, "name", "reserved");
    assert.match(error.message, /reserved prefix/);
  }
  for (const name of ["dollar$", "class_ss_", "s_s", "ss"]) {
    assert.equal(createEvent({ name, userId: "u1" }).name, name);
  }
});

Deno.test("reserved names on the allow-list are accepted, and only exactly", () => {
  for (const name of RESERVED_EVENT_NAMES_ALLOWED) {
    assert.equal(createEvent({ name, userId: "u1" }).name, name);
  }
  assert.ok(RESERVED_EVENT_NAMES_ALLOWED.includes("$identify"));
  invalid({ name: "$identify_extra", userId: "u1" }, "name", "reserved");
  invalid({ name: "$app_launched", userId: "u1" }, "name", "reserved", {
    allowedReservedNames: [],
  });
  assert.equal(
    createEvent({ name: "$mine", userId: "u1" }, { allowedReservedNames: ["$mine"] }).name,
    "$mine",
  );
});

Deno.test("reserved prefixes are refused in property names, case-insensitively", () => {
  const error = invalid(
    { name: "x", userId: "u", properties: { ok: 1, $plan: "pro" } },
    "properties.$plan",
    "reserved",
  );
  assert.match(error.message, /'\$'/);
  invalid(
    { name: "x", userId: "u", properties: { SS_flag: true } },
    "properties.SS_flag",
    "reserved",
  );
  // Allow-listed event names do not make reserved property names acceptable.
  invalid(
    { name: "$identify", userId: "u", properties: { $email: "a@b" } },
    "properties.$email",
    "reserved",
  );
});

Deno.test("reserved prefixes are configurable", () => {
  const rules: EventRules = { reservedPrefixes: ["internal."] };
  assert.equal(
    createEvent({ name: "$custom", userId: "u", properties: { ss_x: 1 } }, rules).name,
    "$custom",
  );
  invalid({ name: "Internal.tick", userId: "u" }, "name", "reserved", rules);
  invalid(
    { name: "tick", userId: "u", properties: { "INTERNAL.x": 1 } },
    "properties.INTERNAL.x",
    "reserved",
    rules,
  );
  assert.equal(
    createEvent({ name: "$x", userId: "u", properties: { $y: 1 } }, { reservedPrefixes: [] }).name,
    "$x",
  );
  assert.deepEqual([...DEFAULT_EVENT_RULES.reservedPrefixes], ["$", "ss_"]);
});

Deno.test("properties accept nested JSON and keep it as given", () => {
  const properties = { a: [1, "two", true, null, { b: { c: [[-0.5]] } }], s: "é🎉" };
  const event = createEvent({ name: "x", userId: "u", properties });
  assert.deepEqual(event.properties, properties);
  const bare = Object.assign(Object.create(null), { k: 1 });
  assert.equal(
    JSON.stringify(createEvent({ name: "x", userId: "u", properties: bare }).properties),
    '{"k":1}',
  );
});

Deno.test("non-JSON property values are rejected with their field path", () => {
  const cases: Array<[unknown, string]> = [
    [{ bad: undefined }, "properties.bad"],
    [{ n: NaN }, "properties.n"],
    [{ n: Infinity }, "properties.n"],
    [{ deep: { list: [1, 2, () => 3] } }, "properties.deep.list[2]"],
    [{ when: new Date(0) }, "properties.when"],
    [{ big: 10n }, "properties.big"],
    [{ sym: Symbol("s") }, "properties.sym"],
    [{ m: new Map() }, "properties.m"],
  ];
  for (const [properties, field] of cases) {
    invalid({ name: "x", userId: "u", properties }, field, "type");
  }
  invalid({ name: "x", userId: "u", properties: [1, 2] }, "properties", "type");
  invalid({ name: "x", userId: "u", properties: "text" }, "properties", "type");
  invalid({ name: "x", userId: "u", context: { ip: undefined } }, "context.ip", "type");
});

Deno.test("cyclic or too deeply nested properties are rejected, not overflowed", () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const error = invalid(
    { name: "x", userId: "u", properties: cyclic },
    "properties" + ".self".repeat(65),
    "depth",
  );
  assert.ok(error.message.length < 2000);
  let deep: unknown = 1;
  for (let i = 0; i < 100; i++) deep = [deep];
  assert.throws(() => createEvent({ name: "x", userId: "u", properties: { deep } as never }), {
    name: "EventValidationError",
  });
});

Deno.test("timestamps accept epoch milliseconds and Dates, and reject the rest", () => {
  assert.equal(createEvent({ name: "x", userId: "u", timestamp: 0 }).timestamp, 0);
  assert.equal(
    createEvent({ name: "x", userId: "u", timestamp: new Date(1687437670000) }).timestamp,
    1687437670000,
  );
  for (const timestamp of [-1, NaN, Infinity, new Date("nope"), "1687437670000"]) {
    invalid({ name: "x", userId: "u", timestamp }, "timestamp", "type");
  }
});

Deno.test("a given idempotency key is checked against the key policy", () => {
  assert.equal(
    createEvent({ name: "x", userId: "u", idempotencyKey: "order-1234" }).idempotencyKey,
    "order-1234",
  );
  assert.throws(
    () => createEvent({ name: "x", userId: "u", idempotencyKey: "bad key" }),
    IdempotencyKeyError,
  );
  const event = createEvent({ name: "x", userId: "u", idempotencyKey: " any key " }, {
    keyPolicy: LENIENT_KEY_POLICY,
  });
  assert.equal(event.idempotencyKey, "any key");
});

Deno.test("attachments accept http(s) URLs and default the filename", () => {
  const event = createEvent({
    name: "x",
    userId: "u",
    attachments: [
      { url: "https://cdn.example.com/files/report%20Q1.pdf" },
      { url: "http://example.com/a.png", filename: "pic.png", ignoreIfError: true },
      { url: "https://example.com/" },
      { url: "https://example.com/bad%E0%A4%A" },
    ],
  });
  assert.deepEqual(event.attachments, [
    {
      url: "https://cdn.example.com/files/report%20Q1.pdf",
      filename: "report Q1.pdf",
      ignoreIfError: false,
    },
    { url: "http://example.com/a.png", filename: "pic.png", ignoreIfError: true },
    { url: "https://example.com/", filename: "example.com", ignoreIfError: false },
    { url: "https://example.com/bad%E0%A4%A", filename: "bad%E0%A4%A", ignoreIfError: false },
  ]);
  assert.ok(!("attachments" in createEvent({ name: "x", userId: "u", attachments: [] })));
});

Deno.test("attachments reject local paths and other schemes, naming the attachment", () => {
  const urls = [
    "/etc/passwd",
    "./report.pdf",
    "report.pdf",
    "C:\\Users\\me\\report.pdf",
    "file:///etc/passwd",
    "ftp://example.com/a.pdf",
    "data:text/plain,hello",
    "javascript:alert(1)",
    "",
  ];
  for (const url of urls) {
    const error = invalid(
      { name: "x", userId: "u", attachments: [{ url: "https://ok.example/a" }, { url }] },
      "attachments[1].url",
      "url",
    );
    assert.match(error.allowed, /http: or https:/);
  }
});

Deno.test("checkEncodedSize() measures UTF-8 bytes and enforces the cap", () => {
  const limit = 102_400;
  const fits = "a".repeat(limit);
  assert.equal(checkEncodedSize(fits, limit), limit);
  assert.equal(checkEncodedSize(new TextEncoder().encode(fits), limit), limit);
  const text = "é".repeat(limit / 2 + 1); // each é is 2 bytes in UTF-8
  assert.equal(text.length < limit, true);
  const error = (() => {
    try {
      checkEncodedSize(text, limit);
    } catch (error) {
      return error;
    }
    return undefined;
  })();
  assert.ok(isEventValidationError(error));
  assert.equal(error.rule, "maxBytes");
  assert.equal(error.field, "event");
  assert.match(error.message, new RegExp(`${limit + 2} bytes`));
  assert.throws(() => checkEncodedSize(new Uint8Array(11), 10), { name: "EventValidationError" });
  assert.equal(checkEncodedSize("🎉", 4), 4);
  assert.throws(() => checkEncodedSize("🎉", 3), { name: "EventValidationError" });
});
