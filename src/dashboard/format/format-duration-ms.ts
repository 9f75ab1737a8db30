/** A duration: `250 ms`, `4.2 s`, `3 min 4 s`, `2 h 5 min`. */
export function formatDurationMs(durationMs: number): string {
  const milliseconds = Math.max(0, durationMs);
  if (milliseconds < 1000) return `${Math.round(milliseconds)} ms`;
  // 59.96 s would print as "60.0 s": from there on, whole minutes and seconds.
  if (milliseconds < 59_950) return `${(milliseconds / 1000).toFixed(1)} s`;
  const seconds = Math.round(milliseconds / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** How long from one time to another (or to now, still going); `—` before it started. */
export function formatDurationBetween(
  startIso: string | null | undefined,
  endIso: string | null | undefined,
  nowMs = Date.now(),
): string {
  if (!startIso) return '—';
  const start = Date.parse(startIso);
  const end = endIso ? Date.parse(endIso) : nowMs;
  if (Number.isNaN(start) || Number.isNaN(end)) return '—';
  return formatDurationMs(end - start);
}
