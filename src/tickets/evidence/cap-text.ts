/**
 * Text kept whole up to `maxBytes` (UTF-8); past it, the head and the tail with a note of what was
 * cut between them. The tail matters: test runners print their summary last.
 */
export function capText(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  const headBytes = Math.floor(maxBytes / 4);
  const tailBytes = maxBytes - headBytes;
  const cut = bytes.length - headBytes - tailBytes;
  // A character split at either edge decodes as U+FFFD: harmless in a log.
  return `${bytes.subarray(0, headBytes).toString('utf8')}\n[… ${cut} bytes cut; ${bytes.length} bytes in all …]\n${bytes.subarray(bytes.length - tailBytes).toString('utf8')}`;
}
