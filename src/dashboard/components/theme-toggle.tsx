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
  return (
    <button
      type="button"
      class="quiet"
      title={`Switch to the ${next[theme] === 'system' ? "system's" : next[theme]} theme`}
      onClick={() => setTheme(next[theme])}
    >
      {theme === 'system' ? 'Theme: auto' : theme === 'dark' ? 'Theme: dark' : 'Theme: light'}
    </button>
  );
}
