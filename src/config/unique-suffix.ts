let counter = 0;

/**
 * A suffix unique on this host for names of temporary files, directories and sandboxes. Not a
 * secret, so it does not need node:crypto, whose import alone costs the CLI ~6 ms per run.
 */
export function uniqueSuffix(): string {
  counter = (counter + 1) % 1296;
  return `${Date.now().toString(36)}${process.pid.toString(36)}${counter.toString(36).padStart(2, '0')}${Math.random().toString(36).slice(2, 6)}`;
}
