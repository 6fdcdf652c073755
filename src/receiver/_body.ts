/** Why a body could not be read. */
export type BodyProblem =
  | { readonly kind: "too_large"; readonly limit: number }
  | { readonly kind: "unsupported_encoding"; readonly encoding: string }
  | { readonly kind: "corrupt"; readonly detail: string };

/** A read body, or why not. */
export type BodyRead = { readonly bytes: Uint8Array } | { readonly problem: BodyProblem };

async function collect(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        // Stop at the cap: the rest of the body is never buffered.
        await reader.cancel().catch(() => {});
        return undefined;
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * Reads a request body up to `maxBytes`, refusing early on a larger
 * `Content-Length` and stopping a stream as soon as it passes the cap. A
 * `gzip` or `deflate` body is inflated under the same cap.
 */
export async function readBody(request: Request, maxBytes: number): Promise<BodyRead> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    return { problem: { kind: "too_large", limit: maxBytes } };
  }
  const encoding = (request.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding !== "identity" && encoding !== "gzip" && encoding !== "deflate") {
    return { problem: { kind: "unsupported_encoding", encoding } };
  }
  if (request.body === null) return { bytes: new Uint8Array(0) };
  const raw = await collect(request.body, maxBytes);
  if (raw === undefined) return { problem: { kind: "too_large", limit: maxBytes } };
  if (encoding === "identity") return { bytes: raw };
  try {
    const inflated = new Blob([raw as Uint8Array<ArrayBuffer>]).stream()
      .pipeThrough(new DecompressionStream(encoding));
    const bytes = await collect(inflated, maxBytes);
    if (bytes === undefined) return { problem: { kind: "too_large", limit: maxBytes } };
    return { bytes };
  } catch (error) {
    return {
      problem: {
        kind: "corrupt",
        detail: `the ${encoding} body could not be decompressed (${(error as Error).message})`,
      },
    };
  }
}
