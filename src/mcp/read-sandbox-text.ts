import type { Mags } from '../sdk/mags.ts';
import { withoutCutLastCharacter } from './truncate-output.ts';

export interface TextReadOptions {
  /** 1-based, inclusive. */
  startLine?: number;
  endLine?: number;
  /** Most bytes of content returned (and, without a line range, read). */
  maxBytes: number;
}

export interface TextRead {
  [key: string]: unknown;
  path: string;
  sizeBytes: number;
  binary: boolean;
  /** The text (null for a binary file). */
  content: string | null;
  /** Part of the file (or of the asked lines) is not in `content`. */
  truncated: boolean;
  startLine?: number;
  endLine?: number;
  /** One line for the model: what `content` is. */
  summary: string;
}

/** A line range is looked for in at most this many bytes of the file. */
const maxScanBytes = 16 * 1024 * 1024;

/**
 * Reads the start of a sandbox file as text, without holding more of it than needed: the read
 * stops (inside the sandbox too) as soon as the asked bytes or lines are in.
 */
export async function readSandboxText(
  client: Mags,
  sandbox: string,
  path: string,
  options: TextReadOptions,
): Promise<TextRead> {
  const lineRange = options.startLine !== undefined || options.endLine !== undefined;
  const startLine = options.startLine ?? 1;
  const endLine = options.endLine ?? Number.POSITIVE_INFINITY;
  const readLimit = lineRange ? maxScanBytes : options.maxBytes;
  const { sizeBytes, body } = await client.sandboxes.files.stream(sandbox, path);
  const chunks: Uint8Array[] = [];
  let length = 0;
  let newlines = 0;
  const reader = body.getReader();
  try {
    // Read until the limit, or (a line range) until the end line's newline has arrived.
    while (length < readLimit && !(lineRange && newlines >= endLine)) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
      if (lineRange) for (const byte of value) if (byte === 0x0a) newlines++;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const bytes = joinChunks(chunks).subarray(0, readLimit);
  const base = { path, sizeBytes };
  if (looksBinary(bytes)) {
    return {
      ...base,
      binary: true,
      content: null,
      truncated: false,
      summary: `${path} is a binary file of ${sizeBytes} bytes; its bytes are not shown (run_command can inspect it, e.g. with od or file).`,
    };
  }
  if (!lineRange) {
    const kept = sizeBytes > bytes.length ? withoutCutLastCharacter(bytes) : bytes;
    const truncated = kept.length < sizeBytes;
    return {
      ...base,
      binary: false,
      content: new TextDecoder().decode(kept),
      truncated,
      summary: truncated
        ? `${path}: ${sizeBytes} bytes; showing the first ${kept.length} (${sizeBytes - kept.length} left out: ask for startLine/endLine or a larger maxBytes).`
        : `${path}: ${sizeBytes} bytes.`,
    };
  }
  const lines = new TextDecoder().decode(withoutCutLastCharacter(bytes)).split('\n');
  const selected = lines.slice(startLine - 1, Number.isFinite(endLine) ? endLine : undefined);
  let content = selected.join('\n');
  // The scan stopped at its limit before the end line: the range may go on past it.
  let truncated = bytes.length < sizeBytes && newlines < endLine;
  const encoded = new TextEncoder().encode(content);
  if (encoded.length > options.maxBytes) {
    content = new TextDecoder().decode(
      withoutCutLastCharacter(encoded.subarray(0, options.maxBytes)),
    );
    truncated = true;
  }
  const lastLine = startLine + selected.length - 1;
  return {
    ...base,
    binary: false,
    content,
    truncated,
    startLine,
    endLine: lastLine,
    summary:
      selected.length === 0
        ? `${path}: ${sizeBytes} bytes, ${lines.length} lines; no line ${startLine}.`
        : `${path}: lines ${startLine}-${lastLine}${truncated ? ' (cut short: ask for fewer lines, or read the rest with run_command)' : ''}.`,
  };
}

/** NUL bytes, or bytes that are not UTF-8, in the first 8 KiB: not a text file. */
function looksBinary(bytes: Uint8Array): boolean {
  const sample = withoutCutLastCharacter(bytes.subarray(0, 8192));
  if (sample.includes(0)) return true;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample);
    return false;
  } catch {
    return true;
  }
}

function joinChunks(chunks: Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}
