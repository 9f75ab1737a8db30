import { render } from 'preact';
import './styles.css';
import { App } from './app.tsx';
import { applyTheme, storedTheme } from './components/theme.ts';
import { giveStylesTheNonce } from './style-nonce.ts';

// Before the first render: a stored dark theme must not flash light first.
applyTheme(storedTheme());
giveStylesTheNonce();
const root = document.getElementById('app');
if (root) render(<App />, root);
