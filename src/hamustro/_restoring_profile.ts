import type { Framing } from "../kit/chunk.ts";
import type { JsonValue } from "../event.ts";
import type { OutgoingBatch, Profile } from "../ports/profile.ts";
import type { HamustroProfile } from "./profile.ts";
import { collectionFromJson, TRACKER_KEYS } from "./_tracker_state.ts";

interface ValueSource {
  getValue(key: string): JsonValue | undefined;
}

/**
 * The Hamustro profile as the tracker's pipeline sees it. The pipeline sends
 * restored records as soon as storage opens, before the tracker's loaders
 * run, so sessions of earlier runs are registered (`addCollection`) from the
 * stored Collection fields the first time a batch is chunked or built.
 */
export function restoringProfile(
  inner: HamustroProfile,
  source: () => ValueSource | undefined,
): { profile: Profile; restore: () => void } {
  let seen: JsonValue | undefined;
  const registered = new Set([inner.session]);

  function restore(): void {
    const stored = source()?.getValue(TRACKER_KEYS.collections);
    if (stored === seen) return;
    seen = stored;
    if (typeof stored !== "object" || stored === null || Array.isArray(stored)) return;
    for (const [session, value] of Object.entries(stored)) {
      if (registered.has(session)) continue;
      const fields = collectionFromJson(value);
      // A damaged entry leaves its session unknown: buildRequest then refuses
      // those payloads with a RangeError, reported, rather than mislabelling them.
      if (fields === undefined || fields.session !== session) continue;
      try {
        inner.addCollection(fields);
        registered.add(session);
      } catch {
        // Fields that do not hash to their session: same as damaged.
      }
    }
  }

  const profile: Profile = {
    name: inner.name,
    limits: inner.limits,
    keyPolicy: inner.keyPolicy,
    get framing(): Framing {
      restore();
      return inner.framing;
    },
    encode: (event) => inner.encode(event),
    buildRequest(batch: OutgoingBatch, now: number) {
      restore();
      return inner.buildRequest(batch, now);
    },
    readResponse: (response, batch) => inner.readResponse(response, batch),
  };
  return { profile, restore };
}
