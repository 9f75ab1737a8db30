import type { GuestConnection } from './guest-connection.ts';
import { protocolError } from './guest-connection.ts';
import {
  ExecHandle,
  GuestError,
  type GuestExecInfo,
  type GuestExecRequest,
  type GuestProcess,
  type GuestResumePoint,
  signalName,
} from './guest-process.ts';
import {
  encodeExec,
  exitCodeSignaled,
  type Frame,
  FrameType,
  PayloadReader,
  PayloadWriter,
} from './protocol.ts';

/** A durable exec picked up again on a new connection. */
export interface ResumedGuestProcess extends GuestProcess {
  /** Where the replay starts; rejects like `exited` when the agent refused the RESUME. */
  readonly resumed: Promise<GuestResumePoint>;
}

/** `GuestClient.exec`: starts a command; a start failure rejects `exited`. */
export function startExec(connection: GuestConnection, request: GuestExecRequest): GuestProcess {
  const payload = encodeExec(request); // validates (NUL bytes, empty argv) before using an id
  const id = connection.allocateId();
  const handle = new ExecHandle(connection.channel(id), request, () => connection.forget(id));
  if (connection.closeError) {
    handle.onClose(connection.closeError);
    return handle;
  }
  connection.register(id, handle);
  connection.send(FrameType.exec, id, payload);
  return handle;
}

/** `GuestClient.resume`: RESUME of a durable exec from the caller's offsets. */
export function resumeExec(
  connection: GuestConnection,
  key: string,
  offsets: { stdoutOffset?: number; stderrOffset?: number },
  options: { tty?: boolean },
): ResumedGuestProcess {
  const payload = new PayloadWriter()
    .string(key)
    .u64(offsets.stdoutOffset ?? 0)
    .u64(offsets.stderrOffset ?? 0)
    .toBuffer();
  const id = connection.allocateId();
  const request = {
    argv: ['(resumed)'],
    env: {},
    cwd: '/',
    ...(options.tty ? { tty: { rows: 0, cols: 0 } } : {}),
  };
  const handle = new ExecHandle(connection.channel(id), request, () => connection.forget(id));
  const resumed = Promise.race([
    handle.resumed,
    handle.exited.then(() => {
      throw protocolError('EXIT before RESUMED');
    }),
  ]);
  resumed.catch(() => {});
  if (connection.closeError) {
    handle.onClose(connection.closeError);
  } else {
    connection.register(id, handle);
    connection.send(FrameType.resume, id, payload);
  }
  return Object.assign(handle, { resumed });
}

/** `GuestClient.listExecs`: the durable execs the agent holds, running or ended. */
export async function listExecs(connection: GuestConnection): Promise<GuestExecInfo[]> {
  const id = connection.allocateId();
  const done = connection.request<Frame>(id, (frame, resolve) => {
    if (frame.type === FrameType.execs) resolve(frame);
  });
  connection.send(FrameType.listExecs, id);
  const reader = new PayloadReader((await done).payload);
  const count = reader.u32();
  const execs: GuestExecInfo[] = [];
  for (let index = 0; index < count; index++) {
    const key = reader.string();
    const pid = reader.u32();
    const flags = reader.u32();
    const code = reader.u32();
    const signal = reader.u32();
    const exited = (flags & 1) !== 0;
    execs.push({
      key,
      pid,
      exited,
      attached: (flags & 2) !== 0,
      exitCode: exited && code !== exitCodeSignaled ? code : null,
      signal: signal ? signalName(signal) : null,
      stdoutBytes: reader.u64(),
      stderrBytes: reader.u64(),
    });
  }
  return execs;
}

/**
 * `GuestClient.forget`: releases a durable exec the agent keeps for a host that will never
 * resume it (FORGET). True when released, false when the agent does not know the key or, of
 * protocol version 2, cannot forget; rejects with a GuestError (errno 16) when an open
 * connection holds it.
 */
export async function forgetExec(connection: GuestConnection, key: string): Promise<boolean> {
  if (connection.agentProtocolVersion < 3) return false;
  const payload = new PayloadWriter().string(key).toBuffer();
  const id = connection.allocateId();
  const done = connection.request<boolean>(id, (frame, resolve, reject) => {
    if (frame.type === FrameType.ok) resolve(true);
    else if (frame.type === FrameType.error) {
      const error = GuestError.fromFrame(frame);
      if (error.errno === 2) resolve(false);
      else reject(error);
    }
  });
  connection.send(FrameType.forget, id, payload);
  return done;
}
