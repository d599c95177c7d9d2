/**
 * Seeded randomness for tests: the seed comes from `HUB_TEST_SEED` or is picked at random, and a
 * failure names it, so that any run can be replayed exactly.
 */
export interface Seeded {
  readonly seed: number;
  /** In [0, 1), like Math.random. */
  random(): number;
}

export function seeded(): Seeded {
  const fromEnv = process.env.HUB_TEST_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 32);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`HUB_TEST_SEED must be a non-negative integer (got "${fromEnv}")`);
  // mulberry32: small, fast and good enough to drive timings.
  let a = seed >>> 0;
  const random = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return { seed, random };
}

/** Runs `body` with a seeded generator; an error thrown by it names the seed to replay it with. */
export async function withSeed(body: (random: () => number) => Promise<void>): Promise<void> {
  const { seed, random } = seeded();
  try {
    await body(random);
  } catch (err) {
    if (err instanceof Error) err.message += `\n(random seed ${seed}: replay with HUB_TEST_SEED=${seed})`;
    throw err;
  }
}
