/**
 * Terminal output cut into spans of plain text, each with the look its SGR escapes (`ESC [ … m`)
 * gave it; every other escape is dropped: cursor moves, erases, OSC sequences (window titles,
 * OSC 8 hyperlinks: their visible text stays, the link does not), DCS/APC strings, charset
 * switches, a stray ESC and the other control characters.
 *
 * Hand-written on purpose: the libraries (ansi_up, ansi-to-html) return HTML strings to be set
 * with innerHTML, and some turn OSC 8 into `<a href>`; the dashboard renders agents' output as
 * text nodes only, and a link an agent printed must never become clickable. A pure module (no
 * DOM, no JSX) so node's test runner checks it directly.
 */

/** The 16 palette colours, by SGR order; the stylesheet gives each a variable per theme. */
export const paletteNames = [
  'black',
  'red',
  'green',
  'yellow',
  'blue',
  'magenta',
  'cyan',
  'white',
  'bright-black',
  'bright-red',
  'bright-green',
  'bright-yellow',
  'bright-blue',
  'bright-magenta',
  'bright-cyan',
  'bright-white',
] as const;

/** A colour: a palette index (0–15, themed) or a CSS colour (256-colour cube, truecolour). */
type Colour = number | string | undefined;

export interface AnsiSpan {
  text: string;
  /** Classes for the palette colours and attributes (`ansi-red`, `ansi-bg-blue`, `ansi-bold`). */
  classes: string;
  /** Colours beyond the palette, as a CSSOM style object (never a style attribute string). */
  style?: { color?: string; backgroundColor?: string };
}

interface Look {
  foreground: Colour;
  background: Colour;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
  strikethrough: boolean;
  inverse: boolean;
}

const plainLook = (): Look => ({
  foreground: undefined,
  background: undefined,
  bold: false,
  dim: false,
  italic: false,
  underline: false,
  strikethrough: false,
  inverse: false,
});

const escapeCharacter = '\u001b';
const bell = '\u0007';
/** 8-bit forms of CSI and OSC (and the string introducers DCS, SOS, PM, APC, and ST). */
const c1Csi = '\u009b';
const c1Osc = '\u009d';
const c1Strings = new Set(['\u0090', '\u0098', '\u009e', '\u009f']);
const c1Terminator = '\u009c';

/** The spans of `text`, adjacent ones with the same look merged. */
export function ansiSpans(text: string): AnsiSpan[] {
  const spans: AnsiSpan[] = [];
  let look = plainLook();
  let pending = '';
  const flush = () => {
    if (pending === '') return;
    const rendered = render(look);
    const last = spans.at(-1);
    if (last && last.classes === rendered.classes && sameStyle(last.style, rendered.style)) {
      last.text += pending;
    } else {
      spans.push({ text: pending, ...rendered });
    }
    pending = '';
  };

  let index = 0;
  while (index < text.length) {
    const character = text[index] as string;
    if (character === escapeCharacter || character === c1Csi || character === c1Osc) {
      const next = character === escapeCharacter ? text[index + 1] : undefined;
      if (character === c1Csi || next === '[') {
        const start = index + (character === c1Csi ? 1 : 2);
        const end = csiEnd(text, start);
        if (end === -1) {
          index = text.length; // an unfinished sequence at the end: nothing to show
          continue;
        }
        if (text[end] === 'm') {
          flush();
          look = applySgr(look, text.slice(start, end));
        }
        index = end + 1;
        continue;
      }
      if (
        character === c1Osc ||
        next === ']' ||
        next === 'P' ||
        next === 'X' ||
        next === '^' ||
        next === '_'
      ) {
        // OSC (titles, OSC 8 links) and the other strings: dropped up to BEL or ST.
        const start = index + (character === c1Osc ? 1 : 2);
        index = stringEnd(text, start);
        continue;
      }
      // ESC, its intermediates (` `–`/`) and a final byte: charsets, keypad modes, save cursor.
      let cursor = index + 1;
      while (cursor < text.length && /[ -/]/.test(text[cursor] as string)) cursor++;
      index = Math.min(cursor + 1, text.length);
      continue;
    }
    if (c1Strings.has(character)) {
      index = stringEnd(text, index + 1);
      continue;
    }
    if (character === '\r') {
      if (text[index + 1] === '\n') {
        index++;
        continue;
      }
      // A carriage return rewrites its line (progress bars): what the line held so far goes.
      const newline = pending.lastIndexOf('\n');
      if (newline !== -1) pending = pending.slice(0, newline + 1);
      else {
        pending = '';
        eraseLine(spans);
      }
      index++;
      continue;
    }
    if (isDroppedControl(character)) {
      index++;
      continue;
    }
    pending += character;
    index++;
  }
  flush();
  return spans;
}

/** The index of a CSI sequence's final byte (`@`–`~`) after its parameters, or -1. */
function csiEnd(text: string, start: number): number {
  for (let cursor = start; cursor < text.length; cursor++) {
    const code = text.charCodeAt(cursor);
    if (code >= 0x40 && code <= 0x7e) return cursor;
    if (code < 0x20 || code > 0x3f) return cursor; // not a CSI: dropped up to here
  }
  return -1;
}

/** Where a string sequence ends (after BEL or ST); an unterminated one runs to the end. */
function stringEnd(text: string, start: number): number {
  for (let cursor = start; cursor < text.length; cursor++) {
    const character = text[cursor];
    if (character === bell || character === c1Terminator) return cursor + 1;
    if (character === escapeCharacter && text[cursor + 1] === '\\') return cursor + 2;
  }
  return text.length;
}

