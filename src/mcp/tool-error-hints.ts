import type { MagsError } from '../errors/mags-error.ts';

type HintFor = string | ((error: MagsError) => string);

/**
 * Hints in the words of the MCP tools, for the API's errors whose own hints name CLI commands
 * (`mags start NAME`, `mags ticket list`) that a model connected over MCP does not have.
 * `toolErrorResult` applies them to every tool's error, so no tool can forget to.
 */
const toolHints: Record<string, HintFor> = {
  sandbox_not_found: 'sandbox_list shows your sandboxes; sandbox_create makes one.',
  sandbox_exists:
    'Use it (run_command, file_* with this name), pick another name, or sandbox_delete it first.',
  sandbox_stopped: 'sandbox_start starts it again (its workspace files are kept).',
  sandbox_elsewhere:
    'It runs on another server of the cluster: connect to that server, or sandbox_stop it first.',
  file_not_found: 'file_list shows what a directory holds.',
  is_a_directory: 'file_list lists a directory; file_read reads files.',
  not_a_directory: 'file_read reads a file; file_list takes a directory.',
  job_not_found: 'run_command results name their job (jobId); use one of those.',
  workspace_not_found:
    'workspace_list shows your workspaces; sandbox_create with `workspace` makes one.',
  workspace_busy:
    'A sandbox or run is using it: wait for it to end, or sandbox_stop the sandbox using it ' +
    '(sandbox_list shows them), then try again.',
  workspace_exists: 'Pick another name (workspace_list shows the names in use).',
  version_not_found: 'workspace_versions lists the versions of a workspace.',
  sync_conflict:
    'Nothing was overwritten. Another host changed the workspace since this copy was taken: ' +
    'workspace_versions shows its versions; sync again once the other side is done.',
  project_not_found:
    'Give the `project` of an existing project: ticket_list shows the projects your tickets ' +
    'are on; projects are made by the user, so ask which one to use.',
  ticket_not_found: 'ticket_list shows your tickets.',
  evidence_not_found:
    'Evidence comes when an attempt ends: ticket_events with follow true waits for it; ' +
    'ticket_get shows the status.',
  ticket_status:
    "ticket_get shows the ticket's status. ticket_run starts a draft, failed or stopped " +
    "ticket; approving, requesting changes and closing are the user's.",
  model_missing:
    'Give the `model` argument (e.g. "anthropic:claude-sonnet-4-5"), or ask the user to set a ' +
    "default (the role's, the project's, or the server's MAGS_DEFAULT_MODEL).",
  owner_limit_reached: ownerLimitHint,
  disk_too_large: 'Ask for a smaller diskMiB (the message gives the most this server allows).',
  owner_disk_quota:
    'Ask for a smaller diskMiB, or ask the user to delete workspaces they no longer need ' +
    '(workspace_list shows them).',
  dependency_missing: (error) =>
    /base image/.test(error.message)
      ? 'Leave `image` out to use the default image, or ask the user to build this one on the server.'
      : 'The server lacks something it needs (the message says what): tell the user.',
  job_not_finished: 'The job is still running: run_command returns when it ends.',
};

/** The owner limits share one code; the message says which limit was reached. */
function ownerLimitHint(error: MagsError): string {
  if (/sandboxes running/.test(error.message)) {
    return 'sandbox_stop or sandbox_delete a sandbox you no longer use (sandbox_list shows them), then try again.';
  }
  if (/streams open/.test(error.message)) {
    return 'Too many calls are following output at once (run_command, ticket_events with follow): wait for some to end, or cancel ones you no longer need.';
  }
  if (/jobs queued/.test(error.message)) {
    return 'Wait for some of your commands to finish, then try again.';
  }
  if (/MCP sessions/.test(error.message)) {
    return 'Close MCP sessions you no longer use; idle ones end by themselves.';
  }
  return 'Wait for some of your running work to end, then try again.';
}

/** The tool hint for an error's code, when there is one. */
export function toolHintFor(error: MagsError): string | undefined {
  const hint = toolHints[error.code];
  return typeof hint === 'function' ? hint(error) : hint;
}
