import type { ITheme } from '@xterm/xterm';
import { paletteNames } from '../components/ansi-spans.ts';

/**
 * The terminal's colours from the page's CSS variables (styles.css), so it follows the dark or
 * light theme. The sixteen ANSI colours are the `--ansi-*` variables the job logs use
 * (components/ansi-spans.ts), so the same output has the same colours in a log and here; the
 * stylesheet picks them per theme for contrast on `--bg-sunken` (xterm's defaults are made for
 * a dark background: their white and yellow vanish on a light page).
 */
export function terminalTheme(): ITheme {
  const ansi = paletteNames.map((name) => `--ansi-${name}`);
  const colours = resolvedColours(['--bg-sunken', '--fg', '--border', ...ansi]);
  const background = colours['--bg-sunken'] as string;
  const theme: ITheme = {
    background,
    foreground: colours['--fg'],
    cursor: colours['--fg'],
    cursorAccent: background,
    selectionBackground: colours['--border'],
  };
  for (const name of paletteNames) {
    const value = colours[`--ansi-${name}`];
    // 'bright-black' → brightBlack; a missing variable keeps xterm's own colour.
    const key = name.replace(/-(\w)/g, (_, letter: string) => letter.toUpperCase());
    if (value) (theme as Record<string, string>)[key] = value;
  }
  return theme;
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
 * from an element that uses it (set through CSSOM, which the CSP allows). A variable the
 * stylesheet does not define is left out.
 */
function resolvedColours(names: string[]): Record<string, string | undefined> {
  const probe = document.createElement('span');
  probe.hidden = true;
  document.body.append(probe);
  const root = getComputedStyle(document.documentElement);
  const colours: Record<string, string | undefined> = {};
  for (const name of names) {
    if (!root.getPropertyValue(name).trim()) continue;
    probe.style.color = `var(${name})`;
    colours[name] = hexColour(getComputedStyle(probe).color);
  }
  probe.remove();
  return colours;
}

/** `rgb(10, 12, 15)` as `#0a0c0f` (xterm's theme takes hex). */
function hexColour(computed: string): string {
  const parts = /^rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(computed);
  if (!parts) return computed;
  return `#${parts
    .slice(1, 4)
    .map((part) => Number(part).toString(16).padStart(2, '0'))
    .join('')}`;
}
