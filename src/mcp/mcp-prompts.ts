import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { GetPromptResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { TicketIdSchema } from '../api/tickets.ts';
import type { Mags } from '../sdk/mags.ts';
import { ticketEvidenceUri } from './mcp-resources.ts';

const userPrompt = (description: string, text: string): GetPromptResult => ({
  description,
  messages: [{ role: 'user', content: { type: 'text', text } }],
});

/** How to do a task in a sandbox with these tools, step by step. */
export function workInSandboxText(task: string, workspace: string | undefined): string {
  const where = workspace
    ? `the workspace "${workspace}" (its files persist between sandboxes: reuse a sandbox on it ` +
      'from sandbox_list if one runs, else sandbox_create with that workspace)'
    : 'a new sandbox (sandbox_create; give it a workspace name if the files should outlive it)';
  return [
    `Do this task in a mags sandbox: ${task}`,
    '',
    'How:',
    `1. Work in ${where}. Files live under /workspace.`,
    '2. Look around first: file_list and file_read, or run_command with `ls`, `cat`, `git status`.',
    '3. Change files with file_edit (an exact old text replaced by a new one) or file_write for a ' +
      'new file. Never edit by echoing into files through run_command.',
    "4. Check your work with run_command (the project's tests, a build, `node -e` for a quick " +
      'check). Set a timeout on long commands; a truncated output names its job id, and the ' +
      'whole log is the resource mags://jobs/{jobId}/log.',
    '5. Repeat 3-4 until the checks pass; report what you changed and what the checks showed.',
    workspace
      ? `6. When done, workspace_sync "${workspace}" to keep the result as a version in object ` +
        'storage (workspace_fork first if you want to try something risky on a copy).'
      : '6. Stop or delete the sandbox (sandbox_stop, sandbox_delete) when you are done with it.',
  ].join('\n');
}

/** Prompts: ready-made instructions for working in a sandbox and reviewing a ticket. */
export function registerMcpPrompts(server: McpServer, _client: Mags): void {
  server.registerPrompt(
    'work_in_sandbox',
    {
      title: 'Work in a mags sandbox',
      description:
        "Instructions for doing a task in an isolated mags sandbox with mags's tools: where to " +
        'work, how to edit, how to test, when to sync.',
      argsSchema: {
        task: z.string().min(1).describe('What to do, e.g. "make npm test pass".'),
        workspace: z
          .string()
          .optional()
          .describe('A workspace whose files persist (e.g. "app"); none: a fresh sandbox.'),
      },
    },
    ({ task, workspace }) =>
      userPrompt(
        'Work in a mags sandbox',
        workInSandboxText(task, workspace?.trim() ? workspace.trim() : undefined),
      ),
  );

  server.registerPrompt(
    'review_ticket',
    {
      title: "Review a ticket's evidence",
      description:
        "Instructions for reviewing what a background agent did on a ticket: the platform's " +
        'check of each criterion, the tests, the diff; then a verdict.',
      argsSchema: {
        ticketId: TicketIdSchema.describe('The ticket id, e.g. "tkt_3kTMd9bX1VvJf2Qw".'),
      },
    },
    ({ ticketId }) =>
      userPrompt(
        `Review ticket ${ticketId}`,
        [
          `Review mags ticket ${ticketId}.`,
          '1. ticket_get: read the request and its acceptance criteria.',
          `2. ticket_evidence: which criteria the platform's checks found met; a criterion ` +
            "without a check needs your judgement, and the agent's claim alone proves nothing.",
          `3. Read the diff in the resource ${ticketEvidenceUri(ticketId)} and judge whether it ` +
            'does what the request asks, and nothing it should not.',
          '4. If it is still running, ticket_events with follow: true until it awaits review.',
          '5. Answer with a verdict (approve, or request changes) and the reasons, naming each ' +
            'criterion. No tool approves or sends back a ticket: that stays with the person, ' +
            `who does it with \`mags ticket approve ${ticketId}\` or ` +
            `\`mags ticket request-changes ${ticketId}\`.`,
        ].join('\n'),
      ),
  );
}
