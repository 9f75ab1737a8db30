import type { ITheme } from '@xterm/xterm';

/**
 * The terminal's colours from the page's CSS variables (styles.css), so it follows the dark or
 * light theme. The sixteen ANSI colours are picked per theme for contrast on its background:
 * xterm's defaults are made for a dark one (its white and yellow vanish on a light page).
 */
const darkPalette = {
  black: '#484f58',
  red: '#ff7b72',
  green: '#56d364',
  yellow: '#e3b341',
  blue: '#6cb4ff',
  magenta: '#d2a8ff',
  cyan: '#56d4dd',
  white: '#c9d1d9',
  brightBlack: '#6e7681',
  brightRed: '#ffa198',
  brightGreen: '#7ee787',
  brightYellow: '#f2cc60',
  brightBlue: '#a5d6ff',
  brightMagenta: '#e2c5ff',
  brightCyan: '#b3f0ff',
  brightWhite: '#f0f6fc',
};
const lightPalette = {
  black: '#24292f',
  red: '#c4302b',
  green: '#1a7f37',
  yellow: '#7d5600',
  blue: '#0b5cad',
  magenta: '#8250df',
  cyan: '#0e6f7a',
  white: '#6e7781',
  brightBlack: '#57606a',
  brightRed: '#a40e26',
  brightGreen: '#116329',
  brightYellow: '#633c01',
  brightBlue: '#0550ae',
  brightMagenta: '#6639ba',
  brightCyan: '#0b5560',
  brightWhite: '#8c959f',
};

export function terminalTheme(): ITheme {
  const colours = resolvedColours(['--bg-sunken', '--fg', '--border']);
  const background = colours['--bg-sunken'];
  return {
    ...(isDark(background) ? darkPalette : lightPalette),
    background,
    foreground: colours['--fg'],
    cursor: colours['--fg'],
    cursorAccent: background,
    selectionBackground: colours['--border'],
  };
}

/** Calls `onChange` when the page's theme changes: the toggle's attribute, or the system's. */
export function onThemeChange(onChange: () => void): () => void {
  const observer = new MutationObserver(onChange);
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
  const scheme = matchMedia('(prefers-color-scheme: dark)');
  scheme.addEventListener('change', onChange);
  return () => {
    observer.disconnect();
    scheme.removeEventListener('change', onChange);
  };
}

/**
 * The colours the page's variables hold now, as `#rrggbb`. A variable's own value is the text
 * the stylesheet wrote (`light-dark(#fff, #000)`): what it resolves to in this theme is read
 * from an element that uses it (set through CSSOM, which the CSP allows).
 */
function resolvedColours<Name extends string>(names: Name[]): Record<Name, string> {
  const probe = document.createElement('span');
  probe.hidden = true;
  document.body.append(probe);
  const colours = {} as Record<Name, string>;
  for (const name of names) {
    probe.style.color = `var(${name})`;
    colours[name] = hexColour(getComputedStyle(probe).color);
  }
  probe.remove();
  return colours;
}

/** `rgb(10, 12, 15)` as `#0a0c0f` (xterm's theme and `isDark` take hex). */
function hexColour(computed: string): string {
  const parts = /^rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(computed);
  if (!parts) return computed;
  return `#${parts
    .slice(1, 4)
    .map((part) => Number(part).toString(16).padStart(2, '0'))
    .join('')}`;
}

/** Whether a `#rrggbb` colour is dark (its relative luminance under one half). */
function isDark(colour: string): boolean {
  const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour);
  if (!match) return true;
  const [red, green, blue] = match.slice(1).map((hex) => Number.parseInt(hex, 16) / 255) as [
    number,
    number,
    number,
  ];
  return 0.2126 * red + 0.7152 * green + 0.0722 * blue < 0.5;
}
