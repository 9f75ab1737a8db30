/**
 * The built-in tools as an AI SDK tool set, each call wrapped so that it emits `tool_call`, then
 * what it did (`command`, `finish`, then a `file_change` per file a tool changed), then
 * `tool_result`, in that order, and never throws at the loop.
 */
import { type ToolSet, tool } from 'ai';
import type { agentToolNames } from '../../../api/projects.ts';
import { editFileTool } from './edit-file-tool.ts';
import { finishTool } from './finish-tool.ts';
import { listFilesTool } from './list-files-tool.ts';
import { readFileTool } from './read-file-tool.ts';
import { runCommandTool } from './run-command-tool.ts';
import { searchFilesTool } from './search-files-tool.ts';
import {
  type AgentToolDefinition,
  describeError,
  failed,
  type ToolContext,
  type ToolOutput,
} from './tool-context.ts';
import { writeFileTool } from './write-file-tool.ts';

type AgentToolName = (typeof agentToolNames)[number];

// biome-ignore lint/suspicious/noExplicitAny: each definition has its own input type
const definitions: Record<AgentToolName, AgentToolDefinition<any>> = {
  run_command: runCommandTool,
  read_file: readFileTool,
  write_file: writeFileTool,
  edit_file: editFileTool,
  list_files: listFilesTool,
  search_files: searchFilesTool,
  finish: finishTool,
};

/** Tools that may change files: a workspace snapshot follows each of their calls. */
const changingTools: ReadonlySet<string> = new Set(['run_command', 'write_file', 'edit_file']);

/** The tool set for a role's tool names (unknown names are left out; roles are validated). */
export function createAgentTools(
  names: readonly string[],
  context: ToolContext,
  /** Called with each call the tools ran, so the loop can tell them from ones the SDK refused. */
  onExecuted: (toolCallId: string) => void,
): ToolSet {
  const tools: ToolSet = {};
  for (const name of names) {
    const definition = Object.hasOwn(definitions, name)
      ? definitions[name as AgentToolName]
      : undefined;
    if (!definition) continue;
    tools[name] = tool({
      description: definition.description,
      inputSchema: definition.inputSchema,
      execute: async (input: unknown, { toolCallId }): Promise<ToolOutput> => {
        onExecuted(toolCallId);
        const step = context.step();
        await context.emit({ type: 'tool_call', step, toolCallId, tool: name, input });
        let output: ToolOutput;
        try {
          output = await definition.run(input, { toolCallId }, context);
        } catch (error) {
          output = failed(describeError(error));
        }
        // Even a failed command may have changed files.
        if (changingTools.has(name)) await context.recordChanges();
        await context.emit({
          type: 'tool_result',
          step,
          toolCallId,
          tool: name,
          output: output.text,
          isError: output.isError,
        });
        return output;
      },
      // Errors go back as error text (Anthropic's is_error), the rest as plain text.
      toModelOutput: ({ output }: { output: ToolOutput }) => ({
        type: output.isError ? 'error-text' : 'text',
        value: output.text,
      }),
    });
  }
  return tools;
}
