import { ConflictError } from '../../errors/mags-error.ts';
import type { Mags } from '../../sdk/mags.ts';

/**
 * Connects this terminal to a shell in the sandbox over the API's WebSocket: raw mode here (so
 * Ctrl-C, arrows and colours reach the sandbox's PTY), resizes forwarded. Returns the shell's
 * exit code.
 */
export async function openShell(mags: Mags, name: string): Promise<number> {
  // The WebSocket handshake cannot report why it was refused; a plain request can.
  const sandbox = await mags.sandboxes.get(name);
  if (sandbox.status !== 'running') {
    throw new ConflictError(`Sandbox ${JSON.stringify(name)} is stopped.`, {
      hint: `Start it again: mags start ${name}`,
    });
  }
  const size = () => ({ rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 });
  const url = mags.sandboxes.shellUrl(name, { ...size(), term: process.env.TERM || 'xterm' });
  // Node's WebSocket (undici) takes headers as a non-standard init member.
  const socket = new WebSocket(url, {
    headers: { authorization: mags.authorization ?? '' },
  } as unknown as string[]);
  socket.binaryType = 'arraybuffer';
  const stdin = process.stdin;
  const wasRaw = stdin.isTTY ? stdin.isRaw : false;
  let exitCode = 1;
  let ended = false;
  let opened = false;
  const forwardInput = (chunk: Buffer) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(new Uint8Array(chunk));
  };
  const onResize = () => socket.send(JSON.stringify({ type: 'resize', ...size() }));
  return new Promise<number>((resolve, reject) => {
    socket.addEventListener('open', () => {
      opened = true;
      if (stdin.isTTY) stdin.setRawMode(true);
      stdin.on('data', forwardInput);
      stdin.resume();
      process.stdout.on('resize', onResize);
    });
    socket.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') {
        process.stdout.write(new Uint8Array(event.data as ArrayBuffer));
        return;
      }
      const message = JSON.parse(event.data) as {
        type: string;
        exitCode?: number | null;
        message?: string;
      };
      if (message.type === 'error') {
        process.stderr.write(`\r\nmags: the shell failed: ${message.message}\n`);
        ended = true;
      }
      if (message.type === 'exit') {
        exitCode = message.exitCode ?? 129;
        ended = true;
      }
    });
    // Once open, a connection that breaks is reported by 'close' (which always follows).
    socket.addEventListener('error', () => {
      if (!opened)
        reject(new ConflictError(`The shell connection to ${name} failed.`, { hint: url }));
    });
    socket.addEventListener('close', () => {
      if (stdin.isTTY) stdin.setRawMode(wasRaw);
      stdin.off('data', forwardInput);
      stdin.pause();
      process.stdout.off('resize', onResize);
      if (!ended) {
        // The server went away (stopped, restarted, upgraded): a shell is not a durable command,
        // so it ended with the server's connection to the sandbox. The sandbox itself runs on.
        process.stderr.write(
          `\r\nmags: the connection to the server was lost (it stopped or restarted); the shell ended with it. Sandbox ${name} keeps running: mags shell ${name} opens a new one.\n`,
        );
        exitCode = 255;
      }
      resolve(exitCode);
    });
  });
}
