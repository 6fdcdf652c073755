/** Seeded PRNG (mulberry32) so a failing property test can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Integer in [min, max]. */
export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

const SAMPLES = [
  "a",
  "Z",
  "0",
  " ",
  '"',
  "\\",
  "é",
  "ß",
  "€",
  "✓",
  "日",
  "🎉",
  "😀",
  "\u0000",
  "\u007f",
  "\u0080",
  "\u07ff",
  "\u0800",
  "\uffff",
];

/** A random string mixing 1-, 2-, 3- and 4-byte characters, and lone surrogates when asked. */
export function randomText(random: () => number, length: number, loneSurrogates = false): string {
  let out = "";
  while (out.length < length) {
    const roll = random();
    if (loneSurrogates && roll < 0.08) {
      out += String.fromCharCode(randomInt(random, 0xd800, 0xdfff));
    } else if (roll < 0.5) {
      out += SAMPLES[randomInt(random, 0, SAMPLES.length - 1)]!;
    } else {
      out += String.fromCodePoint(
        randomInt(random, 0, 1)
          ? randomInt(random, 0x20, 0x7e)
          : randomInt(random, 0x10000, 0x10ffff),
      );
    }
  }
  return out;
}
