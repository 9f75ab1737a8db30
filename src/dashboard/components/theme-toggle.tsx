import { useState } from 'preact/hooks';
import { applyTheme, storedTheme, type Theme } from './theme.ts';

const next: Record<Theme, Theme> = { system: 'dark', dark: 'light', light: 'system' };

/** Dark, light, or the system's choice (the default); remembered in this browser. */
export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(storedTheme);
  // Applied in the click itself, not in an effect after the next paint: the page's colours
  // change in the same frame as the button's label.
  const choose = (chosen: Theme) => {
    applyTheme(chosen);
    setTheme(chosen);
  };
  return (
    <button
      type="button"
      class="quiet"
      title={`Switch to the ${next[theme] === 'system' ? "system's" : next[theme]} theme`}
      onClick={() => choose(next[theme])}
    >
      {theme === 'system' ? 'Theme: auto' : theme === 'dark' ? 'Theme: dark' : 'Theme: light'}
    </button>
  );
}
