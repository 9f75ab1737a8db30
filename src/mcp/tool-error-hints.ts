import { MagsError } from '../errors/mags-error.ts';

/**
 * Hints in the words of the MCP tools, for the API's errors whose own hints name CLI commands
 * (`mags start NAME`, `mags list --sandboxes`) that a model connected over MCP does not have.
 */
const toolHints: Record<string, string> = {
  sandbox_not_found: 'sandbox_list shows your sandboxes; sandbox_create makes one.',
  sandbox_exists:
    'Use it (run_command, file_* with this name), pick another name, or sandbox_delete it first.',
  sandbox_stopped: 'sandbox_start starts it again (its workspace files are kept).',
  file_not_found: 'file_list shows what a directory holds.',
  is_a_directory: 'file_list lists a directory; file_read reads files.',
  not_a_directory: 'file_read reads a file; file_list takes a directory.',
};

/** `error` with the tool hint for its code, when there is one (the rest pass unchanged). */
export function withToolHint(error: unknown): unknown {
  if (!(error instanceof MagsError)) return error;
  const hint = toolHints[error.code];
  if (hint === undefined) return error;
  return new MagsError(error.message, {
    code: error.code,
    statusCode: error.statusCode,
    retryable: error.retryable,
    hint,
    cause: error,
  });
}

/** Runs a tool's API calls, giving their errors the tools' hints. */
export async function withToolHints<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw withToolHint(error);
  }
}
