import type { Command } from 'commander';

/**
 * Makes every command that has subcommands refuse an unknown one with an error, a suggestion
 * when a name is close, and exit code 1 — also when `--help` follows it: commander looks at
 * `--help` before it looks for the subcommand, so `mags ticket create --help` printed the
 * top-level help and exited 0, as if `ticket` existed.
 */
export function refuseUnknownCommands(command: Command): void {
  if (command.commands.length > 0) {
    const refuse = () => {
      // `mags help NAME` asks about NAME; an option (`mags --help`) is not a command name.
      const [first, second] = command.args;
      const name = first === 'help' ? second : first;
      if (name === undefined || name.startsWith('-')) return;
      const names = command.commands.flatMap((sub) => [sub.name(), ...sub.aliases()]);
      if (names.includes(name)) return;
      const similar = suggestSimilar(name, names);
      command.error(
        `error: unknown command '${name}'${similar ? `\n(Did you mean ${similar}?)` : ''}`,
        { code: 'commander.unknownCommand' },
      );
    };
    command.on('beforeHelp', refuse);
    // With a listener here commander hands an unknown command to it instead of reporting it
    // itself, so both paths give the same message and suggestion.
    command.on('command:*', refuse);
  }
  for (const sub of command.commands) refuseUnknownCommands(sub);
}

/**
 * The closest names by edit distance (a transposition counts as one edit), when close enough
 * to be a typo: at most two edits, and fewer than half of the longer name. `' or '`-joined.
 */
export function suggestSimilar(word: string, candidates: string[]): string | undefined {
  let best = 3;
  let similar: string[] = [];
  for (const candidate of new Set(candidates)) {
    const distance = editDistance(word, candidate);
    if (distance * 2 >= Math.max(word.length, candidate.length)) continue;
    if (distance < best) [best, similar] = [distance, [candidate]];
    else if (distance === best) similar.push(candidate);
  }
  return similar.length > 0 ? similar.sort().join(' or ') : undefined;
}

/** Optimal string alignment distance (Damerau–Levenshtein without repeated edits). */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => rows[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        distance = Math.min(distance, at(i - 2, j - 2) + 1);
      (rows[i] as number[])[j] = distance;
    }
  }
  return at(a.length, b.length);
}
