import { useMags } from '../client-context.ts';
import { Breadcrumbs } from '../components/breadcrumbs.tsx';
import { ErrorView } from '../components/error-view.tsx';
import { Link } from '../components/link.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { usePageTitle } from '../components/use-page-title.ts';
import { formatTime } from '../format/format-time.ts';
import { useLiveList } from '../live/use-live-list.ts';
import { useResource } from '../live/use-resource.ts';
import { navigate } from '../router.ts';
import type { PageProps } from '../routes.ts';
import { FileBrowser } from '../sandboxes/file-browser.tsx';
import { SandboxActions } from '../sandboxes/sandbox-actions.tsx';
import { applySandboxChange, withSandbox } from '../sandboxes/sandbox-list-changes.ts';
import { TerminalView } from '../sandboxes/terminal-view.tsx';

/**
 * One sandbox: its state and actions, a terminal (a shell in it, live over the WebSocket) and
 * its files. A stopped sandbox shows no terminal: the shell would start it behind the person's
 * back, so "Start" is the way in. The terminal code (xterm.js) lives only in this page's chunk.
 */
const trail = [{ title: 'Sandboxes', href: '/sandboxes' }];

export default function SandboxPage(props: PageProps) {
  const name = props.params[0] ?? '';
  usePageTitle(`Sandbox ${name}`);
  const mags = useMags();
  const loaded = useResource(() => mags.sandboxes.get(name), [name]);
  // Live from the owner's sandbox stream (stopped from the CLI, asleep when idle); the first
  // read answers a 404 with the API's message.
  const live = useLiveList((signal) => mags.sandboxes.follow({ signal }), applySandboxChange, [
    mags,
  ]);
  const sandbox = live.items ? live.items.find((each) => each.name === name) : loaded.data;

  if (loaded.error) {
    return (
      <section>
        <Breadcrumbs trail={trail} current={name} />
        <h1>Sandbox {name}</h1>
        <ErrorView error={loaded.error} />
      </section>
    );
  }
  if (!sandbox && live.items && loaded.data) {
    return (
      <section>
        <Breadcrumbs trail={trail} current={name} />
        <h1>Sandbox {name}</h1>
        <p class="muted">
          This sandbox has been deleted. <Link href="/sandboxes">All sandboxes</Link>
        </p>
      </section>
    );
  }
  if (!sandbox) return <p class="loading">Loading sandbox {name}…</p>;
  return (
    <section class="sandbox-page">
      <Breadcrumbs trail={trail} current={name} />
      <div class="page-heading">
        <h1>Sandbox {sandbox.name}</h1>
        <StatusBadge status={sandbox.status} />
        <SandboxActions
          sandbox={sandbox}
          onChanged={(next) =>
            next ? live.apply((items) => withSandbox(items, next)) : navigate('/sandboxes')
          }
        />
      </div>
      <dl class="facts">
        <dt>Workspace</dt>
        <dd>{sandbox.workspace ?? 'none (ephemeral)'}</dd>
        <dt>Runtime</dt>
        <dd>{sandbox.runtime}</dd>
        <dt>Created</dt>
        <dd>{formatTime(sandbox.createdAt)}</dd>
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
