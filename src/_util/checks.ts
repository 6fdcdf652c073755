/**
 * Checks of numeric options, with errors in std's form: "Cannot <action> as
 * '<name>' must be a positive integer: current value is 0". One set per
 * module, named by what it was doing (`optionChecks("create receiver")`).
 */
export function optionChecks(action: string): {
  /** `value` if it is an integer >= 1 (or `Infinity`, with `allowInfinity`), else a RangeError. */
  positiveInteger(name: string, value: number, allowInfinity?: boolean): number;
  /** `value` if it is a finite number >= 0, else a RangeError. */
  nonNegative(name: string, value: number): number;
  /** `value` if it is one of `allowed`, else a TypeError listing them. */
  oneOf<T extends string>(name: string, value: T, allowed: readonly T[]): T;
} {
  return {
    positiveInteger(name, value, allowInfinity = false) {
      const ok = value >= 1 && (Number.isInteger(value) || (allowInfinity && value === Infinity));
      if (!ok) {
        throw new RangeError(
          `Cannot ${action} as '${name}' must be a positive integer: current value is ${value}`,
        );
      }
      return value;
    },
    nonNegative(name, value) {
      if (!(value >= 0) || !Number.isFinite(value)) {
        throw new RangeError(
          `Cannot ${action} as '${name}' must be a non-negative number: current value is ${value}`,
        );
      }
      return value;
    },
    oneOf(name, value, allowed) {
      if (!allowed.includes(value)) {
        const quoted = allowed.map((item) => JSON.stringify(item));
        const list = quoted.length < 2
          ? quoted.join("")
          : `${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)}`;
        throw new TypeError(
          `Cannot ${action} as '${name}' must be ${list}: current value is ${
            JSON.stringify(value) ?? String(value)
          }`,
        );
      }
      return value;
    },
  };
}

/**
 * Throws a TypeError naming the first own key of `options` that is not in
 * `known`: a misspelt or removed option (a JavaScript caller's
 * `backoffBaseMs`) would otherwise be ignored and its default used silently.
 */
export function rejectUnknownOptions(
  action: string,
  options: object,
  known: readonly string[],
): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(
        `Cannot ${action} as '${key}' is not one of its options: expected ${
          [...known].sort().join(", ")
        }`,
      );
    }
  }
}

/**
 * The option names of `T` given as `keys`, checked at compile time to be all
 * of them: a `keys` list missing one fails to type-check, naming it. For
 * {@linkcode rejectUnknownOptions}, so the list cannot fall behind its interface.
 */
export function optionKeys<T>(): <const K extends readonly (keyof T)[]>(
  keys:
    & K
    & ([Exclude<keyof T, K[number]>] extends [never] ? unknown
      : { missingOptions: Exclude<keyof T, K[number]> }),
) => K {
  return (keys) => keys;
}
