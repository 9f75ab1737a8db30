/**
 * The file tools' edge cases, through the SDK's own MCP client (in-memory transport) and a real
 * `mags server` with a real sandbox: strict inputs, honest line ranges, and file_edit keeping
 * every byte it does not replace, following symlinks, keeping modes and never overwriting a
 * change made while it worked.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { createMcpServer } from '../src/mcp/create-mcp-server.ts';
import { editSandboxFile } from '../src/mcp/edit-sandbox-file.ts';
import { maxContentCharacters } from '../src/mcp/file-tools.ts';
import { maxScanBytes } from '../src/mcp/read-sandbox-text.ts';
import { Mags } from '../src/sdk/mags.ts';
import { callTool, toolText } from './helpers/mcp-clients.ts';
import { waitUntil } from './helpers/server-process.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

type Structured = Record<string, unknown>;

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping the MCP file tool tests: ${skip}\n`);

describe('MCP file tools', { skip }, () => {
  let server: TestServer;
  let mags: Mags;
  let token: string;
  let client: Client;
  const sandbox = `mcp-files-${randomBytes(3).toString('hex')}`;

  const call = (tool: string, args: Record<string, unknown>) =>
    callTool(client, tool, args, 120_000);
  const succeed = async (tool: string, args: Record<string, unknown>) => {
    const result = await call(tool, args);
    assert.notEqual(result.isError, true, `${tool} failed: ${toolText(result)}`);
    return { structured: result.structuredContent as Structured, text: toolText(result) };
  };
  const fail = async (tool: string, args: Record<string, unknown>) => {
    const result = await call(tool, args);
    assert.equal(result.isError, true, `${tool} should have failed: ${toolText(result)}`);
    return toolText(result);
  };
  const sh = async (command: string) => {
    const done = await mags.sandboxes.execAndWait(sandbox, ['sh', '-c', command]);
    assert.equal(done.exitCode, 0, `${command}: ${done.stderr}`);
    return done.stdout;
  };
  const bytesOf = async (path: string) =>
    Buffer.from(await mags.sandboxes.files.read(sandbox, path));

  before(async () => {
    server = await startTestServer();
    ({ mags, token } = await server.client('alice'));
    const mcpServer = createMcpServer(mags);
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    await mcpServer.connect(serverTransport);
    client = new Client({ name: 'mags-file-tools-test', version: '1.0.0' });
    await client.connect(clientTransport);
    await mags.sandboxes.create({ name: sandbox });
  });
  after(async () => {
    await mags?.sandboxes.delete(sandbox).catch(() => {});
    await client?.close();
    await server?.close();
  });

  test('unknown arguments and an end line before the start line are tool errors', async () => {
    await mags.sandboxes.files.write(sandbox, '/workspace/abc.txt', 'a\nb\nc\n');
    const unknown = await fail('file_read', {
      sandbox,
      path: '/workspace/abc.txt',
      offset: 2,
      limit: 1,
    });
    assert.match(unknown, /offset/);
    assert.match(
      await fail('file_write', { sandbox, path: '/workspace/x', content: 'x', encoding: 'b64' }),
      /encoding/,
    );
    const backwards = await fail('file_read', {
      sandbox,
      path: '/workspace/abc.txt',
      startLine: 3,
      endLine: 2,
    });
    assert.match(backwards, /endLine must not be before startLine/);
    const { tools } = await client.listTools();
    for (const name of ['file_read', 'file_write', 'file_edit', 'file_list']) {
      const tool = tools.find((each) => each.name === name);
      assert.equal(tool?.inputSchema.additionalProperties, false, `${name} is strict`);
    }
    const list = tools.find((each) => each.name === 'file_list');
    assert.match(
      String((list?.inputSchema.properties?.path as { description?: string })?.description),
      /e\.g\. \/workspace\/src\./,
    );
  });

  test('line ranges count lines as the file has them and say when the scan stopped', async () => {
    const whole = await succeed('file_read', { sandbox, path: '/workspace/abc.txt', startLine: 1 });
    assert.equal(whole.structured.content, 'a\nb\nc');
    assert.match(whole.text, /lines 1-3\./);
    const past = await succeed('file_read', { sandbox, path: '/workspace/abc.txt', startLine: 4 });
    assert.match(past.text, /3 lines; no line 4\./);
    await sh('seq 1 100000 > /workspace/seq.txt');
    const last = await succeed('file_read', {
      sandbox,
      path: '/workspace/seq.txt',
      startLine: 99_999,
      endLine: 100_001,
    });
    assert.equal(last.structured.content, '99999\n100000');
    assert.equal(last.structured.endLine, 100_000);
    // 2,000,000 lines of 7 bytes: 14 MB, line 1,900,000 is past the scan limit.
    await sh("seq 1000001 3000000 | sed 's/^/x/' > /workspace/big.txt");
    const deep = await succeed('file_read', {
      sandbox,
      path: '/workspace/big.txt',
      startLine: 1_900_000,
      endLine: 1_900_001,
    });
    assert.equal(deep.structured.content, '');
    assert.match(deep.text, new RegExp(`not in the first ${maxScanBytes} bytes`));
    assert.match(deep.text, /sed -n '1900000,1900001p' \/workspace\/big\.txt/);
    assert.doesNotMatch(deep.text, /no line/);
  });

  test('file_write takes content up to 1 MiB characters and refuses more as a tool error', async () => {
    const path = '/workspace/large.txt';
    const written = await succeed('file_write', {
      sandbox,
      path,
      content: 'z'.repeat(maxContentCharacters),
    });
    assert.equal(written.structured.sizeBytes, maxContentCharacters);
    const over = await fail('file_write', {
      sandbox,
      path,
      content: 'y'.repeat(maxContentCharacters + 1),
    });
    assert.match(over, /content/);
    assert.equal((await bytesOf(path)).length, maxContentCharacters, 'the file is unchanged');
  });

  test('file_edit keeps a byte-order mark, refuses a file that is not UTF-8, matches CRLF lines', async () => {
    const bom = '/workspace/bom.txt';
    await mags.sandboxes.files.write(
      sandbox,
      bom,
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('name = old\n')]),
    );
    await succeed('file_edit', { sandbox, path: bom, oldString: 'old', newString: 'new' });
    assert.deepEqual(
      await bytesOf(bom),
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('name = new\n')]),
    );

    const latin1 = '/workspace/latin1.txt';
    const original = Buffer.concat([Buffer.from('a'.repeat(9000)), Buffer.from([0xe9, 0x0a])]);
    await mags.sandboxes.files.write(sandbox, latin1, original);
    const refused = await fail('file_edit', {
      sandbox,
      path: latin1,
      oldString: 'aaa',
      newString: 'b',
      replaceAll: true,
    });
    assert.match(refused, /binary_file: .*not UTF-8/);
    assert.deepEqual(await bytesOf(latin1), original, 'nothing was changed');

    const crlf = '/workspace/crlf.txt';
    await mags.sandboxes.files.write(sandbox, crlf, 'one\r\ntwo\r\nthree\r\n');
    const edited = await succeed('file_edit', {
      sandbox,
      path: crlf,
      oldString: 'one\ntwo\n',
      newString: 'ONE\nTWO\n',
    });
    assert.equal(edited.structured.lineEndsConverted, true);
    assert.equal((await bytesOf(crlf)).toString(), 'ONE\r\nTWO\r\nthree\r\n');
  });

  test('file_edit names the lines of several matches and reports the lines it replaced', async () => {
    const path = '/workspace/lines.txt';
    await mags.sandboxes.files.write(sandbox, path, 'x\nbeta\ny\nbeta\n');
    assert.match(
      await fail('file_edit', { sandbox, path, oldString: 'beta', newString: 'B' }),
      /several_matches: oldString occurs 2 times .* \(at lines 2, 4\)/,
    );
    const all = await succeed('file_edit', {
      sandbox,
      path,
      oldString: 'beta',
      newString: 'B',
      replaceAll: true,
    });
    assert.deepEqual(all.structured.lines, [2, 4]);
    assert.match(String(all.structured.summary), /Replaced 2 occurrence\(s\) .* line\(s\) 2, 4/);
  });

  test('a replaceAll that would make the file too large is refused before anything is built', async () => {
    const path = '/workspace/many-a.txt';
    await mags.sandboxes.files.write(sandbox, path, 'a'.repeat(100_000));
    const refused = await fail('file_edit', {
      sandbox,
      path,
      oldString: 'a',
      newString: 'é'.repeat(100),
      replaceAll: true,
    });
    assert.match(refused, /too_large: The edit would make .* 20000000 bytes/);
    assert.equal((await bytesOf(path)).length, 100_000);
  });

  test('file_edit through a symlink edits the file it leads to, which keeps its mode', async () => {
    await sh(
      'mkdir -p /workspace/etc && printf "port=1\\n" > /workspace/etc/real.conf && chmod 600 /workspace/etc/real.conf && ln -s real.conf /workspace/etc/link.conf',
    );
    const edited = await succeed('file_edit', {
      sandbox,
      path: '/workspace/etc/link.conf',
      oldString: 'port=1',
      newString: 'port=2',
    });
    assert.equal(edited.structured.writtenPath, '/workspace/etc/real.conf');
    const after = await sh(
      'stat -c "%F %a" /workspace/etc/link.conf /workspace/etc/real.conf; cat /workspace/etc/real.conf',
    );
    assert.equal(after, 'symbolic link 777\nregular file 600\nport=2\n');
  });

  test('file_edit follows a symlink as the kernel does: `..` after a symlinked directory', async () => {
    // /workspace/up/f -> ../target.txt, with up -> real/sub: the kernel reaches
    // /workspace/real/target.txt; read lexically it would be /workspace/target.txt, a copy.
    await sh(
      'mkdir -p /workspace/real/sub && printf "k=1\\n" > /workspace/real/target.txt && chmod 640 /workspace/real/target.txt && printf "k=1\\n" > /workspace/target.txt && ln -s real/sub /workspace/up && ln -s ../target.txt /workspace/real/sub/f',
    );
    const edited = await succeed('file_edit', {
      sandbox,
      path: '/workspace/up/f',
      oldString: 'k=1',
      newString: 'k=2',
    });
    assert.equal(edited.structured.writtenPath, '/workspace/real/target.txt');
    assert.equal(
      await sh(
        'stat -c %a /workspace/real/target.txt; cat /workspace/real/target.txt /workspace/target.txt',
      ),
      '640\nk=2\nk=1\n',
      'the file the link leads to changed (keeping its mode); the copy did not',
    );
  });

  test('a cancelled file_read aborts its read of the sandbox file', async () => {
    const path = '/workspace/cancelled-scan.txt';
    await sh(`head -c ${maxScanBytes} /dev/zero | tr '\\0' 'x' > ${path}`);
    const cancel = new AbortController();
    let sawRead = false;
    let readSignal: AbortSignal | null | undefined;
    // A client whose fetch notes the signal of the file read and cancels the call as it starts.
    const noting = new Mags({
      url: server.url,
      token,
      fetch: async (input, init) => {
        if (String(input).includes('/files?')) {
          sawRead = true;
          readSignal = init?.signal;
          cancel.abort();
        }
        return fetch(input, init);
      },
    });
    const mcpServer = createMcpServer(noting);
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    await mcpServer.connect(serverTransport);
    const cancelling = new Client({ name: 'mags-file-cancel-test', version: '1.0.0' });
    await cancelling.connect(clientTransport);
    try {
      await assert.rejects(
        cancelling.callTool(
          { name: 'file_read', arguments: { sandbox, path, startLine: 5, endLine: 6 } },
          undefined,
          { signal: cancel.signal },
        ),
      );
      assert.ok(sawRead, 'the call started reading the file before it was cancelled');
      assert.ok(readSignal, "the file read got the tool call's signal");
      await waitUntil(async () => readSignal?.aborted === true, 10_000);
    } finally {
      await cancelling.close();
      await mcpServer.close();
    }
  });

  test('file_edit keeps the mode of a file a directory listing leaves out (over 10,000 entries)', async () => {
    await sh(
      'mkdir -p /workspace/crowd && cd /workspace/crowd && seq -f "f%05g" 1 10001 | xargs touch && printf "v=1\\n" > zz-last.sh && chmod 750 zz-last.sh',
    );
    await succeed('file_edit', {
      sandbox,
      path: '/workspace/crowd/zz-last.sh',
      oldString: 'v=1',
      newString: 'v=2',
    });
    assert.equal(await sh('stat -c %a /workspace/crowd/zz-last.sh'), '750\n');
  });

  test('file_edit writes nothing when the file changes while the edit is made', async () => {
    const path = '/workspace/race.txt';
    await mags.sandboxes.files.write(sandbox, path, 'value=1\n');
    // A second real client whose listing (made between reading the file and writing it) lets
    // another writer change the file first: the edit must not overwrite that change.
    const racing = new Mags({ url: server.url, token });
    const list = racing.sandboxes.files.list;
    racing.sandboxes.files.list = async (name, directory) => {
      await mags.sandboxes.files.write(sandbox, path, 'value=1\nadded=yes\n');
      return list(name, directory);
    };
    await assert.rejects(
      editSandboxFile(racing, { sandbox, path, oldString: 'value=1', newString: 'value=2' }),
      (error: Error & { code?: string }) => error.code === 'file_changed',
    );
    assert.equal((await bytesOf(path)).toString(), 'value=1\nadded=yes\n');
  });
});
