import { Duplex, PassThrough } from 'node:stream';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
// Not re-exported by the package's index; its constructor is how the handler gets its own streams.
import { WebSocketHandler } from '@kubernetes/client-node/dist/web-socket-handler.js';

/** A byte stream to a program run in a pod by the exec subresource, and what it said on stderr. */
export interface ExecStream {
  stream: Duplex;
  /** The end of the program's stderr (the agent's own messages), for errors. */
  stderrTail(): string;
  /** The exec's final status (exit code, or why the API ended it), once it has ended. */
  status(): V1Status | undefined;
}

/**
 * Runs `command` in a pod's container over the exec WebSocket (`v5.channel.k8s.io`, falling back
 * to `v4`: client-node negotiates) and joins its stdin and stdout into one Duplex, the guest
 * agent's byte stream (`mags-agent --connect`, a relay to the pod's agent). The handler gets its own streams: client-node's
 * default ones are the process's stdin/stdout, which a close-stream frame would end.
 */
export async function openExecStream(
  kubeConfig: KubeConfig,
  target: { namespace: string; pod: string; container: string },
  command: string[],
): Promise<ExecStream> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let tail = '';
  stderr.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  });
  let finalStatus: V1Status | undefined;
  const handler = new WebSocketHandler(kubeConfig, undefined, { stdin, stdout, stderr });
  const socket = await new Exec(kubeConfig, handler).exec(
    target.namespace,
    target.pod,
    target.container,
    command,
    stdout,
    stderr,
    stdin,
    false,
    (status) => {
      finalStatus = status;
    },
  );
  // A dropped connection sends no status frame: the agent's stream must still end.
  socket.on('close', () => {
    if (!stdout.writableEnded) stdout.end();
  });
  socket.on('error', (error: Error) => stdout.destroy(error));
  const stream = Duplex.from({ readable: stdout, writable: stdin });
  stream.on('close', () => socket.close());
  return { stream, stderrTail: () => tail.trim(), status: () => finalStatus };
}
