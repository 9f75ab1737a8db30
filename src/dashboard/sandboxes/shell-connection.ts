import { webSocketProtocols } from '../../api/websocket-protocols.ts';

/** What the shell's server says in its text frames (src/server/routes/sandbox-routes.ts). */
export type ShellControl =
  | { type: 'exit'; exitCode: number | null; signal: string | null }
  | { type: 'error'; message: string };

export interface ShellHandlers {
  onOpen: () => void;
  onBytes: (bytes: Uint8Array) => void;
  onControl: (message: ShellControl) => void;
  /** The socket closed (after an exit or error message, or by itself). */
  onClose: (event: CloseEvent) => void;
}

/**
 * The sandbox's interactive shell over its WebSocket: binary frames are terminal bytes both
 * ways, text frames JSON control messages. The token goes as a subprotocol, never in the URL.
 */
export function connectShell(
  url: string,
  token: string,
  handlers: ShellHandlers,
): {
  send: (data: string | Uint8Array) => void;
  resize: (rows: number, cols: number) => void;
  close: () => void;
} {
  const socket = new WebSocket(url, webSocketProtocols(token));
  socket.binaryType = 'arraybuffer';
  const encoder = new TextEncoder();
  socket.onopen = handlers.onOpen;
  socket.onmessage = (event: MessageEvent<ArrayBuffer | string>) => {
    if (typeof event.data !== 'string') {
      handlers.onBytes(new Uint8Array(event.data));
      return;
    }
    let message: ShellControl;
    try {
      message = JSON.parse(event.data) as ShellControl;
    } catch {
      return; // Not JSON: nothing the protocol defines; ignored like an unknown control message.
    }
    if (message.type === 'error' && typeof message.message === 'string') {
      // The server sends String(error): "MagsError: …" names a class the person never sees.
      message = { ...message, message: message.message.replace(/^[A-Za-z]*Error: /, '') };
    }
    handlers.onControl(message);
  };
  socket.onclose = handlers.onClose;
  const open = () => socket.readyState === WebSocket.OPEN;
  return {
    send: (data) => {
      if (open()) socket.send(typeof data === 'string' ? encoder.encode(data) : data);
    },
    resize: (rows, cols) => {
      if (open()) socket.send(JSON.stringify({ type: 'resize', rows, cols }));
    },
    close: () => socket.close(1000, 'closed by the page'),
  };
}

/**
 * What to say when the socket closed without the server's exit or error message: the server
 * went away or the network dropped (an ended shell and a failed one always say so first). Told
 * from the person's side, with what to do.
 */
export function shellClosedText(opened: boolean): string {
  return opened
    ? 'The connection to the server closed (the server stopped or the network dropped). Reconnect when it is back.'
    : 'Could not connect to the shell: the server is unreachable, or the sandbox was stopped or deleted. Reconnect to try again.';
}
