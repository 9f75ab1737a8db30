const unitMs = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * `90s`, `30m`, `2h`, `7d`, or plain seconds → milliseconds; undefined for anything else (the
 * caller says which option or variable was wrong).
 */
export function parseDurationMs(value: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(s|m|h|d)?$/.exec(value.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * unitMs[(match[2] ?? 's') as keyof typeof unitMs]);
}
