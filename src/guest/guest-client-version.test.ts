/**
 * Which agents a host talks to (their HELLO's protocol version): the current one, and version 2
 * (a sandbox started before an upgrade), to which it sends no FORGET; any other is refused.
 */
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { test } from 'node:test';
import { GuestClient } from './guest-client.ts';
import { encodeFrame, FrameType, protocolVersion } from './protocol.ts';

/** A stream standing for an agent that says HELLO with `version`; records what the host sends. */
function agentSaying(version: number): { stream: Duplex; sent: Buffer[] } {
  const sent: Buffer[] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      sent.push(chunk);
      callback();
    },
  });
  const hello = Buffer.alloc(8);
  hello.writeUInt32BE(version, 0);
  hello.writeUInt32BE(1, 4);
  setImmediate(() => stream.push(encodeFrame(FrameType.hello, 0, hello)));
  return { stream, sent };
}

test('a version 2 agent is accepted, and FORGET is not sent to it', async () => {
  const { stream, sent } = agentSaying(2);
  const client = await GuestClient.connect(stream);
  assert.equal(client.agentProtocolVersion, 2);
  assert.equal(await client.forget('job-1'), false);
  assert.deepEqual(sent, [], 'nothing was sent');
  client.close();
});

test('the current version is accepted; a newer or older one is refused', async () => {
  const current = await GuestClient.connect(agentSaying(protocolVersion).stream);
  assert.equal(current.agentProtocolVersion, protocolVersion);
  current.close();
  for (const version of [1, protocolVersion + 1]) {
    await assert.rejects(GuestClient.connect(agentSaying(version).stream), {
      code: 'guest_protocol',
    });
  }
});

test('a version 3 agent is accepted, and cannot open a port (409 agent_too_old, nothing sent)', async () => {
  const { stream, sent } = agentSaying(3);
  const client = await GuestClient.connect(stream);
  await assert.rejects(client.openPort(8080), { code: 'agent_too_old', statusCode: 409 });
  assert.deepEqual(sent, [], 'nothing was sent');
  client.close();
});
