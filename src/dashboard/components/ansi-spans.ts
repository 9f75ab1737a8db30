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

/** At most this many SGR parameters of one sequence are read (a real one has a dozen at most). */
const maxSgrParameters = 64;
/**
 * An unfinished escape kept for the next chunk is at most this long; a longer one is hostile or
 * garbage and is dropped up to its end instead (so no chunk is parsed again and again).
 */
const maxCarryLength = 4096;

type Rendered = Pick<AnsiSpan, 'classes' | 'style'>;

/** Looks made before: by the look's key and the SGR parameters applied to it (capped). */
const transitions = new Map<string, { look: Look; rendered: Rendered; key: string }>();
const maxTransitions = 1024;
const lookKey = (look: Look) =>
  `${look.foreground};${look.background};${+look.bold}${+look.dim}${+look.italic}${+look.underline}${+look.strikethrough}${+look.inverse}`;
interface Piece {
  text: string;
  look: Rendered;
}

/**
 * An incremental parser: terminal output is pushed in chunks as it arrives (a job's log, a
 * model's text deltas) and each chunk is parsed once, its look and an escape cut in two by the
 * chunk boundary carried to the next; `take…` hands out the spans parsed so far. Linear in the
 * output, whatever it holds: an SGR sequence is read up to `maxSgrParameters`, and a carriage
 * return drops the pieces of the current line without scanning the text before it.
 */
export class AnsiParser {
  #look = plainLook();
  #rendered: Rendered = render(this.#look);
  #lookKey = lookKey(this.#look);
  /** Text with its look, in order; from `#lineStart` on, the current line (`\r` rewrites it). */
  #pieces: Piece[] = [];
  #lineStart = 0;
  /** The unparsed end of the last chunk: an escape (or a `\r`) the next chunk may complete. */
  #carry = '';
  /** Inside a string sequence (OSC, DCS…) or an overlong CSI: dropped until its end. */
  #skipping: 'string' | 'csi' | undefined;

  /** Parses a chunk of output. */
  push(text: string): void {
    const input = this.#carry === '' ? text : this.#carry + text;
    this.#carry = '';
    this.#parse(input, false);
  }

  /** The output has ended: an unfinished escape shows nothing; a final `\r` clears its line. */
  end(): void {
    const carry = this.#carry;
    this.#carry = '';
    this.#parse(carry, true);
    this.#skipping = undefined;
  }

