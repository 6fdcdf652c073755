/** How often a driver makes writes durable. */
export type Durability = "everyWrite" | "interval" | "none";

const DURABILITIES: readonly Durability[] = ["everyWrite", "interval", "none"];

/** Throws std-style errors for bad driver options. */
export function checkDurability(what: string, value: unknown): Durability {
  if (!DURABILITIES.includes(value as Durability)) {
    throw new TypeError(
      `Cannot ${what} as 'durability' must be one of "everyWrite", "interval", "none": current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  return value as Durability;
}

/** Throws a std-style `RangeError` unless `value` is a finite number within `[min, max]`. */
export function checkNumber(
  what: string,
  name: string,
  value: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
  description = `a number from ${min} to ${max}`,
): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot ${what} as '${name}' must be ${description}: current value is ${value}`,
    );
  }
  return value;
}

/** Throws a std-style `TypeError` unless `value` is a non-empty string. */
export function checkNonEmptyString(what: string, name: string, value: unknown): string {
  if (typeof value !== "string" || value === "") {
    throw new TypeError(
      `Cannot ${what} as '${name}' must be a non-empty string: current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  return value;
}
