/** `/a/b` + `c` → `/a/b/c`; `/` + `c` → `/c`. */
export function joinPath(directory: string, name: string): string {
  return `${directory.replace(/\/+$/, '')}/${name}`;
}

/** The parent of an absolute path (`/` stays `/`). */
export function parentPath(path: string): string {
  const parent = path.replace(/\/+$/, '').replace(/\/[^/]*$/, '');
  return parent === '' ? '/' : parent;
}

/**
 * A file name as shown: control characters as escapes (`\n`, `\t`, `\x1b`, as `ls -b` does),
 * so a name that holds a newline reads as one name on one line, in any font.
 */
export function nameText(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are the point
  return name.replace(/[\u0000-\u001f\u007f]/g, (character) => {
    const named: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' };
    return named[character] ?? `\\x${character.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}
