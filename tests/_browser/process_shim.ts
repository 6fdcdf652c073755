// The npm port of Node's assert reads a few `process` fields (NODE_DEBUG,
// stderr width); a browser has no `process`, so give it an inert one.
const scope = globalThis as { process?: unknown };
scope.process ??= {
  env: {},
  pid: 0,
  nextTick: (callback: (...args: unknown[]) => void, ...args: unknown[]) =>
    queueMicrotask(() => callback(...args)),
};
