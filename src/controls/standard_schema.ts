/**
 * The Standard Schema interface (`@standard-schema/spec` 1.1.0, MIT), copied
 * as its authors recommend rather than depended on: types only, and what Zod,
 * Valibot, ArkType and others implement. Flattened out of its namespace; the
 * shapes are the spec's, so any conforming schema fits.
 *
 * @module
 */

/** A schema in the Standard Schema form: anything with a `~standard` property. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly "~standard": StandardSchemaProps<Input, Output>;
}

/** The `~standard` property of a schema. */
export interface StandardSchemaProps<Input = unknown, Output = Input> {
  /** The version number of the standard. */
  readonly version: 1;
  /** The vendor name of the schema library. */
  readonly vendor: string;
  /** Validates an unknown value (synchronously, for a tracking plan). */
  readonly validate: (
    value: unknown,
    options?: { readonly libraryOptions?: Record<string, unknown> | undefined } | undefined,
  ) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>;
  /** Inferred types associated with the schema. */
  readonly types?: { readonly input: Input; readonly output: Output } | undefined;
}

/** What `validate` returns: the typed value, or the issues. */
export type StandardSchemaResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardSchemaIssue> };

/** One problem a schema found. */
export interface StandardSchemaIssue {
  /** The error message of the issue. */
  readonly message: string;
  /** Where in the value, if anywhere. */
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/** The input type of a schema (what `track()` takes as properties). */
export type InferSchemaInput<Schema extends StandardSchemaV1> = NonNullable<
  Schema["~standard"]["types"]
>["input"];
