/**
 * hash-wasm's hashers, created on demand. hash-wasm is optional (the npm
 * package lists it as an optional peer dependency) and its WebAssembly may
 * not compile where the platform forbids compiling code at run time
 * (workerd, Vercel Edge): both cases resolve to `undefined`, and callers
 * keep their pure JavaScript path.
 *
 * @module
 */

/** The part of hash-wasm's `IHasher` used here (kept local so no public type names hash-wasm). */
export interface WasmHasher {
  init(): WasmHasher;
  update(data: Uint8Array | string): WasmHasher;
  digest(outputType: "binary"): Uint8Array;
  digest(outputType: "hex"): string;
}

/** hash-wasm's factory names for the hashers used here. */
export type WasmHasherFactory = "createMD5" | "createSHA256" | "createCRC32";

/** Creates one of hash-wasm's hashers, or resolves `undefined` where it is missing or cannot compile. */
export async function createWasmHasher(
  factory: WasmHasherFactory,
): Promise<WasmHasher | undefined> {
  try {
    const hashWasm = await import("hash-wasm");
    return await hashWasm[factory]() as WasmHasher;
  } catch {
    return undefined;
  }
}
