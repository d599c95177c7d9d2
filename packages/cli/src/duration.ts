const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90s`, `15m`, `1h`, `1h30m`, `7d` → seconds; undefined when it is not such a duration. */
export function parseDurationSeconds(text: string): number | undefined {
  if (!/^(\d+[smhd])+$/.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d+)([smhd])/g)) total += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  return total > 0 && Number.isSafeInteger(total) ? total : undefined;
}
