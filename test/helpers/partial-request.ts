import { connect } from 'node:net';

const chunkBytes = 64 * 1024;

/**
 * Sends a request whose headers declare `declaredBytes` of JSON body and then at most
 * `sentBytes`, 64 KiB at a time, stopping once the server answers; returns the status line. An
 * answer proves the server did not wait for the rest of the body.
 */
export function partialRequest(
  url: string,
  request: { method: string; path: string; token: string },
  declaredBytes: number,
  sentBytes: number,
): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let answer = '';
    const statusLine = () =>
      answer.includes('\r\n') ? answer.slice(0, answer.indexOf('\r\n')) : undefined;
    const socket = connect(Number(port), hostname, () => {
      socket.write(
        `${request.method} ${request.path} HTTP/1.1\r\nhost: ${hostname}\r\n` +
          `authorization: Bearer ${request.token}\r\ncontent-type: application/json\r\n` +
          `content-length: ${declaredBytes}\r\n\r\n`,
      );
      let sent = 0;
      const next = () => {
        if (statusLine() !== undefined || socket.destroyed || sent >= sentBytes) return;
        const size = Math.min(chunkBytes, sentBytes - sent);
        sent += size;
        socket.write(Buffer.alloc(size, 0x20), (error) => {
          if (!error) next();
        });
      };
      next();
    });
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      const line = statusLine();
      if (line !== undefined) {
        socket.destroy();
        resolve(line);
      }
    });
    // A server that answers and closes before the body is all sent makes the next write fail
    // (EPIPE, ECONNRESET): the answer, if it came, is what counts.
    socket.on('error', (error) => {
      const line = statusLine();
      if (line === undefined) reject(error);
      else resolve(line);
    });
    socket.on('close', () => reject(new Error(`closed without an answer: ${answer}`)));
  });
}