  /** The spans parsed so far, handed out once (what comes next starts with no pieces). */
  takeAll(): AnsiSpan[] {
    const spans = toSpans(this.#pieces);
    this.#pieces = [];
    this.#lineStart = 0;
    return spans;
  }

  /** The spans up to and including the last newline, handed out once: they never change. */
  takeLines(): AnsiSpan[] {
    const spans = toSpans(this.#pieces.slice(0, this.#lineStart));
    this.#pieces = this.#pieces.slice(this.#lineStart);
    this.#lineStart = 0;
    return spans;
  }

  /** The current line's spans after `takeLines` (a carriage return may still rewrite them). */
  openLine(): AnsiSpan[] {
    return toSpans(this.#pieces);
  }

  #parse(input: string, final: boolean): void {
    const length = input.length;
    let index = 0;
    while (index < length) {
      if (this.#skipping) {
        const end =
          this.#skipping === 'string' ? stringEnd(input, index) : csiSkipEnd(input, index);
        if (end === -1) {
          // A string's last `ESC` may begin its `ESC \` terminator in the next chunk.
          if (!final && this.#skipping === 'string' && input[length - 1] === escapeCharacter)
            this.#carry = escapeCharacter;
          return;
        }
        this.#skipping = undefined;
        index = end;
        continue;
      }
      let next = index;
      while (next < length && !isSpecial(input.charCodeAt(next))) next++;
      if (next > index) this.#text(input.slice(index, next));
      if (next === length) return;
      const after = this.#control(input, next, final);
      if (after === -1) {
        this.#carry = input.slice(next);
        return;
      }
      index = after;
    }
  }

  /** Applies an SGR sequence; a log repeats its few colours, so their looks are remembered. */
  #sgr(parameters: string): void {
    const key = `${this.#lookKey}\u0000${parameters}`;
    let next = parameters.length <= 64 ? transitions.get(key) : undefined;
    if (!next) {
      const look = applySgr(this.#look, parameters);
      next = { look, rendered: render(look), key: lookKey(look) };
      if (parameters.length <= 64) {
        if (transitions.size >= maxTransitions) transitions.clear();
        transitions.set(key, next);
      }
    }
    this.#look = next.look;
    this.#rendered = next.rendered;
    this.#lookKey = next.key;
  }

  #text(run: string): void {
    const newline = run.lastIndexOf('\n');
    if (newline === -1) {
      this.#pieces.push({ text: run, look: this.#rendered });
      return;
    }
    this.#pieces.push({ text: run.slice(0, newline + 1), look: this.#rendered });
    this.#lineStart = this.#pieces.length;
    if (newline + 1 < run.length) {
      this.#pieces.push({ text: run.slice(newline + 1), look: this.#rendered });
    }
  }

  /** Handles the control character at `at`: the index after it, or -1 to wait for more. */
  #control(input: string, at: number, final: boolean): number {
    const length = input.length;
    const character = input[at] as string;
    if (character === '\r') {
      if (at + 1 === length && !final) return -1; // a CRLF cut in two must stay a newline
      if (input[at + 1] === '\n') return at + 1;
      // A carriage return rewrites its line (progress bars): what the line held so far goes.
      this.#pieces.length = this.#lineStart;
      return at + 1;
    }
    if (c1Strings.has(character) || character === c1Osc) {
      this.#skipping = 'string';
      return at + 1;
    }
    if (character !== escapeCharacter && character !== c1Csi) return at + 1; // no text to show
    const next = character === escapeCharacter ? input[at + 1] : '[';
    if (next === undefined) return final ? length : -1;
    if (next === '[') {
      const start = at + (character === c1Csi ? 1 : 2);
      const end = csiEnd(input, start);
      if (end === -1) {
        if (final) return length; // an unfinished sequence at the end: nothing to show
        if (length - at <= maxCarryLength) return -1;
        this.#skipping = 'csi';
        return length;
      }
      if (input[end] === 'm') this.#sgr(input.slice(start, end));
      return end + 1;
    }
    if (next === ']' || next === 'P' || next === 'X' || next === '^' || next === '_') {
      // OSC (titles, OSC 8 links) and the other strings: dropped up to BEL or ST.
      this.#skipping = 'string';
      return at + 2;
    }
    // ESC, its intermediates (` `–`/`) and a final byte: charsets, keypad modes, save cursor.
    let cursor = at + 1;
    while (cursor < length && isIntermediate(input.charCodeAt(cursor))) cursor++;
    if (cursor === length) return final || length - at > maxCarryLength ? length : -1;
    return cursor + 1;
  }
}

/** The spans of `text`, adjacent ones with the same look merged. */
export function ansiSpans(text: string): AnsiSpan[] {
  const parser = new AnsiParser();
  parser.push(text);
  parser.end();
  return parser.takeAll();
}

/** Pieces as spans: adjacent ones with the same look joined (once, not piece by piece). */
function toSpans(pieces: Piece[]): AnsiSpan[] {
  const spans: AnsiSpan[] = [];
  let texts: string[] = [];
  let look: Rendered | undefined;
  const emit = () => {
    const text = texts.join('');
    if (look && text !== '') {
      spans.push({ text, classes: look.classes, ...(look.style && { style: look.style }) });
    }
  };
  for (const piece of pieces) {
    const same =
      look !== undefined &&
      (piece.look === look ||
        (piece.look.classes === look.classes && sameStyle(piece.look.style, look.style)));
    if (same) {
      texts.push(piece.text);
      continue;
    }
    emit();
    look = piece.look;
    texts = [piece.text];
  }
  emit();
  return spans;
}

/** Characters the parser stops at: control characters other than tab and newline, C1 codes. */
function isSpecial(code: number): boolean {
  if (code < 0x20) return code !== 0x09 && code !== 0x0a;
  return code >= 0x7f && code < 0xa0;
}

const isIntermediate = (code: number) => code >= 0x20 && code <= 0x2f;

/** The index of a CSI sequence's final byte (`@`–`~`) after its parameters, or -1. */
function csiEnd(text: string, start: number): number {
  for (let cursor = start; cursor < text.length; cursor++) {
    const code = text.charCodeAt(cursor);
    if (code >= 0x40 && code <= 0x7e) return cursor;
    if (code < 0x20 || code > 0x3f) return cursor; // not a CSI: dropped up to here
  }
  return -1;
}

/** After the rest of an overlong CSI (dropped): the index after its final byte, or -1. */
function csiSkipEnd(text: string, start: number): number {
  const end = csiEnd(text, start);
  return end === -1 ? -1 : end + 1;
}

/** Where a string sequence ends (after BEL or ST), or -1 when it goes on past this text. */
function stringEnd(text: string, start: number): number {
  for (let cursor = start; cursor < text.length; cursor++) {
    const character = text[cursor];
    if (character === bell || character === c1Terminator) return cursor + 1;
    if (character === escapeCharacter && text[cursor + 1] === '\\') return cursor + 2;
  }
  return -1;
}

/** The look after an SGR sequence's parameters (`1;31`, `38;5;208`, `38;2;255;0;0`, ``). */
function applySgr(previous: Look, parameters: string): Look {
  const look = { ...previous };
  const groups = sgrGroups(/^[<=>?]/.test(parameters) ? parameters.slice(1) : parameters);
  // The codes once per sequence: 38/48 read their colour's codes from them.
  const codes = groups.map(number);
  for (let index = 0; index < groups.length; index++) {
    const group = groups[index] as string;
    const code = codes[index] as number;
    if (code === 38 || code === 48) {
      let colour: Colour;
      if (group.includes(':')) {
        // ITU form `38:2:[colour space]:R:G:B` or `38:5:N`, all in one parameter.
        const parts = group.split(':', maxSgrParameters).map(number);
        const values =
          parts[1] === 2 && parts.length >= 6 ? [2, ...parts.slice(3)] : parts.slice(1);
        colour = extendedColour(values, 0)[0];
      } else {
        const [value, used] = extendedColour(codes, index + 1);
        colour = value;
        index += used;
      }
      if (code === 38) look.foreground = colour;
      else look.background = colour;
    } else applyCode(look, code);
  }
  return look;
}

/** A parameter's number (`38:5:1` is 38; empty is 0). */
const number = (part: string | undefined) => (part ? Number.parseInt(part, 10) : 0);

/** The first `maxSgrParameters` parameters (a hostile sequence may have a million). */
function sgrGroups(parameters: string): string[] {
  const groups: string[] = [];
  let start = 0;
  while (groups.length < maxSgrParameters) {
    const semicolon = parameters.indexOf(';', start);
    if (semicolon === -1) {
      groups.push(parameters.slice(start));
      break;
    }
    groups.push(parameters.slice(start, semicolon));
    start = semicolon + 1;
  }
  return groups;
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
