/**
 * Our receiver with the Hamustro route, served over real HTTP on 127.0.0.1,
 * with a recorder in front: every request's headers and body are kept and
 * decoded with the generated schema (protobuf-es), and scripted faults can
 * answer instead of the receiver (or after it, to lose a 200).
 */
import { fromBinary } from "@bufbuild/protobuf";
import { type Collection, CollectionSchema } from "../src/hamustro/gen/hamustro_pb.ts";
import { hamustroRoute } from "../src/hamustro/route.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import { MemoryDedupeStore } from "../src/receiver/memory_dedupe_store.ts";
import type { AcceptedEvent } from "../src/receiver/sink.ts";
import type { Clock } from "../src/ports/clock.ts";

export type CollectorFault =
  /** Answer this status without passing the request on. */
  | { kind: "status"; status: number }
  /** Pass the request to the receiver (it accepts), then answer this status instead of its 200. */
  | { kind: "lose"; status: number };

export interface SeenRequest {
  readonly url: string;
  readonly headers: Headers;
  readonly body: Uint8Array;
  /** Decoded with the generated schema (protobuf) or JSON.parse (JSON); undefined if it did not decode. */
  readonly protobuf?: Collection;
  readonly json?: Record<string, unknown>;
  status: number;
}

export interface Collector {
  readonly base: string;
  readonly requests: SeenRequest[];
  /** Events the receiver accepted (after dedupe), in order. */
  readonly accepted: AcceptedEvent[];
  readonly faults: CollectorFault[];
  /** When set, every request gets this status (without reaching the receiver). */
  failAll: number | undefined;
  close(): Promise<void>;
}

export function startCollector(
  secret: string,
  options: { clock?: Pick<Clock, "now">; record?: boolean } = {},
): Collector {
  const accepted: AcceptedEvent[] = [];
  const receiver = createReceiver({
    routes: [hamustroRoute({ sharedSecretKey: secret })],
    sink: { write: (events) => void accepted.push(...events) },
    store: new MemoryDedupeStore(),
    ...(options.clock && { clock: options.clock }),
  });
  const record = options.record ?? true;
  const collector: Collector = {
    base: "",
    requests: [],
    accepted,
    faults: [],
    failAll: undefined,
    close: async () => {
      await server.shutdown();
      await receiver.close();
    },
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request, info) => {
      const body = new Uint8Array(await request.clone().arrayBuffer());
      const seen: SeenRequest = { url: request.url, headers: request.headers, body, status: 0 };
      if (record) {
        const type = request.headers.get("content-type");
        try {
          if (type === "application/protobuf") {
            (seen as { protobuf?: Collection }).protobuf = fromBinary(CollectionSchema, body);
          } else (seen as { json?: unknown }).json = JSON.parse(new TextDecoder().decode(body));
        } catch {
          // left undecoded; the receiver answers 400
        }
        collector.requests.push(seen);
      }
      const fault = collector.failAll !== undefined
        ? { kind: "status" as const, status: collector.failAll }
        : collector.faults.shift();
      if (fault?.kind === "status") {
        seen.status = fault.status;
        const nullBody = fault.status === 204 || fault.status === 205 || fault.status === 304;
        return new Response(nullBody ? null : "{}", { status: fault.status });
      }
      const answer = await receiver(request, info);
      await answer.arrayBuffer();
      seen.status = fault?.kind === "lose" ? fault.status : answer.status;
      return new Response(null, { status: seen.status });
    },
  );
  (collector as { base: string }).base = `http://127.0.0.1:${server.addr.port}`;
  return collector;
}
