/**
 * A loopback collector for the controls' tests, on `node:http` so the same
 * test files run under Deno and Node: it accepts every JSON batch and keeps
 * the events it received.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface Collector {
  readonly url: string;
  /** Every event received, in order (the JSON profile's wire form). */
  readonly events: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export function startCollector(): Promise<Collector> {
  const events: Array<Record<string, unknown>> = [];
  const server = createServer((request, response) => {
    let text = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => text += chunk);
    request.on("end", () => {
      events.push(...(JSON.parse(text) as { events: Array<Record<string, unknown>> }).events);
      response.writeHead(200, { "content-type": "application/json" });
      response.end("{}");
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        events,
        close: () => {
          server.closeAllConnections();
          return new Promise((done) => server.close(() => done()));
        },
      });
    });
  });
}
