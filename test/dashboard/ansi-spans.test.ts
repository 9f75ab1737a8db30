/**
 * The ANSI parser behind AnsiText: SGR colours and attributes become spans; every other escape
 * (cursor moves, OSC titles, OSC 8 links, DCS strings, charset switches, stray ESC) is dropped
 * while the visible text stays; no output of it is ever markup.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AnsiParser, ansiSpans } from '../../src/dashboard/components/ansi-spans.ts';

const esc = '\u001b';
const simple = (text: string) =>
  ansiSpans(text).map((span) => [span.text, span.classes, span.style ?? null]);

test('plain text is one span with no look', () => {
  assert.deepEqual(simple('hello\nworld\t!'), [['hello\nworld\t!', '', null]]);
  assert.deepEqual(ansiSpans(''), []);
});

test('palette colours, bright ones, backgrounds and attributes become classes; reset ends them', () => {
  assert.deepEqual(
    simple(`a${esc}[31mred${esc}[0m b ${esc}[1;92;44mbold${esc}[22mthin${esc}[mplain`),
    [
      ['a', '', null],
      ['red', 'ansi-red', null],
      [' b ', '', null],
      ['bold', 'ansi-bright-green ansi-bg-blue ansi-bold', null],
      ['thin', 'ansi-bright-green ansi-bg-blue', null],
      ['plain', '', null],
    ],
  );
  assert.deepEqual(simple(`${esc}[2;3;4;9mx${esc}[23;24;29;39my`), [
    ['x', 'ansi-dim ansi-italic ansi-underline ansi-strikethrough', null],
    ['y', 'ansi-dim', null],
  ]);
});

test('256 colours: the first 16 are the palette, the cube and greys are styles; truecolour too', () => {
  assert.deepEqual(simple(`${esc}[38;5;9ma${esc}[38;5;196mb${esc}[48;5;232mc`), [
    ['a', 'ansi-bright-red', null],
    ['b', '', { color: 'rgb(255, 0, 0)' }],
    ['c', '', { color: 'rgb(255, 0, 0)', backgroundColor: 'rgb(8, 8, 8)' }],
  ]);
  assert.deepEqual(simple(`${esc}[38;2;10;20;30mt${esc}[38:2::1:2:3mu`), [
    ['t', '', { color: 'rgb(10, 20, 30)' }],
    ['u', '', { color: 'rgb(1, 2, 3)' }],
  ]);
});

test('inverse swaps the colours', () => {
  assert.deepEqual(simple(`${esc}[31;7mx`), [['x', 'ansi-inverse-fg ansi-bg-red', null]]);
});

test('cursor moves, erases, titles, OSC 8 links, DCS, charsets and stray ESC are dropped', () => {
  const link = `${esc}]8;;https://evil.example${esc}\\click${esc}]8;;\u0007`;
  const text = `${esc}[2J${esc}[1;1H${esc}]0;title\u0007${link} ${esc}P1$r${esc}\\${esc}(Bok${esc}7${esc}`;
  assert.deepEqual(simple(text), [['click ok', '', null]]);
  assert.deepEqual(simple('a\u0007b\u0008c\u009b31md\u009d8;;x\u0007e'), [
    ['abc', '', null],
    ['de', 'ansi-red', null],
  ]);
});

test('an unfinished sequence at the end shows nothing of itself', () => {
  assert.deepEqual(simple(`ok${esc}[3`), [['ok', '', null]]);
  assert.deepEqual(simple(`ok${esc}]8;;https://evil.example`), [['ok', '', null]]);
});

test('a carriage return rewrites its line; CRLF is a newline', () => {
  assert.deepEqual(simple('one\r\ntwo 10%\rtwo 100%\n'), [['one\ntwo 100%\n', '', null]]);
  assert.deepEqual(simple(`a\n${esc}[31m50%\r${esc}[32m99%`), [
    ['a\n', '', null],
    ['99%', 'ansi-green', null],
  ]);
});

test('markup stays text', () => {
  const markup = '<img src=x onerror="alert(1)"><script>alert(2)</script>';
  assert.deepEqual(simple(`${esc}[31m${markup}`), [[markup, 'ansi-red', null]]);
});

/** Runs `work` and `baseline` in turns, five times: the fastest of each (a busy machine is noise). */
function fastestMs(work: () => void, baseline: () => void): [number, number] {
  const best = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
  for (let run = 0; run < 5; run++) {
    for (const [index, each] of [work, baseline].entries()) {
      const start = performance.now();
      each();
      best[index] = Math.min(best[index] as number, performance.now() - start);
    }
  }
  return best as [number, number];
}

