import { bodyChunks } from '../sdk/body-chunks.ts';
import type { Mags } from '../sdk/mags.ts';
import { LineRangeScanner } from './line-range-scanner.ts';
import { readSandboxBytes } from './read-sandbox-bytes.ts';
import { withoutCutLastCharacter } from './truncate-output.ts';

export interface TextReadOptions {
  /** 1-based, inclusive. */
  startLine?: number;
  endLine?: number;
  /** Most bytes of content returned (and, without a line range, read). */
  maxBytes: number;
  /** The tool call's: cancelling it ends the read (and a line range's scan), in the sandbox too. */
  signal?: AbortSignal;
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

/**
 * A line range is looked for in at most this many bytes of the file: newlines are found on the
 * bytes (nothing skipped is decoded or kept), so this bounds the time one call takes.
 */
export const maxScanBytes = 8 * 1024 * 1024;
/** Bytes looked at to tell a binary file from a text one. */
const binarySampleBytes = 8192;

/**
 * Reads the start of a sandbox file, or a line range of it, as text, without holding more of it
 * than needed: the read stops (inside the sandbox too) as soon as the asked bytes or lines are in.
 */
export async function readSandboxText(
  client: Mags,
  sandbox: string,
  path: string,
  options: TextReadOptions,
): Promise<TextRead> {
  if (options.startLine !== undefined || options.endLine !== undefined) {
    return readLineRange(client, sandbox, path, options);
  }
  const { sizeBytes, bytes } = await readSandboxBytes(
    client,
    sandbox,
    path,
    options.maxBytes,
    options.signal,
  );
  if (looksBinary(bytes)) return binaryRead(path, sizeBytes);
  const kept = sizeBytes > bytes.length ? withoutCutLastCharacter(bytes) : bytes;
  const truncated = kept.length < sizeBytes;
  return {
    path,
    sizeBytes,
    binary: false,
    content: new TextDecoder().decode(kept),
    truncated,
    summary: truncated
      ? `${path}: ${sizeBytes} bytes; showing the first ${kept.length} (${sizeBytes - kept.length} left out: ask for startLine/endLine or a larger maxBytes).`
      : `${path}: ${sizeBytes} bytes.`,
  };
}

async function readLineRange(
  client: Mags,
  sandbox: string,
  path: string,
  options: TextReadOptions,
): Promise<TextRead> {
  const startLine = options.startLine ?? 1;
  const endLine = options.endLine ?? Number.POSITIVE_INFINITY;
  // A few bytes over maxBytes, to cut at a character boundary and know the range was cut.
  const scanner = new LineRangeScanner(startLine, endLine, options.maxBytes + 4);
  const { sizeBytes, body } = await client.sandboxes.files.stream(sandbox, path, {
    signal: options.signal,
  });
  let sample: Uint8Array = new Uint8Array(0);
  let atEnd = true;
  for await (const chunk of bodyChunks(body)) {
    if (sample.length < binarySampleBytes) {
      sample = Buffer.concat([sample, chunk.subarray(0, binarySampleBytes - sample.length)]);
    }
    const room = maxScanBytes - scanner.scannedBytes;
    scanner.push(room < chunk.length ? chunk.subarray(0, room) : chunk);
    if (scanner.done) break;
    if (scanner.scannedBytes >= maxScanBytes) {
      atEnd = scanner.scannedBytes >= sizeBytes;
      break;
    }
  }
  if (looksBinary(sample)) return binaryRead(path, sizeBytes);
  const found = scanner.result(atEnd && !scanner.done);
  const base = { path, sizeBytes, binary: false };
  const scanStopped = !atEnd && !scanner.done;
  const rangeText = Number.isFinite(endLine) ? `${startLine},${endLine}` : `${startLine},$`;
  const readWithSed = `read it with run_command, e.g. sed -n '${rangeText}p' ${path}`;
  if (found.lastLine < startLine) {
    const summary = scanStopped
      ? `${path}: ${sizeBytes} bytes; line ${startLine} is not in the first ${maxScanBytes} bytes file_read scans for lines (${found.lastLine} lines there): ${readWithSed}.`
      : `${path}: ${sizeBytes} bytes, ${found.fileLines ?? found.lastLine} lines; no line ${startLine}.`;
    return { ...base, content: '', truncated: false, summary };
  }
  let shown = found.kept;
  let truncated = scanStopped;
  if (shown.length > options.maxBytes) {
    shown = withoutCutLastCharacter(shown.subarray(0, options.maxBytes));
    truncated = true;
  }
  const content = new TextDecoder().decode(shown);
  const cutByBytes = shown.length < found.kept.length;
  // Cut by maxBytes: the last line shown is the one the cut fell in.
  const lastLine = cutByBytes ? startLine + countNewlines(shown) : found.lastLine;
  const note = cutByBytes
    ? ` (cut at maxBytes ${options.maxBytes}: ask for fewer lines or a larger maxBytes)`
    : scanStopped
      ? ` (the scan for lines stopped after the first ${maxScanBytes} bytes: ${readWithSed})`
      : '';
  return {
    ...base,
    content,
    truncated,
    startLine,
    endLine: lastLine,
    summary: `${path}: lines ${startLine}-${lastLine}${note}.`,
  };
}

function binaryRead(path: string, sizeBytes: number): TextRead {
  return {
    path,
    sizeBytes,
    binary: true,
    content: null,
    truncated: false,
    summary: `${path} is a binary file of ${sizeBytes} bytes; its bytes are not shown (run_command can inspect it, e.g. with od or file).`,
  };
}

function countNewlines(bytes: Uint8Array): number {
  let count = 0;
  for (let index = bytes.indexOf(0x0a); index !== -1; index = bytes.indexOf(0x0a, index + 1)) {
    count++;
  }
  return count;
}

/** NUL bytes, or bytes that are not UTF-8, in the first 8 KiB: not a text file. */
function looksBinary(bytes: Uint8Array): boolean {
  const sample = withoutCutLastCharacter(bytes.subarray(0, binarySampleBytes));
  if (sample.includes(0)) return true;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample);
    return false;
  } catch {
    return true;
  }
}
