import { useEffect, useState } from 'preact/hooks';

type Theme = 'system' | 'dark' | 'light';
const themeKey = 'mags.theme';
const next: Record<Theme, Theme> = { system: 'dark', dark: 'light', light: 'system' };

/** Dark, light, or the system's choice (the default); remembered in this browser. */
export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(
    () => (localStorage.getItem(themeKey) as Theme | null) ?? 'system',
  );
  useEffect(() => {
    if (theme === 'system') {
      delete document.documentElement.dataset.theme;
      localStorage.removeItem(themeKey);
    } else {
      document.documentElement.dataset.theme = theme;
      localStorage.setItem(themeKey, theme);
    }
  }, [theme]);
  const shown = theme === 'system' ? 'Auto' : theme === 'dark' ? 'Dark' : 'Light';
  return (
    // The accessible name starts with the visible word (axe: label-content-name-mismatch).
    <button
      type="button"
      class="quiet"
      aria-label={`${shown} theme. Switch to ${next[theme]}.`}
      onClick={() => setTheme(next[theme])}
    >
      {shown}
    </button>
  );
}
