import { useState } from 'preact/hooks';
import type { SandboxInfo } from '../../api/schemas.ts';
import { useMags } from '../client-context.ts';
import { ErrorView } from '../components/error-view.tsx';
import { Link } from '../components/link.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { useResource } from '../live/use-resource.ts';
import { navigate } from '../router.ts';
import type { PageProps } from '../routes.ts';
import { FileBrowser } from '../sandboxes/file-browser.tsx';
import { SandboxActions } from '../sandboxes/sandbox-actions.tsx';
import { TerminalView } from '../sandboxes/terminal-view.tsx';
import { timeText } from '../sandboxes/time-text.ts';

/**
 * One sandbox: its state and actions, a terminal (a shell in it, live over the WebSocket) and
 * its files. A stopped sandbox shows no terminal: the shell would start it behind the person's
 * back, so "Start" is the way in. The terminal code (xterm.js) lives only in this page's chunk.
 */
export default function SandboxPage(props: PageProps) {
  const name = props.params[0] ?? '';
  const mags = useMags();
  const loaded = useResource(() => mags.sandboxes.get(name), [name]);
  // What the page's own actions returned, newer than the first read.
  const [changed, setChanged] = useState<SandboxInfo | undefined>(undefined);
  const sandbox = changed ?? loaded.data;

  if (loaded.error) {
    return (
      <section>
        <h1>Sandbox {name}</h1>
        <ErrorView error={loaded.error} />
        <p>
          <Link href="/sandboxes">All sandboxes</Link>
        </p>
      </section>
    );
  }
  if (!sandbox) return <p class="loading">Loading sandbox {name}…</p>;
  return (
    <section class="sandbox-page">
      <div class="toolbar">
        <h1>Sandbox {sandbox.name}</h1>
        <StatusBadge status={sandbox.status} />
        <SandboxActions
          sandbox={sandbox}
          onChanged={(next) => (next ? setChanged(next) : navigate('/sandboxes'))}
        />
      </div>
      <dl class="sandbox-facts">
        <dt>Workspace</dt>
        <dd>{sandbox.workspace ?? 'none (ephemeral)'}</dd>
        <dt>Created</dt>
        <dd>{timeText(sandbox.createdAt)}</dd>
        <dt>Sleeps when idle</dt>
        <dd>{sandbox.sleep ? 'yes' : 'no'}</dd>
        {sandbox.reason ? (
          <>
            <dt>Reason</dt>
            <dd>{sandbox.reason}</dd>
          </>
        ) : null}
      </dl>
      <h2>Terminal</h2>
      {sandbox.status === 'stopped' ? (
        <p class="muted">Stopped. Start it to open a shell.</p>
      ) : (
        <TerminalView sandbox={sandbox.name} />
      )}
      <h2>Files</h2>
      {sandbox.status === 'stopped' ? (
        <p class="muted">Stopped. Start it to browse its files.</p>
      ) : (
        <FileBrowser sandbox={sandbox.name} />
      )}
    </section>
  );
}
