import assert from "node:assert/strict";
import * as idemtrack from "../mod.ts";
import {
  ClientClosedError,
  EventValidationError,
  HttpError,
  IdempotencyKeyError,
  IdemtrackError,
  isClientClosedError,
  isEventValidationError,
  isHttpError,
  isIdempotencyKeyError,
  isIdemtrackError,
  isMiddlewareError,
  isNetworkError,
  isQueueFullError,
  isStorageError,
  isTimeoutError,
  MiddlewareError,
  NetworkError,
  QueueFullError,
  StorageError,
  TimeoutError,
} from "../mod.ts";
import { preview } from "../src/errors/idemtrack_error.ts";

const cause = new Error("connect ECONNREFUSED 127.0.0.1:9");
const ERRORS = [
  {
    error: new IdempotencyKeyError("pattern", "strict", "8–64 characters", "bad key"),
    name: "IdempotencyKeyError",
    guard: isIdempotencyKeyError,
  },
  {
    error: new EventValidationError("name", "required", "is empty", "a non-empty string"),
    name: "EventValidationError",
    guard: isEventValidationError,
  },
  { error: new HttpError(503, "batch-1", "overloaded"), name: "HttpError", guard: isHttpError },
  { error: new TimeoutError("batch-1", 10_000), name: "TimeoutError", guard: isTimeoutError },
  { error: new NetworkError("batch-1", cause), name: "NetworkError", guard: isNetworkError },
  { error: new QueueFullError("events", 1000), name: "QueueFullError", guard: isQueueFullError },
  { error: new ClientClosedError("track"), name: "ClientClosedError", guard: isClientClosedError },
  {
    error: new MiddlewareError("redactEmail", 2, new Error("boom")),
    name: "MiddlewareError",
    guard: isMiddlewareError,
  },
  {
    error: new StorageError("file", "locked by pid 42"),
    name: "StorageError",
    guard: isStorageError,
  },
];

Deno.test("every error class has its own name and extends IdemtrackError and Error", () => {
  for (const { error, name } of ERRORS) {
    assert.equal(error.name, name);
    assert.ok(error instanceof IdemtrackError, name);
    assert.ok(error instanceof Error, name);
    assert.ok(isIdemtrackError(error), name);
    assert.ok(error.stack !== undefined);
  }
  assert.equal(new IdemtrackError("x").name, "IdemtrackError");
});

Deno.test("each guard accepts its own class only", () => {
  for (const { guard, name } of ERRORS) {
    for (const other of ERRORS) {
      assert.equal(guard(other.error), other.name === name, `${name} guard on ${other.name}`);
    }
    assert.equal(guard(new Error("plain")), false);
    assert.equal(guard(undefined), false);
    assert.equal(guard({ name }), false, "a plain object with the name is not an error");
  }
  assert.equal(isIdemtrackError(new TypeError("x")), false);
  assert.equal(isIdemtrackError("IdemtrackError"), false);
});

Deno.test("guards recognise errors from another copy of the library by name", () => {
  for (const { guard, name } of ERRORS) {
    const foreign = new Error("from a second bundled copy");
    foreign.name = name;
    assert.equal(guard(foreign), true, name);
    assert.equal(isIdemtrackError(foreign), true, name);
  }
});

Deno.test("error messages and fields have their documented forms", () => {
  const key = new IdempotencyKeyError("minLength", "strict", "8–64 characters of letters", "abc");
  assert.equal(
    key.message,
    `Cannot use idempotency key "abc" (3 chars): it breaks the 'minLength' rule of the 'strict' policy, which allows 8–64 characters of letters`,
  );
  assert.deepEqual([key.rule, key.policy, key.allowed], [
    "minLength",
    "strict",
    "8–64 characters of letters",
  ]);
  assert.match(
    new IdempotencyKeyError("type", "strict", "a string", 42).message,
    /^Cannot use idempotency key number:/,
  );

  const event = new EventValidationError(
    "properties.$plan",
    "reserved",
    "starts with the reserved prefix '$'",
    "other names",
  );
  assert.equal(
    event.message,
    "Cannot accept event as 'properties.$plan' starts with the reserved prefix '$': allowed is other names",
  );
  assert.deepEqual([event.field, event.rule, event.allowed], [
    "properties.$plan",
    "reserved",
    "other names",
  ]);

  const http = new HttpError(409, "b-7", "duplicate");
  assert.equal(http.message, "Request for batch b-7 failed with HTTP 409: duplicate");
  assert.deepEqual([http.status, http.batchId, http.reason], [409, "b-7", "duplicate"]);
  assert.equal(new HttpError(500, "b", "").message, "Request for batch b failed with HTTP 500");
  const long = new HttpError(400, "b", "r".repeat(2000));
  assert.equal(long.reason.length, 501);
  assert.ok(long.message.length < 600);

  const timeout = new TimeoutError("b-1", 2500);
  assert.equal(timeout.message, "Request for batch b-1 timed out after 2500 ms");
  assert.equal(timeout.timeoutMs, 2500);

  const network = new NetworkError("b-2", cause);
  assert.equal(
    network.message,
    "Request for batch b-2 failed before an answer: connect ECONNREFUSED 127.0.0.1:9",
  );
  assert.equal(network.cause, cause);
  assert.match(new NetworkError("b", "reset").message, /: reset$/);

  assert.match(new QueueFullError("events", 1000).message, /'maxQueueSize' is 1000/);
  assert.match(new QueueFullError("bytes", 5).message, /'maxQueueBytes' is 5/);
  assert.equal(new QueueFullError("bytes", 5).bound, "bytes");
  assert.equal(new ClientClosedError("flush").message, "Cannot flush as the client is closed");
  const storage = new StorageError("file", "corrupt", { cause });
  assert.equal(storage.message, "Storage 'file' failed: corrupt");
  assert.equal(storage.driver, "file");
  assert.equal(storage.cause, cause);
});

Deno.test("preview() shows at most a short prefix of an untrusted value", () => {
  assert.equal(preview("short"), '"short"');
  assert.equal(preview("x".repeat(12)), `"${"x".repeat(12)}"`);
  assert.equal(preview("0123456789abcdefSECRET"), '"0123456789ab"…');
  assert.equal(preview("0123456789", 4), '"0123"…');
});

Deno.test("mod.ts exports every error class and guard", () => {
  for (const { name } of ERRORS) {
    assert.equal(typeof (idemtrack as Record<string, unknown>)[name], "function", name);
    assert.equal(
      typeof (idemtrack as Record<string, unknown>)[`is${name}`],
      "function",
      `is${name}`,
    );
  }
});
