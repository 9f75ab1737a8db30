import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { encodeExec, encodeFrame, FrameDecoder, FrameType, maxPayloadBytes } from './protocol.ts';

test('the EXEC example in docs/guest-protocol.md is what the encoder produces', () => {
  const frame = encodeFrame(
    FrameType.exec,
    1,
    encodeExec({ argv: ['/bin/true'], env: {}, cwd: '/' }),
  );
  assert.equal(
    frame.toString('hex'),
    '0000002f0100000001000000000000000000000000000000012f00000001000000092f62696e2f747275650000000000000000',
  );
});

test('frames survive any split of the byte stream, and many frames in one chunk', () => {
  const payloads = [Buffer.alloc(0), randomBytes(1), randomBytes(65536), randomBytes(300_000)];
  const stream = Buffer.concat(
    payloads.map((payload, index) => encodeFrame(FrameType.stdout, index, payload)),
  );
  for (const chunkSize of [1, 3, 4096, 65536 + 9, stream.length]) {
    const decoder = new FrameDecoder();
    const frames = [];
    for (let offset = 0; offset < stream.length; offset += chunkSize) {
      frames.push(...decoder.push(stream.subarray(offset, offset + chunkSize)));
    }
    assert.equal(frames.length, payloads.length, `chunk size ${chunkSize}`);
    frames.forEach((frame, index) => {
      assert.equal(frame.type, FrameType.stdout);
      assert.equal(frame.id, index);
      assert.deepEqual(frame.payload, payloads[index]);
    });
  }
});

test('a malformed length is an error, not a hang or a giant allocation', () => {
  const tooShort = Buffer.from([0, 0, 0, 2, 1, 0]);
  assert.throws(() => new FrameDecoder().push(tooShort), /malformed frame length 2/);
  const tooLong = Buffer.alloc(9);
  tooLong.writeUInt32BE(maxPayloadBytes + 6, 0);
  assert.throws(() => new FrameDecoder().push(tooLong), /malformed frame length/);
  assert.throws(
    () => encodeFrame(FrameType.stdin, 1, Buffer.alloc(maxPayloadBytes + 1)),
    /over 1 MiB/,
  );
});

test('strings with NUL are refused before they reach the agent', () => {
  assert.throws(() => encodeExec({ argv: ['a\0b'], env: {}, cwd: '/' }), /NUL/);
});
