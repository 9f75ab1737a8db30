import { render } from 'preact';
import './styles.css';
import { App } from './app.tsx';
import { giveStylesTheNonce } from './style-nonce.ts';

giveStylesTheNonce();
const root = document.getElementById('app');
if (root) render(<App />, root);
