import { InvalidInputError } from '../../errors/mags-error.ts';

/**
 * The header of a v2 or v3 bundle (gitformat-bundle(5)): `-<id>` lines are prerequisites,
 * `<id> <ref>` lines the refs it carries, up to the first empty line.
 */
export function readBundleHeader(bundle: Buffer): {
  prerequisites: string[];
  refs: Map<string, string>;
  /** Every `<id> <ref>` line in order (a ref named twice is two lines). */
  lines: Array<{ commit: string; ref: string }>;
} {
  const end = bundle.indexOf('\n\n');
  const lines = bundle
    .subarray(0, end === -1 ? Math.min(bundle.length, 65_536) : end)
    .toString('utf8')
    .split('\n');
  if (!/^# v[23] git bundle$/.test(lines[0] ?? '')) {
    throw new InvalidInputError('The ticket bundle is not a git bundle.', {
      hint: 'Approve the ticket again to make a new one.',
    });
  }
  const prerequisites: string[] = [];
  const refs = new Map<string, string>();
  const carriedLines: Array<{ commit: string; ref: string }> = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith('@')) continue; // v3 capabilities
    const prerequisite = /^-([0-9a-f]{40,64})\b/.exec(line);
    if (prerequisite) prerequisites.push(prerequisite[1] as string);
    const carried = /^([0-9a-f]{40,64}) (\S+)$/.exec(line);
    if (carried) {
      refs.set(carried[2] as string, carried[1] as string);
      carriedLines.push({ commit: carried[1] as string, ref: carried[2] as string });
    }
  }
  return { prerequisites, refs, lines: carriedLines };
}
