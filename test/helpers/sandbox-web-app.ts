/**
 * A small web app for `node` (CommonJS, no packages) that tests and `npm run bench url` run
 * inside a sandbox and on the host: `/bytes/N` streams N bytes; `/stream` sends `first\n` and
 * holds the answer open until `/release` is asked for; anything else answers JSON of what it
 * got (method, url, headers, body bytes), `/set-cookie` with a cookie for `Path=/` and
 * `Service-Worker-Allowed: /` too. An upgrade to WebSocket (RFC 6455, by hand: text
 * frames under 64 KiB) echoes each text message as `echo: MESSAGE`. It listens on `::` (every
 * address) at the port given as its first argument (0: a free one) and prints `listening PORT`.
 */
export const sandboxWebApp = String.raw`
const http = require('node:http');
const crypto = require('node:crypto');
let release;
const server = http.createServer((request, response) => {
  let received = 0;
  request.on('data', (chunk) => { received += chunk.length; });
  request.on('end', () => {
    const url = new URL(request.url, 'http://app');
    if (url.pathname === '/stream') {
      response.write('first\n');
      release = () => response.end('last\n');
      return;
    }
    if (url.pathname === '/release') {
      if (release) release();
      response.end('released');
      return;
    }
    const size = /^\/bytes\/(\d+)$/.exec(url.pathname);
    if (size) {
      let left = Number(size[1]);
      const chunk = Buffer.alloc(64 * 1024, 120);
      response.setHeader('content-length', left);
      const pump = () => {
        while (left > 0) {
          const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= part.length;
          if (!response.write(part)) return response.once('drain', pump);
        }
        response.end();
      };
      return pump();
    }
    if (url.pathname === '/set-cookie') {
      response.setHeader('set-cookie', 'session=1; Path=/; HttpOnly');
      response.setHeader('service-worker-allowed', '/');
    }
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ method: request.method, url: request.url, headers: request.headers, received }));
  });
});
server.on('upgrade', (request, socket) => {
  const accept = crypto.createHash('sha1')
    .update(request.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
    .digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept + '\r\n\r\n');
  let buffer = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    while (buffer.length >= 2) {
      const opcode = buffer[0] & 15;
      let length = buffer[1] & 127;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      }
      const masked = (buffer[1] & 128) !== 0;
      const mask = offset;
      if (masked) offset += 4;
      if (buffer.length < offset + length) return;
      const payload = Buffer.from(buffer.subarray(offset, offset + length));
      if (masked) for (let i = 0; i < length; i++) payload[i] ^= buffer[mask + (i % 4)];
      buffer = buffer.subarray(offset + length);
      if (opcode === 8) { socket.end(Buffer.from([0x88, 0])); return; }
      if (opcode === 1) {
        const reply = Buffer.from('echo: ' + payload.toString());
        const header = reply.length < 126 ? Buffer.from([0x81, reply.length]) : Buffer.from([0x81, 126, reply.length >> 8, reply.length & 255]);
        socket.write(Buffer.concat([header, reply]));
      }
    }
  });
  socket.on('error', () => {});
});
server.listen(Number(process.argv[2] ?? process.argv[1]), () => console.log('listening ' + server.address().port));
`;
