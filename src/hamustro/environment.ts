/**
 * Hamustro's `Environment` enum (proto2), by name → wire number. The session id
 * and the protobuf body use the number; JSON bodies may use either.
 */
export const Environment: Readonly<{
  PRODUCTION: 0;
  GENERAL_AVAILABILITY: 1;
  RELEASE_TO_MARKETING: 2;
  RELEASE_CANDIDATE: 3;
  BETA: 4;
  ALPHA: 5;
  WEEKLY: 6;
  NIGHTLY: 7;
  STAGING: 8;
  QUALITY_ASSURANCE: 9;
  TESTING: 10;
  DEVELOPMENT: 11;
}> = Object.freeze(
  {
    PRODUCTION: 0,
    GENERAL_AVAILABILITY: 1,
    RELEASE_TO_MARKETING: 2,
    RELEASE_CANDIDATE: 3,
    BETA: 4,
    ALPHA: 5,
    WEEKLY: 6,
    NIGHTLY: 7,
    STAGING: 8,
    QUALITY_ASSURANCE: 9,
    TESTING: 10,
    DEVELOPMENT: 11,
  } as const,
);

/** An environment name. */
export type EnvironmentName = keyof typeof Environment;

/** An environment: its name or its wire number. */
export type EnvironmentValue = EnvironmentName | (typeof Environment)[EnvironmentName];

const NAMES = Object.keys(Environment) as EnvironmentName[];

/**
 * The wire number of an environment given by name or number.
 *
 * @throws {RangeError} for an unknown name or number.
 *
 * @example Usage
 * ```ts
 * import { environmentNumber } from "./environment.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(environmentNumber("STAGING"), 8);
 * assert.equal(environmentNumber(3), 3);
 * ```
 */
export function environmentNumber(env: EnvironmentValue | string | number): number {
  if (typeof env === "number") {
    if (Number.isInteger(env) && env >= 0 && env < NAMES.length) return env;
  } else if (Object.hasOwn(Environment, env)) {
    return Environment[env as EnvironmentName];
  }
  throw new RangeError(
    `Cannot use environment as 'env' must be one of ${NAMES.join(", ")} or 0–${
      NAMES.length - 1
    }: current value is ${JSON.stringify(env)}`,
  );
}

/** The name of an environment number. */
export function environmentName(env: EnvironmentValue | string | number): EnvironmentName {
  return NAMES[environmentNumber(env)]!;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * The number of an environment as it may arrive on the wire: a known name, or
 * any int32. The reference collector (Go, proto2) stores an enum number
 * outside the declared values as it is and computes the session with it, so a
 * receiver must too; senders keep to the declared values
 * ({@linkcode environmentNumber}).
 *
 * @throws {RangeError} for an unknown name or a number that is not an int32.
 *
 * @example Usage
 * ```ts
 * import { wireEnvironmentNumber } from "./environment.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(wireEnvironmentNumber("BETA"), 4);
 * assert.equal(wireEnvironmentNumber(12), 12);
 * ```
 */
export function wireEnvironmentNumber(env: EnvironmentValue | string | number): number {
  if (typeof env === "number" && Number.isInteger(env) && env >= INT32_MIN && env <= INT32_MAX) {
    return env;
  }
  return environmentNumber(env);
}

/**
 * An environment as the receiver reports it: its name when declared, else
 * its number (what jsonpb writes for an undeclared enum value).
 *
 * @example Usage
 * ```ts
 * import { environmentLabel } from "./environment.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(environmentLabel(8), "STAGING");
 * assert.equal(environmentLabel(12), 12);
 * ```
 */
export function environmentLabel(env: number): EnvironmentName | number {
  return NAMES[env] ?? env;
}
