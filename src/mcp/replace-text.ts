import { InvalidInputError } from '../errors/mags-error.ts';

export interface Replacement {
  /** The new content, encoded. */
  bytes: Uint8Array;
  replacements: number;
  /** Line numbers (1-based, in the old content) where the first (up to 100) occurrences start. */
  lines: number[];
  /** oldString and newString were given with \n and the file uses \r\n: they were converted. */
  convertedToCrlf: boolean;
}

const encoder = new TextEncoder();

/**
 * Replaces `oldString` in `content` (exactly once unless `replaceAll`), refusing, before
 * building it, a result over `maxBytes`: a short oldString replaced everywhere by a long
 * newString would otherwise make a huge string in the server and fill the sandbox's disk.
 */
export function replaceText(
  content: string,
  edit: { path: string; oldString: string; newString: string; replaceAll?: boolean },
  maxBytes: number,
): Replacement {
  let { oldString, newString } = edit;
  let found = findOccurrences(content, oldString);
  let convertedToCrlf = false;
  // The model often sends \n line ends for a file written with \r\n: match those lines anyway.
  const crlfFile = content.includes('\r\n');
  if (found.count === 0 && crlfFile && oldString.includes('\n') && !oldString.includes('\r')) {
    const crlfOld = oldString.replaceAll('\n', '\r\n');
    const crlfFound = findOccurrences(content, crlfOld);
    if (crlfFound.count > 0) {
      oldString = crlfOld;
      newString = newString.replaceAll('\r\n', '\n').replaceAll('\n', '\r\n');
      found = crlfFound;
      convertedToCrlf = true;
    }
  }
  const matches = found.count;
  if (matches === 0) {
    throw new InvalidInputError(`oldString occurs 0 times in ${edit.path}.`, {
      code: 'no_match',
      hint:
        'Nothing was changed. file_read the file and copy the text exactly, whitespace and indentation included' +
        (crlfFile ? ' (this file ends its lines with \\r\\n).' : '.'),
    });
  }
  const lines = found.lines;
  const lineList = `${lines.join(', ')}${matches > lines.length ? ', ...' : ''}`;
  if (matches > 1 && !edit.replaceAll) {
    throw new InvalidInputError(
      `oldString occurs ${matches} times in ${edit.path} (at lines ${lineList}).`,
      {
        code: 'several_matches',
        hint: 'Nothing was changed. Add surrounding lines to oldString so it occurs once, or set replaceAll to replace all of them.',
      },
    );
  }
  const contentBytes = encoder.encode(content).length;
  const resultBytes =
    contentBytes + matches * (encoder.encode(newString).length - encoder.encode(oldString).length);
  if (resultBytes > maxBytes) {
    throw new InvalidInputError(
      `The edit would make ${edit.path} ${resultBytes} bytes, over the ${maxBytes} bytes file_edit writes.`,
      {
        code: 'too_large',
        hint: 'Nothing was changed. Replace fewer occurrences at a time, or make the change with run_command.',
      },
    );
  }
  const replaced = content.split(oldString).join(newString);
  return { bytes: encoder.encode(replaced), replacements: matches, lines, convertedToCrlf };
}

/** Lines reported for a replaceAll: enough to check, bounded for a file full of matches. */
const maxReportedLines = 100;

/** How often `needle` occurs (not overlapping) and the 1-based lines the first ones start on. */
function findOccurrences(text: string, needle: string): { count: number; lines: number[] } {
  const lines: number[] = [];
  let count = 0;
  let line = 1;
  let counted = 0;
  for (
    let index = text.indexOf(needle);
    index !== -1;
    index = text.indexOf(needle, index + needle.length)
  ) {
    count++;
    if (lines.length < maxReportedLines) {
      line += countNewlines(text, counted, index);
      counted = index;
      lines.push(line);
    }
  }
  return { count, lines };
}

/** Newlines in text[from, to). */
function countNewlines(text: string, from: number, to: number): number {
  let count = 0;
  for (
    let index = text.indexOf('\n', from);
    index !== -1 && index < to;
    index = text.indexOf('\n', index + 1)
  ) {
    count++;
  }
  return count;
}
