/** Dark, light, or the system's choice (the default); remembered in this browser. */
export type Theme = 'system' | 'dark' | 'light';
const themeKey = 'mags.theme';

export function storedTheme(): Theme {
  const stored = localStorage.getItem(themeKey);
  return stored === 'dark' || stored === 'light' ? stored : 'system';
}

/** Sets the theme on the document (and remembers it); main.tsx calls it before the first paint. */
export function applyTheme(theme: Theme): void {
  if (theme === 'system') {
    delete document.documentElement.dataset.theme;
    localStorage.removeItem(themeKey);
  } else {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem(themeKey, theme);
  }
}
