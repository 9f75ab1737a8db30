/**
 * The length of `bytes` without an incomplete UTF-8 sequence at its end, so a cut there never
 * splits a character (the next read starts on a character's first byte). Invalid sequences are
 * left as they are: they decode to U+FFFD wherever the cut falls.
 */
export function completeUtf8Length(bytes: Uint8Array): number {
  let start = bytes.length - 1;
  // Back over at most three continuation bytes (10xxxxxx) to the last sequence's first byte.
  while (start >= 0 && bytes.length - start < 4 && ((bytes[start] ?? 0) & 0xc0) === 0x80) start--;
  if (start < 0) return bytes.length;
  const lead = bytes[start] ?? 0;
  const sequenceBytes = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return bytes.length - start >= sequenceBytes ? bytes.length : start;
}
