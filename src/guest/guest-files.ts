import type { Readable } from 'node:stream';
import { MagsError } from '../errors/mags-error.ts';
import { CreditedReadable } from './credited-readable.ts';
import { fileErrorFromFrame } from './file-error.ts';
import { type GuestConnection, protocolError } from './guest-connection.ts';
import { FrameType, PayloadReader, PayloadWriter } from './protocol.ts';

/** Upload frames: big enough to be cheap, small enough to interleave with other requests. */
const uploadFrameBytes = 256 * 1024;
/** What `readFile` holds in memory at most unless told otherwise; larger files are streamed. */
const smallReadMaxBytes = 64 * 1024 * 1024;

/** A file being read: its size and mode when it was opened, and its bytes as they come. */
export interface GuestFileRead {
  sizeBytes: number;
  /** `st_mode`: type and permission bits. */
  mode: number;
  stream: Readable;
}

/** `GuestClient.writeFile`: an atomic upload, flow-controlled frame by frame. */
export async function writeGuestFile(
  connection: GuestConnection,
  path: string,
  data: Buffer | AsyncIterable<Buffer>,
  options: { mode?: number },
): Promise<void> {
  const header = new PayloadWriter()
    .u32(options.mode ?? 0o644)
    .string(path)
    .toBuffer();
  const id = connection.allocateId();
  let failed = false;
  const done = connection.request<void>(id, (frame, resolve, reject) => {
    if (frame.type === FrameType.ok) resolve();
    else if (frame.type === FrameType.error) {
      failed = true;
      reject(fileErrorFromFrame(frame));
    }
  });
  done.catch(() => {}); // observed below; this only keeps an early failure from going unhandled
  connection.send(FrameType.writeFile, id, header);
  try {
    for await (const chunk of Buffer.isBuffer(data) ? [data] : data) {
      for (let offset = 0; offset < chunk.length && !failed; offset += uploadFrameBytes) {
        await connection.sendAndDrain(
          FrameType.writeData,
          id,
          chunk.subarray(offset, offset + uploadFrameBytes),
        );
      }
      if (failed) break;
    }
  } catch (error) {
    // The source failed: abandon the upload (the agent deletes its temporary file).
    connection.forget(id);
    if (!failed && !connection.closeError) connection.send(FrameType.writeAbort, id);
    throw error;
  }
  if (!failed && !connection.closeError) connection.send(FrameType.writeEnd, id);
  await done;
}

/** `GuestClient.readFile`: a whole small file (64 MiB unless told otherwise). */
export async function readGuestFile(
  connection: GuestConnection,
  path: string,
  options: { maxBytes?: number },
): Promise<Buffer> {
  const { stream } = await readGuestFileStream(connection, path, {
    maxBytes: options.maxBytes ?? smallReadMaxBytes,
  });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `GuestClient.readFileStream`: a streamed, flow-controlled read of a regular file. */
export function readGuestFileStream(
  connection: GuestConnection,
  path: string,
  options: { maxBytes?: number },
): Promise<GuestFileRead> {
  const request = new PayloadWriter().string(path).toBuffer();
  const id = connection.allocateId();
  const channel = connection.channel(id);
  let open = true;
  // Ends the request on this side; the agent is told only when it has not ended it itself.
  const close = (cancel: boolean) => {
    if (!open) return;
    open = false;
    connection.forget(id);
    if (cancel) channel.send(FrameType.readAbort);
  };
  const stream = new CreditedReadable(
    (bytes) => {
      if (open) channel.send(FrameType.outputAck, new PayloadWriter().u32(bytes).u32(0).toBuffer());
    },
    () => close(true),
  );
  return new Promise((resolve, reject) => {
    let announced = false;
    const fail = (error: Error) => {
      close(false);
      if (announced) stream.destroy(error);
      else {
        stream.destroy();
        reject(error);
      }
    };
    if (connection.closeError) return fail(connection.closeError);
    connection.register(id, {
      onFrame: (frame) => {
        if (frame.type === FrameType.fileData) stream.deliver(frame.payload);
        else if (frame.type === FrameType.fileInfo) {
          const reader = new PayloadReader(frame.payload);
          const sizeBytes = reader.u64();
          const mode = reader.u32();
          if (options.maxBytes !== undefined && sizeBytes > options.maxBytes) {
            close(true);
            stream.destroy();
            return reject(fileTooLarge(path, sizeBytes, options.maxBytes));
          }
          announced = true;
          resolve({ sizeBytes, mode, stream });
        } else if (frame.type === FrameType.fileEnd) {
          if (!announced) return fail(protocolError('FILE_END before FILE_INFO'));
          close(false);
          stream.finish();
        } else if (frame.type === FrameType.error) fail(fileErrorFromFrame(frame));
      },
      onClose: fail,
    });
    connection.send(FrameType.readFile, id, request);
  });
}

function fileTooLarge(path: string, sizeBytes: number, maxBytes: number): MagsError {
  return new MagsError(`${path} is ${sizeBytes} bytes, over the ${maxBytes}-byte limit.`, {
    code: 'file_too_large',
    statusCode: 413,
    hint: 'Split it inside the sandbox (split -b 512M FILE) and read the parts, or ask for a higher limit (mags server --max-download-mib 4096).',
  });
}
