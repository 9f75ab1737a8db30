import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { useSigned } from '../client-context.ts';
import { connectShell, shellClosedText } from './shell-connection.ts';
import { onThemeChange, terminalTheme } from './terminal-theme.ts';

type ShellState =
  | { state: 'connecting' }
  | { state: 'open' }
  | { state: 'exited'; text: string }
  | { state: 'failed'; text: string };

/**
 * The key that takes focus out of the terminal: Ctrl+], telnet's escape key for fifty years (so
 * some hands know it), and one a shell barely needs (it sends 0x1D, bound only to bash's rarely
 * used character-search). Escape is vi's, Tab and Shift+Tab are completion's, and Alt+Shift+Tab
 * is taken by window managers. `key` covers layouts where ] needs AltGr (Ctrl+AltGr+9 on a
 * German keyboard); `code` covers layouts where that key prints something else.
 */
function isLeaveKey(event: KeyboardEvent): boolean {
  if (!event.ctrlKey || event.metaKey) return false;
  return event.key === ']' || (!event.altKey && event.code === 'BracketRight');
}

/**
 * An interactive shell in the sandbox: xterm.js over the shell WebSocket. It fits its box (and
 * tells the shell the new size), takes the page's colours, passes every key through (Ctrl-C is
 * the byte 0x03 the shell's terminal turns into SIGINT), and says when the shell ends or fails,
 * with a button to open a new one.
 *
 * Keyboard (WCAG 2.1.2, no keyboard trap): the terminal never takes focus by itself. The
 * "Type in the terminal" button before it (or a click on it) puts the keys into the shell, and
 * Ctrl+] brings focus back to that button, from where Tab and Shift+Tab go on through the page
 * both ways. xterm's own textarea is out of the Tab order: Tab would enter it from either side,
 * and then only Ctrl+] gets out again.
 */
export function TerminalView(props: { sandbox: string }) {
  const { mags, token } = useSigned();
  const enter = useRef<HTMLButtonElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const current = useRef<Terminal | null>(null);
  const hintId = useId();
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
      // Lifts a colour pair the program chose badly (white on blue in the light theme) to
      // readable contrast, as WCAG asks of text (4.5:1).
      minimumContrastRatio: 4.5,
    });
    const fit = new FitAddon();
    terminal.loadAddon(fit);
    terminal.open(element);
    current.current = terminal;
    // The rows fill the box to a whole row; below the last one xterm's viewport shows, black in
    // xterm.css whatever the theme: let the box's own --bg-sunken show there instead.
    element
      .querySelector<HTMLElement>('.xterm-viewport')
      ?.style.setProperty('background-color', 'transparent');
    if (terminal.textarea) {
      terminal.textarea.tabIndex = -1;
      terminal.textarea.setAttribute('aria-describedby', hintId);
    }
    terminal.attachCustomKeyEventHandler((event) => {
      if (!isLeaveKey(event)) return true;
      if (event.type === 'keydown') {
        event.preventDefault();
        enter.current?.focus();
      }
      return false; // neither the keydown nor its keyup reaches the shell
    });
    fit.fit();
    let ended = false;
    let opened = false;
    let disposed = false;
    const connection = connectShell(
      mags.sandboxes.shellUrl(props.sandbox, { rows: terminal.rows, cols: terminal.cols }),
      token,
      {
        onOpen: () => {
          opened = true;
          setShell({ state: 'open' });
          connection.resize(terminal.rows, terminal.cols);
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
        onClose: () => {
          if (!ended) setShell({ state: 'failed', text: shellClosedText(opened) });
        },
      },
    );
    const typed = terminal.onData((data) => connection.send(data));
    // Bytes that are not UTF-8 text (some mouse reports) come as a binary string.
    const binary = terminal.onBinary((data) =>
      connection.send(Uint8Array.from(data, (character) => character.charCodeAt(0) & 0xff)),
    );
    const resized = terminal.onResize(({ rows, cols }) => connection.resize(rows, cols));
    // Fit again once layout and fonts have settled: a fit measured with a fallback font's cells
    // leaves rows that the real font pushes past the box (the bottom one was cut). The
    // observer's first call comes after the first layout, then on every size change.
    const refit = () => {
      if (!disposed) fit.fit();
    };
    const observer = new ResizeObserver(refit);
    observer.observe(element);
    void document.fonts.ready.then(refit);
    const stopWatchingTheme = onThemeChange(() => {
      terminal.options.theme = terminalTheme();
    });
    return () => {
      disposed = true;
      current.current = null;
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
        <button
          type="button"
          class="quiet"
          ref={enter}
          aria-describedby={hintId}
          onClick={() => current.current?.focus()}
        >
          Type in the terminal
        </button>
        {shell.state === 'exited' || shell.state === 'failed' ? (
          <button
            type="button"
            class="quiet"
            onClick={() => {
              setAttempt((value) => value + 1);
              // This button goes away: focus stays by the terminal rather than at the page's top.
              enter.current?.focus();
            }}
          >
            Reconnect
          </button>
        ) : null}
      </div>
      <p id={hintId} class="muted terminal-hint">
        Keys go to the shell. Press <kbd>Ctrl</kbd>+<kbd>]</kbd> to leave the terminal.
      </p>
      <div class="terminal-box">
        {/* No padding here: the fit addon measures this box, padding included, as its space. */}
        <div ref={box} class="terminal-screen" />
      </div>
    </div>
  );
}
