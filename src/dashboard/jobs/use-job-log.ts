import { useEffect, useRef, useState } from 'preact/hooks';
import type { Job } from '../../api/schemas.ts';
import type { Mags } from '../../sdk/mags.ts';
import { AnsiParser, type AnsiSpan } from '../components/ansi-spans.ts';

/** How much output the page keeps (characters, about bytes): the start of a longer log goes. */
export const keptOutputLength = 5 * 1024 * 1024;

/**
 * The largest block (characters): output that arrives all at once (a finished job's whole log in
 * one animation frame) is cut into blocks this size, so the trim can drop its start.
 */
const blockLength = 256 * 1024;

/** The output as parsed so far: appended to in place, `version` bumped when it changed. */
export interface JobOutput {
  /** Complete lines, a block per animation frame (or per `blockLength`); blocks before `first` were trimmed. */
  blocks: Array<AnsiSpan[] | undefined>;
  first: number;
  /** The current line: a carriage return may still rewrite it. */
  openLine: AnsiSpan[];
  /** Whether any output came (trimmed or not). */
  any: boolean;
  version: number;
}

export interface JobLog {
  output: JobOutput;
  /** The job as its stream's `end` event reports it: set once it has ended. */
  ended: Job | undefined;
  error: unknown;
}

const newOutput = (): JobOutput => ({
  blocks: [],
  first: 0,
  openLine: [],
  any: false,
  version: 0,
});

const spansLength = (spans: AnsiSpan[]) =>
  spans.reduce((total, span) => total + span.text.length, 0);

/** `spans` cut into runs of at most `length` characters (a span longer than that cut too). */
export function splitSpans(spans: AnsiSpan[], length: number): AnsiSpan[][] {
  const blocks: AnsiSpan[][] = [];
  let block: AnsiSpan[] = [];
  let size = 0;
  for (const span of spans) {
    let text = span.text;
    while (size + text.length > length) {
      const room = length - size;
      if (room > 0) block.push({ ...span, text: text.slice(0, room) });
      blocks.push(block);
      block = [];
      size = 0;
      text = text.slice(room);
    }
    if (text.length > 0) {
      block.push(text === span.text ? span : { ...span, text });
      size += text.length;
    }
  }
  if (block.length > 0) blocks.push(block);
  return blocks;
}

/**
 * A job's output followed live over the API's log stream (SSE, resumed from the last byte after
 * a dropped connection by the SDK), ending with the job's final state. Stopped on unmount.
 * stdout and stderr arrive as one text (as a terminal shows them), gathered per animation frame
 * and parsed once as it comes (escapes cut by a chunk boundary carried); only the last
 * `keptOutputLength` of it is kept (`mags logs ID` has all of it).
 */
export function useJobLog(mags: Mags, id: string): JobLog {
  const output = useRef<JobOutput>(newOutput());
  const [log, setLog] = useState<JobLog>({
    output: output.current,
    ended: undefined,
    error: undefined,
  });
  useEffect(() => {
    const abort = new AbortController();
    const current = newOutput();
    output.current = current;
    setLog({ output: current, ended: undefined, error: undefined });
    const parser = new AnsiParser();
    const lengths: number[] = [];
    let kept = 0;
    // Chunks arrive faster than a frame: gather them and render once per animation frame.
    let pending = '';
    let frame = 0;
    const flush = (final = false) => {
      frame = 0;
      if (pending === '' && !final) return;
      parser.push(pending);
      pending = '';
      if (final) parser.end();
      const lines = parser.takeLines();
      for (const block of splitSpans(lines, blockLength)) {
        const length = spansLength(block);
        current.blocks.push(block);
        lengths.push(length);
        kept += length;
      }
      if (lines.length > 0) {
        while (kept > keptOutputLength && current.first < current.blocks.length - 1) {
          kept -= lengths[current.first] ?? 0;
          current.blocks[current.first] = undefined;
          current.first++;
        }
      }
      current.openLine = parser.openLine();
      current.any ||= lines.length > 0 || current.openLine.length > 0;
      current.version++;
      setLog((previous) => ({ ...previous }));
    };
    const append = (text: string) => {
      pending += text;
      if (!frame) frame = requestAnimationFrame(() => flush());
    };
    mags.jobs.logs(id, { signal: abort.signal, onStdout: append, onStderr: append }).then(
      (ended) => {
        if (frame) cancelAnimationFrame(frame);
        flush(true);
        setLog((previous) => ({ ...previous, ended }));
      },
      (error: unknown) => {
        if (!abort.signal.aborted) setLog((previous) => ({ ...previous, error }));
      },
    );
    return () => {
      abort.abort();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [mags, id]);
  return log;
}
