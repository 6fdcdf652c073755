// Prints which hash implementation loads and the digests of test inputs given as JSON
// on stdin ([{ text } | { base64 }]), one JSON line. With the argument `--without-webassembly`
// it first removes the `WebAssembly` global (hash-wasm is imported on first use, after that),
// to take the pure JavaScript path the way a platform that cannot compile WebAssembly does.
import { loadHashers, md5Bytes, md5Hex, sha256Bytes, sha256Hex } from "../wasm/hash.ts";
import { crc32Of, loadCrc32 } from "../wasm/crc32.ts";

if (Deno.args.includes("--without-webassembly")) {
  delete (globalThis as { WebAssembly?: unknown }).WebAssembly;
}

type Input = { text: string } | { base64: string };
const inputs = JSON.parse(await new Response(Deno.stdin.readable).text()) as Input[];
const toBytes = (base64: string) => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const implementation = await loadHashers();
const crc32Loaded = await loadCrc32();
const digests = inputs.map((input) => {
  const value = "text" in input ? input.text : toBytes(input.base64);
  return {
    md5: md5Hex(value),
    md5Bytes: hex(md5Bytes(value)),
    sha256: sha256Hex(value),
    sha256Bytes: hex(sha256Bytes(value)),
  };
});
console.log(JSON.stringify({
  implementation,
  crc32Loaded,
  crc32: crc32Of(new Uint8Array(1)) ?? null,
  wasm: typeof WebAssembly,
  digests,
}));
