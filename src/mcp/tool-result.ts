import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { MagsError } from '../errors/mags-error.ts';
import { toolHintFor } from './tool-error-hints.ts';

/**
 * A failed tool call as the model sees it: a tool result with `isError` (never a protocol
 * error, which most clients show the user instead of the model), naming the stable error code
 * and the hint, so the model can act on it. The hint is the tools' own (tool-error-hints.ts)
 * when the API's names CLI commands the model does not have.
 */
export function toolErrorResult(error: unknown): CallToolResult {
  if (error instanceof MagsError) {
    const hint = toolHintFor(error) ?? error.hint;
    const lines = [`${error.code}: ${error.message}`];
    if (hint) lines.push(`hint: ${hint}`);
    return {
      isError: true,
      content: [{ type: 'text', text: lines.join('\n') }],
      structuredContent: { error: { code: error.code, message: error.message, hint } },
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    isError: true,
    content: [{ type: 'text', text: `internal_error: ${message}` }],
    structuredContent: { error: { code: 'internal_error', message } },
  };
}

/** A successful result: `text` for the model, `value` as structured content for programs. */
export function jsonResult(text: string, value: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: value };
}

/** Runs a tool's body, turning any thrown error into a tool error result. */
export async function toolResult(body: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await body();
  } catch (error) {
    return toolErrorResult(error);
  }
}
