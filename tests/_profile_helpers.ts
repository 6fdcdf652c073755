import assert from "node:assert/strict";
import { chunkBySize } from "../src/kit/chunk.ts";
import { createEvent, type EventInput, type IdemtrackEvent, type JsonValue } from "../src/event.ts";
import {
  encodedBytes,
  type EncodedEvent,
  type OutgoingBatch,
  type PreparedRequest,
  type Profile,
} from "../src/ports/profile.ts";
import type { QueuedRecord } from "../src/ports/storage.ts";
import type { TransportResponse } from "../src/ports/transport.ts";
import type { DecodedBatch, RecordResult, Route } from "../src/receiver/route.ts";

/** A golden request written by hand from a service's documentation. */
export interface GoldenFixture {
  source: string;
  options: Record<string, unknown>;
  batchId: string;
  now: number;
  events: EventInput[];
  request: {
    method: string;
    url: string;
    headers: Record<string, string>;
    body: JsonValue;
  };
}

export function loadFixture(name: string): GoldenFixture {
  return JSON.parse(
    Deno.readTextFileSync(new URL(`./fixtures/${name}`, import.meta.url)),
  ) as GoldenFixture;
}

export function eventsOf(profile: Profile, inputs: readonly EventInput[]): IdemtrackEvent[] {
  return inputs.map((input) => createEvent(input, { keyPolicy: profile.keyPolicy }));
}

let nextRecordId = 0;

export function recordOf(event: IdemtrackEvent, encoded: EncodedEvent): QueuedRecord {
  return {
    id: `r${nextRecordId++}`,
    key: event.idempotencyKey,
    group: encoded.group,
    stream: encoded.stream,
    data: encodedBytes(encoded),
    queuedAt: 0,
  };
}

export function recordsOf(profile: Profile, events: readonly IdemtrackEvent[]): QueuedRecord[] {
  return events.map((event) => recordOf(event, profile.encode(event)));
}

export function batchOf(records: readonly QueuedRecord[], id: string, attempt = 0): OutgoingBatch {
  const stream = records[0]?.stream ?? "";
  for (const record of records) assert.equal(record.stream, stream, "one stream per batch");
  return { id, stream, records, attempt };
}

/** Splits records like the Client does: per stream, then by the profile's caps and framing. */
export function planBatches(profile: Profile, records: readonly QueuedRecord[]) {
  const byStream = new Map<string, QueuedRecord[]>();
  for (const record of records) {
    byStream.set(record.stream, [...(byStream.get(record.stream) ?? []), record]);
  }
  const chunks: QueuedRecord[][] = [];
  const oversize: QueuedRecord[] = [];
  for (const members of byStream.values()) {
    const plan = chunkBySize(members, {
      sizeOf: (record) => record.data.byteLength,
      groupOf: (record) => record.group,
      framing: profile.framing,
      maxBytes: profile.limits.maxBatchBytes,
      maxItems: profile.limits.maxBatchEvents,
      maxItemsPerGroup: profile.limits.maxItemsPerGroup,
    });
    chunks.push(...plan.chunks);
    oversize.push(...plan.oversize);
  }
  return { chunks, oversize };
}

/** Body size the framing predicts for a chunk. */
export function framedBytes(profile: Profile, records: readonly QueuedRecord[]): number {
  const seen = new Set<string>();
  let bytes = profile.framing.emptyBytes;
  for (const record of records) {
    bytes += profile.framing.itemBytes(
      record.data.byteLength,
      !seen.has(record.group),
      record.group,
    );
    seen.add(record.group);
  }
  return bytes;
}

export function bodyJson(request: PreparedRequest): JsonValue {
  return JSON.parse(new TextDecoder().decode(request.body)) as JsonValue;
}

/** Compares a built request with a golden one: method, URL, listed headers, parsed body. */
export function assertGolden(request: PreparedRequest, fixture: GoldenFixture): void {
  assert.equal(request.method, fixture.request.method);
  assert.equal(request.url, fixture.request.url);
  const headers = new Headers(request.headers);
  for (const [name, value] of Object.entries(fixture.request.headers)) {
    assert.equal(headers.get(name), value, `header ${name}`);
  }
  assert.deepEqual(bodyJson(request), fixture.request.body);
}

export async function buildGolden(profile: Profile, fixture: GoldenFixture) {
  const records = recordsOf(profile, eventsOf(profile, fixture.events));
  const batch = batchOf(records, fixture.batchId);
  const request = await profile.buildRequest(batch, fixture.now);
  return { records, batch, request };
}

export function response(
  status: number,
  body: unknown = "",
  headers: Record<string, string> = {},
): TransportResponse {
  return {
    status,
    headers: new Headers(headers),
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
}

/** A random string mixing ASCII, escapes, multi-byte and astral characters. */
export function randomText(maxLength: number): string {
  const pool = ["a", "Z", "0", " ", '"', "\\", "\n", "\u0001", "é", "✓", "🎉", "/", "%"];
  const length = Math.floor(Math.random() * (maxLength + 1));
  let text = "";
  for (let i = 0; i < length; i++) text += pool[Math.floor(Math.random() * pool.length)];
  return text;
}

/** Turns a built request into a fetch `Request`, as the transport would send it. */
export function toRequest(prepared: PreparedRequest): Request {
  return new Request(prepared.url, {
    method: prepared.method,
    headers: prepared.headers,
    body: prepared.body as Uint8Array<ArrayBuffer>,
  });
}

/** Reads a `Response` the way the fetch transport does. */
export async function toTransportResponse(answer: Response): Promise<TransportResponse> {
  return { status: answer.status, headers: answer.headers, body: await answer.text() };
}

/** Path parameters of a route for a URL (what the receiver core's matcher gives). */
export function paramsFor(route: Route, url: string): Record<string, string | undefined> {
  const match = new URLPattern({ pathname: route.path }).exec(url);
  assert.ok(match, `${url} does not match ${route.path}`);
  return match.pathname.groups;
}

/**
 * Decodes a built request with a route, as the receiver core would, and
 * returns the decoded batch or the route's immediate answer.
 */
export async function decodeWith(
  route: Route,
  prepared: PreparedRequest,
  now = 0,
  remoteAddr = "127.0.0.1",
): Promise<DecodedBatch | Response> {
  const request = toRequest(prepared);
  const body = new Uint8Array(await request.arrayBuffer());
  return await route.decode(request, body, {
    now,
    remoteAddr,
    params: paramsFor(route, prepared.url),
  });
}

export function accepted(count: number): RecordResult[] {
  return Array.from({ length: count }, () => ({ status: "accepted" as const }));
}
