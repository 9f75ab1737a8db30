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
  const style = getComputedStyle(document.documentElement);
  const variable = (name: string) => style.getPropertyValue(name).trim();
  const background = variable('--bg-sunken');
  const theme: ITheme = {
    background,
    foreground: variable('--fg'),
    cursor: variable('--fg'),
    cursorAccent: background,
    selectionBackground: variable('--border'),
  };
  for (const name of paletteNames) {
    const value = variable(`--ansi-${name}`);
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
