/**
 * The ANSI parser behind AnsiText: SGR colours and attributes become spans; every other escape
 * (cursor moves, OSC titles, OSC 8 links, DCS strings, charset switches, stray ESC) is dropped
 * while the visible text stays; no output of it is ever markup.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ansiSpans } from '../../src/dashboard/components/ansi-spans.ts';

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