/** Control characters with no text to show (tab and newline stay). */
function isDroppedControl(character: string): boolean {
  const code = character.charCodeAt(0);
  if (character === '\n' || character === '\t') return false;
  return code < 0x20 || code === 0x7f || (code >= 0x80 && code < 0xa0);
}

/** Removes the spans' text back to the last newline. */
function eraseLine(spans: AnsiSpan[]): void {
  while (spans.length > 0) {
    const last = spans.at(-1) as AnsiSpan;
    const newline = last.text.lastIndexOf('\n');
    if (newline !== -1) {
      last.text = last.text.slice(0, newline + 1);
      return;
    }
    spans.pop();
  }
}

/** The look after an SGR sequence's parameters (`1;31`, `38;5;208`, `38;2;255;0;0`, ``). */
function applySgr(previous: Look, parameters: string): Look {
  const look = { ...previous };
  const groups = parameters.replace(/^[<=>?]/, '').split(';');
  const number = (part: string | undefined) => (part ? Number.parseInt(part, 10) : 0);
  for (let index = 0; index < groups.length; index++) {
    const group = groups[index] as string;
    const code = number(group.split(':')[0]);
    if (code === 38 || code === 48) {
      let colour: Colour;
      if (group.includes(':')) {
        // ITU form `38:2:[colour space]:R:G:B` or `38:5:N`, all in one parameter.
        const parts = group.split(':').map(number);
        const values =
          parts[1] === 2 && parts.length >= 6 ? [2, ...parts.slice(3)] : parts.slice(1);
        colour = extendedColour(values, 0)[0];
      } else {
        const [value, used] = extendedColour(groups.map(number), index + 1);
        colour = value;
        index += used;
      }
      if (code === 38) look.foreground = colour;
      else look.background = colour;
    } else applyCode(look, code);
  }
  return look;
}

function applyCode(look: Look, code: number): void {
  if (code === 0) Object.assign(look, plainLook());
  else if (code === 1) look.bold = true;
  else if (code === 2) look.dim = true;
  else if (code === 3) look.italic = true;
  else if (code === 4) look.underline = true;
  else if (code === 7) look.inverse = true;
  else if (code === 9) look.strikethrough = true;
  else if (code === 22) look.bold = look.dim = false;
  else if (code === 23) look.italic = false;
  else if (code === 24) look.underline = false;
  else if (code === 27) look.inverse = false;
  else if (code === 29) look.strikethrough = false;
  else if (code >= 30 && code <= 37) look.foreground = code - 30;
  else if (code === 39) look.foreground = undefined;
  else if (code >= 40 && code <= 47) look.background = code - 40;
  else if (code === 49) look.background = undefined;
  else if (code >= 90 && code <= 97) look.foreground = code - 90 + 8;
  else if (code >= 100 && code <= 107) look.background = code - 100 + 8;
}

/** `5;N` (256 colours) or `2;R;G;B` (truecolour) after 38/48, and how many codes it took. */
function extendedColour(codes: number[], start: number): [Colour, number] {
  const mode = codes[start];
  if (mode === 5) {
    const value = codes[start + 1];
    if (value === undefined || value < 0 || value > 255) return [undefined, 2];
    return [value < 16 ? value : cubeColour(value), 2];
  }
  if (mode === 2) {
    const [red, green, blue] = codes.slice(start + 1, start + 4).map(byte);
    if (red === undefined || green === undefined || blue === undefined) return [undefined, 4];
    return [`rgb(${red}, ${green}, ${blue})`, 4];
  }
  return [undefined, 0];
}

const byte = (value: number) => Math.max(0, Math.min(255, Number.isFinite(value) ? value : 0));

/** xterm's 256-colour table beyond the palette: a 6×6×6 cube, then 24 greys. */
function cubeColour(value: number): string {
  if (value >= 232) {
    const grey = 8 + (value - 232) * 10;
    return `rgb(${grey}, ${grey}, ${grey})`;
  }
  const index = value - 16;
  const level = (step: number) => (step === 0 ? 0 : 55 + step * 40);
  return `rgb(${level(Math.floor(index / 36))}, ${level(Math.floor(index / 6) % 6)}, ${level(index % 6)})`;
}

function render(look: Look): Pick<AnsiSpan, 'classes' | 'style'> {
  const foreground = look.inverse ? (look.background ?? 'inverse-fg') : look.foreground;
  const background = look.inverse ? (look.foreground ?? 'inverse-bg') : look.background;
  const classes: string[] = [];
  const style: { color?: string; backgroundColor?: string } = {};
  if (typeof foreground === 'number') classes.push(`ansi-${paletteNames[foreground]}`);
  else if (foreground === 'inverse-fg') classes.push('ansi-inverse-fg');
  else if (foreground) style.color = foreground;
  if (typeof background === 'number') classes.push(`ansi-bg-${paletteNames[background]}`);
  else if (background === 'inverse-bg') classes.push('ansi-inverse-bg');
  else if (background) style.backgroundColor = background;
  if (look.bold) classes.push('ansi-bold');
  if (look.dim) classes.push('ansi-dim');
  if (look.italic) classes.push('ansi-italic');
  if (look.underline) classes.push('ansi-underline');
  if (look.strikethrough) classes.push('ansi-strikethrough');
  return {
    classes: classes.join(' '),
    ...(style.color || style.backgroundColor ? { style } : {}),
  };
}

function sameStyle(a: AnsiSpan['style'], b: AnsiSpan['style']): boolean {
  return a?.color === b?.color && a?.backgroundColor === b?.backgroundColor;
}
