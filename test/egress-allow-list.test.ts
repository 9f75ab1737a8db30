/**
 * Egress allow-lists, end to end, with no traffic to outside addresses: the sandboxes start in a
 * network and mount namespace of the test's own (fixtures/egress/egress-network.ts, under
 * `unshare --net --mount`), where TEST-NET addresses hold an allowed and a blocked HTTP server,
 * a DNS server answers allowed.test and blocked.test, and /etc/resolv.conf names it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestHome, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

function egressSkipReason(): string | undefined {
  const reason = sandboxSkipReason();
  if (reason) return reason;
  for (const program of ['nft', 'slirp4netns', 'unshare', 'ip']) {
    if (spawnSync('sh', ['-c', `command -v ${program}`]).status !== 0) {
      return `${program} is not installed (apt-get install nftables slirp4netns util-linux iproute2)`;
    }
  }
  return undefined;
}

const skip = egressSkipReason();
if (skip) process.stdout.write(`# skipping the egress allow-list tests: ${skip}\n`);

const fixture = join(import.meta.dirname, 'fixtures', 'egress', 'egress-network.ts');

/** Runs the fixture in a network and mount namespace of its own; its one JSON line. */
export async function runEgressFixture(
  runtime: 'namespace' | 'qemu',
  home: string,
): Promise<Record<string, unknown>> {
  const child = spawn('unshare', ['--net', '--mount', process.execPath, fixture, runtime, home], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, `the fixture exited with ${code}`);
  const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
  assert.equal(report.error, undefined, String(report.error));
  return report;
}

describe('egress allow-list (namespace runtime)', { skip }, () => {
  let home: TestHome;
  let report: Record<string, unknown>;
  before(async () => {
    home = await createTestHome();
    report = await runEgressFixture('namespace', home.home);
  });
  after(() => home?.cleanup());

  test('an allowed host answers through its name, then its IP; a CNAME chain is followed', () => {
    assert.equal(report.byName, 'ok 200 allowed-8080');
    assert.equal(report.byIp, 'ok 200 allowed-8080');
    assert.equal(report.cname, 'ok 200 target-8080');
    // An address is opened by a lookup of an allowed name, not before.
    assert.equal(report.ipBeforeLookup, 'error ECONNREFUSED');
  });

  test("a looked-up address stays open for its record's TTL, at least an hour", () => {
    // The test's DNS server gives a TTL of 60 s: raised to the hour's floor.
    assert.match(String(report.learnt), /192\.0\.2\.10 \. 8080 timeout 1h expires/);
    assert.match(String(report.learnt), /size 65536/);
  });

  test('a host allowed on port 8080 is refused on another port, at once', () => {
    assert.equal(report.otherPort, 'error ECONNREFUSED');
  });

  test('the blocked host: its name does not resolve, its IP is refused, the output says so', () => {
    assert.equal(report.blockedName, 'error ENOTFOUND');
    assert.equal(report.blockedIp, 'error ECONNREFUSED');
    const lines = report.blockedLines as string[];
    assert.ok(
      lines.includes('mags: egress blocked: DNS lookup of blocked.test (not in --allow-host)'),
    );
    assert.ok(lines.includes('mags: egress blocked: connection to 198.51.100.20:8080'));
    assert.ok(lines.includes('mags: egress blocked: connection to 192.0.2.10:9090'));
    // The refused name never reached the real nameserver.
    assert.ok(!(report.nameserverQueries as string[]).includes('blocked.test'));
  });

  test('--allow-cidr lets its range through, every port, UDP too', () => {
    assert.equal(report.cidr, 'ok 200 cidr-8080');
    assert.equal(report.udpCidr, 'ok sent');
  });

  test("the host's loopback and 169.254.169.254 stay refused, even with 0.0.0.0/0 allowed", () => {
    assert.equal(report.hostLoopback, 'error EHOSTUNREACH');
    assert.equal(report.metadata, 'error EHOSTUNREACH');
    assert.equal(report.openBlockedIp, 'ok 200 blocked-8080'); // the list did open everything else
    assert.equal(report.openHostLoopback, 'error EHOSTUNREACH');
    assert.equal(report.openMetadata, 'error EHOSTUNREACH');
  });

  test('DNS goes through the filter only: another server and slirp4netns directly', () => {
    // A query to another nameserver is answered by the filter (the same rules), not that server.
    assert.equal(report.otherServerBlocked, 'error ENOTFOUND');
    assert.equal(report.otherServerAllowed, 'ok 192.0.2.10');
    assert.equal(report.slirpDnsUdp, 'error ENOTFOUND');
    // TCP to slirp4netns's forwarder (which would bypass the filter) is refused.
    assert.equal(report.slirpDnsTcp, 'error EHOSTUNREACH');
    assert.equal(report.openSlirpDnsTcp, 'error EHOSTUNREACH');
    // ...and its line says what it was.
    assert.ok(
      (report.blockedLines as string[]).includes(
        'mags: egress blocked: DNS over TCP to 10.0.2.3:53 (only UDP lookups are filtered)',
      ),
    );
    assert.equal(report.loopbackDns, 'error ECONNREFUSED');
    assert.equal(report.txtAllowed, 'error ENODATA');
  });

  test('root inside cannot flush the rules, and has no raw socket', () => {
    // nft's stderr and the exit line come over two streams: their order is not fixed.
    assert.match(String(report.nftFlush), /Operation not permitted/);
    assert.match(String(report.nftFlush), /exit 1/);
    assert.equal(report.afterFlush, 'error ECONNREFUSED');
    assert.equal(report.udpBlocked, 'error EPERM');
    // No raw sockets at all (CAP_NET_RAW is not kept), whatever the address.
    assert.match(String(report.rawBlocked), /Operation not permitted/);
    assert.match(String(report.rawCidr), /Operation not permitted/);
    // The plain datagram to the allowed range arrived; none to the blocked one, nor to the
    // metadata address (the packet-socket probes below).
    assert.deepEqual(report.datagrams, { '203.0.113.30': 1 });
  });

  test('no packet socket (AF_PACKET frames would pass below the rules); ping still works', () => {
    assert.equal(report.packetBlocked, 'error socket: Operation not permitted');
    assert.equal(report.pingCidr, 'ok reply');
    assert.match(String(report.pingBlocked), /^error /);
  });

  test('a plain --net sandbox: no packet socket to get past the 169.254/16 route; ping works', () => {
    assert.equal(report.plainPacket, 'error socket: Operation not permitted');
    assert.equal(report.plainMetadataUdp, 'error EHOSTUNREACH');
    assert.equal(report.plainPing, 'ok reply');
  });

  test('the DNS filter answers no query with a forged source (no reflection to it)', () => {
    assert.equal(report.spoofedQuery, 'sent');
    // datagrams (above) has no entry for the forged source, the blocked server's counter.
    assert.equal((report.datagrams as Record<string, number>)['198.51.100.20'], undefined);
  });

  test('an exec in a long-lived sandbox gets the refusals in its stderr', () => {
    assert.equal(report.execStderr, 'mags: egress blocked: connection to 198.51.100.20:9999\n');
  });

  test('the keeper killed: the rules stay, lookups fail, the launcher says so', () => {
    assert.equal(report.keeperCapabilities, '0000000000001000', 'CAP_NET_ADMIN only');
    assert.equal(report.afterKeeperBlockedIp, 'error ECONNREFUSED');
    assert.match(String(report.afterKeeperLookup), /^error /);
    assert.match(String(report.keeperDeath), /the allow-list keeper stopped \(signal 9\)/);
  });

  test('without nft, a sandbox with an allow-list does not start, and says what to install', () => {
    assert.match(String(report.withoutNft), /could not be set up/);
    assert.match(String(report.withoutNft), /apt-get install nftables/);
  });

  test('mags run --allow-host: the blocked lines are in the run output', () => {
    const cli = report.cli as { code: number; stdout: string; stderr: string };
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /fetched allowed-8080/);
    assert.match(cli.stdout, /refused ECONNREFUSED/);
    assert.match(
      cli.stderr,
      /mags: egress blocked: DNS lookup of blocked\.test \(not in --allow-host\)/,
    );
    assert.match(cli.stderr, /mags: egress blocked: connection to 198\.51\.100\.20:8080/);
  });
});

