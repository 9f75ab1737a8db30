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
  const forwardInput = (chunk: Buffer) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(new Uint8Array(chunk));
  };
  const onResize = () => socket.send(JSON.stringify({ type: 'resize', ...size() }));
  return new Promise<number>((resolve, reject) => {
    socket.addEventListener('open', () => {
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
      const message = JSON.parse(event.data) as { type: string; exitCode?: number | null };
      if (message.type === 'exit') exitCode = message.exitCode ?? 129;
    });
    socket.addEventListener('error', () =>
      reject(new ConflictError(`The shell connection to ${name} failed.`, { hint: url })),
    );
    socket.addEventListener('close', () => {
      if (stdin.isTTY) stdin.setRawMode(wasRaw);
      stdin.off('data', forwardInput);
      stdin.pause();
      process.stdout.off('resize', onResize);
      resolve(exitCode);
    });
  });
}
