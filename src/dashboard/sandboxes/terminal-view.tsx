import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useSigned } from '../client-context.ts';
import { connectShell } from './shell-connection.ts';
import { onThemeChange, terminalTheme } from './terminal-theme.ts';

type ShellState =
  | { state: 'connecting' }
  | { state: 'open' }
  | { state: 'exited'; text: string }
  | { state: 'failed'; text: string };

/**
 * An interactive shell in the sandbox: xterm.js over the shell WebSocket. It fits its box (and
 * tells the shell the new size), takes the page's colours, passes every key through (Ctrl-C is
 * the byte 0x03 the shell's terminal turns into SIGINT), and says when the shell ends or fails,
 * with a button to open a new one.
 */
export function TerminalView(props: { sandbox: string }) {
  const { mags, token } = useSigned();
  const box = useRef<HTMLDivElement>(null);
  const [shell, setShell] = useState<ShellState>({ state: 'connecting' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    setShell({ state: 'connecting' });
    const terminal = new Terminal({
      theme: terminalTheme(),
      fontFamily: getComputedStyle(document.documentElement).getPropertyValue('--mono'),
      fontSize: 14,
      cursorBlink: true,
      scrollback: 5000,
    });
    const fit = new FitAddon();
    terminal.loadAddon(fit);
    terminal.open(element);
    fit.fit();
    let ended = false;
    const connection = connectShell(
      mags.sandboxes.shellUrl(props.sandbox, { rows: terminal.rows, cols: terminal.cols }),
      token,
      {
        onOpen: () => {
          setShell({ state: 'open' });
          connection.resize(terminal.rows, terminal.cols);
          terminal.focus();
        },
        onBytes: (bytes) => terminal.write(bytes),
        onControl: (message) => {
          ended = true;
          if (message.type === 'exit') {
            const how =
              message.signal !== null
                ? `killed by ${message.signal}`
                : `exited with code ${message.exitCode}`;
            setShell({ state: 'exited', text: `The shell ${how}.` });
          } else {
            setShell({ state: 'failed', text: message.message });
          }
        },
        onClose: (event) => {
          if (ended) return;
          setShell({
            state: 'failed',
            text:
              event.code === 1000
                ? 'The shell closed.'
                : `The connection closed (code ${event.code}${event.reason ? `: ${event.reason}` : ''}). The sandbox may be stopped or missing.`,
          });
        },
      },
    );
    const typed = terminal.onData((data) => connection.send(data));
    // Bytes that are not UTF-8 text (some mouse reports) come as a binary string.
    const binary = terminal.onBinary((data) =>
      connection.send(Uint8Array.from(data, (character) => character.charCodeAt(0) & 0xff)),
    );
    const resized = terminal.onResize(({ rows, cols }) => connection.resize(rows, cols));
    const observer = new ResizeObserver(() => fit.fit());
    observer.observe(element);
    const stopWatchingTheme = onThemeChange(() => {
      terminal.options.theme = terminalTheme();
    });
    return () => {
      stopWatchingTheme();
      observer.disconnect();
      typed.dispose();
      binary.dispose();
      resized.dispose();
      connection.close();
      terminal.dispose();
    };
  }, [props.sandbox, attempt]);

  return (
    <div class="terminal">
      <div class="terminal-status">
        <span role="status">
          {shell.state === 'connecting'
            ? 'Connecting…'
            : shell.state === 'open'
              ? 'Connected'
              : shell.text}
        </span>
        {shell.state === 'exited' || shell.state === 'failed' ? (
          <button type="button" class="quiet" onClick={() => setAttempt((value) => value + 1)}>
            Reconnect
          </button>
        ) : null}
      </div>
      <div class="terminal-box" ref={box} />
    </div>
  );
}
