/** A command's argv as one line a person can read (and paste into a shell). */
export function commandText(argv: string[]): string {
  return argv.map((part) => (/^[\w@%+=:,./-]+$/.test(part) ? part : quote(part))).join(' ');
}

const quote = (part: string) => `'${part.replaceAll("'", "'\\''")}'`;
