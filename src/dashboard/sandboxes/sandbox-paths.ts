/** `/a/b` + `c` → `/a/b/c`; `/` + `c` → `/c`. */
export function joinPath(directory: string, name: string): string {
  return `${directory.replace(/\/+$/, '')}/${name}`;
}

/** The parent of an absolute path (`/` stays `/`). */
export function parentPath(path: string): string {
  const parent = path.replace(/\/+$/, '').replace(/\/[^/]*$/, '');
  return parent === '' ? '/' : parent;
}