test('hostile input parses in linear time: 1 MB of it within 20× of 1 MB of plain text', () => {
  const size = 1 << 20;
  const plain = 'lorem ipsum dolor sit amet, consectetur adipiscing elit\n'.repeat(size / 56);
  const hostile = {
    // One SGR sequence with ~150k parameters: a 38 read its colour from all of them (10 s for
    // 112 KB before the fix).
    longSgr: `${esc}[${'38;5;1;'.repeat(size / 7)}m`,
    // Carriage returns rewriting a line after half a megabyte of lines.
    carriageReturns: `${'x\n'.repeat(size / 4)}${'ab\r'.repeat(size / 6)}`,
    // A CSI and an OSC string that never end.
    endlessCsi: `${esc}[${'1;'.repeat(size / 2)}`,
    endlessOsc: `${esc}]0;${'t'.repeat(size)}`,
  };
  for (const [name, text] of Object.entries(hostile)) {
    const [hostileMs, plainMs] = fastestMs(
      () => ansiSpans(text),
      () => ansiSpans(plain),
    );
    assert.ok(
      hostileMs < Math.max(plainMs, 1) * 20,
      `${name}: ${hostileMs} ms, plain ${plainMs} ms`,
    );
    // The same in 4 KB chunks, as a streamed log arrives.
    const inChunks = (input: string) => () => {
      const parser = new AnsiParser();
      for (let start = 0; start < input.length; start += 4096) {
        parser.push(input.slice(start, start + 4096));
        parser.takeLines();
      }
      parser.end();
      parser.takeAll();
    };
    const [chunkedMs, plainChunkedMs] = fastestMs(inChunks(text), inChunks(plain));
    assert.ok(
      chunkedMs < Math.max(plainChunkedMs, 1) * 20,
      `${name} in chunks: ${chunkedMs} ms, plain ${plainChunkedMs} ms`,
    );
  }
  // Its first 64 parameters are read (the look they make), the rest skipped; the text stays.
  assert.deepEqual(simple(`${esc}[1;${'9;'.repeat(100)}31mred`), [
    ['red', 'ansi-bold ansi-strikethrough', null],
  ]);
  assert.equal(
    simple(`${hostile.longSgr}red`)
      .map(([text]) => text)
      .join(''),
    'red',
  );
});

/** Every way of cutting `text` in two, pushed as two chunks: the spans as in one piece. */
function assertSameWhereverCut(text: string) {
  const whole = simple(text);
  for (let cut = 0; cut <= text.length; cut++) {
    const parser = new AnsiParser();
    parser.push(text.slice(0, cut));
    const first = parser.takeAll();
    parser.push(text.slice(cut));
    parser.end();
    const spans = [...first, ...parser.takeAll()];
    // Joined back by look: a cut may split one span in two.
    const joined: Array<[string, string, unknown]> = [];
    for (const span of spans) {
      const last = joined.at(-1);
      const style = span.style ?? null;
      if (last && last[1] === span.classes && JSON.stringify(last[2]) === JSON.stringify(style))
        last[0] += span.text;
      else joined.push([span.text, span.classes, style]);
    }
    assert.deepEqual(joined, whole, `cut at ${cut}`);
  }
}

test('chunks: an escape, an OSC string and a CRLF cut by a chunk boundary parse as if whole', () => {
  assertSameWhereverCut(`a${esc}[1;38;5;208mb${esc}[0mc\r\nd`);
  assertSameWhereverCut(`a${esc}]8;;https://evil.example${esc}\\link${esc}]8;;\u0007b`);
  assertSameWhereverCut(`${esc}(Ba\u009b32mb${esc}P1$r${esc}\\c`);
});

test('chunks: lines are handed out once; a carriage return rewrites the open line across chunks', () => {
  const parser = new AnsiParser();
  parser.push(`one\n${esc}[32mtwo 10%`);
  assert.deepEqual(parser.takeLines(), [{ text: 'one\n', classes: '' }]);
  assert.deepEqual(parser.openLine(), [{ text: 'two 10%', classes: 'ansi-green' }]);
  parser.push('\rtwo 50%');
  parser.push('\rtwo 100%\nthree');
  assert.deepEqual(parser.takeLines(), [{ text: 'two 100%\n', classes: 'ansi-green' }]);
  assert.deepEqual(parser.openLine(), [{ text: 'three', classes: 'ansi-green' }]);
});

test('chunks: an overlong unfinished CSI is dropped up to its end, not carried', () => {
  const parser = new AnsiParser();
  parser.push(`ok ${esc}[${'1;'.repeat(5000)}`);
  parser.push(`${'1;'.repeat(5000)}31mred`);
  parser.end();
  assert.deepEqual(parser.takeAll(), [{ text: 'ok red', classes: '' }]);
});