describe('egress allow-list (qemu runtime: the same rules hold QEMU user-mode network)', {
  skip,
}, () => {
  let report: Record<string, unknown>;
  before(async () => {
    report = await runEgressFixture('qemu', '');
  });

  test('allowed by name and IP; another port, the blocked name and IP refused; CIDR open', (context) => {
    if (report.skip) return context.skip(String(report.skip));
    assert.equal(report.byName, 'ok 200 allowed-8080');
    assert.equal(report.byIp, 'ok 200 allowed-8080');
    assert.equal(report.cname, 'ok 200 target-8080');
    assert.equal(report.otherPort, 'error ECONNREFUSED');
    assert.equal(report.blockedName, 'error ENOTFOUND');
    assert.equal(report.blockedIp, 'error ECONNREFUSED');
    assert.equal(report.cidr, 'ok 200 cidr-8080');
    const lines = report.blockedLines as string[];
    assert.ok(
      lines.includes('mags: egress blocked: DNS lookup of blocked.test (not in --allow-host)'),
    );
    assert.ok(lines.includes('mags: egress blocked: connection to 198.51.100.20:8080'));
  });

  test('ping works without CAP_NET_RAW in the guest (ICMP datagram sockets)', (context) => {
    if (report.skip) return context.skip(String(report.skip));
    assert.equal(report.pingCidr, 'ok reply');
  });

  test("neither the host's loopback nor the metadata address", (context) => {
    if (report.skip) return context.skip(String(report.skip));
    // QEMU's own 10.0.2.2 is the launcher namespace's loopback, where nothing listens.
    assert.equal(report.hostLoopback, 'error ECONNREFUSED');
    assert.equal(report.metadata, 'error EHOSTUNREACH');
  });
});
