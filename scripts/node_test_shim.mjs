// Runs `Deno.test` files under `node --test`: maps `Deno.test` to `node:test`.
// Loaded with `node --import ./test_shim.mjs --test …` by the npm package's `test` script.
import { test } from "node:test";

function register(first, second, third) {
  let options;
  if (typeof first === "function") {
    options = { name: first.name, fn: first };
  } else if (typeof first === "string") {
    options = typeof second === "function"
      ? { name: first, fn: second }
      : { ...second, name: first, fn: third };
  } else {
    options = typeof second === "function" ? { ...first, fn: second } : first;
  }
  const { name, fn, ignore = false, only = false } = options;
  if (typeof fn !== "function") throw new TypeError(`Deno.test("${name}") has no test function`);
  const testOptions = only ? { skip: ignore, only } : { skip: ignore };
  test(name, testOptions, () => fn({ name }));
}

globalThis.Deno ??= {};
globalThis.Deno.test = register;
