/** The words the loop adds to the conversation: the ticket, a reviewer's feedback, comments. */
import type { AgentTask } from '../agent.ts';

/** Criteria are numbered from 1, as a person sees them (watch, evidence); `finish` takes these. */
export function taskPrompt(task: AgentTask): string {
  const criteria = task.ticket.criteria
    .map(
      (criterion, index) =>
        `${index + 1}. ${criterion.text}${criterion.check ? `\n   (the platform checks it with: ${criterion.check})` : ''}`,
    )
    .join('\n');
  const tests = task.project.test
    ? `The project's tests run with: ${task.project.test}\n(the platform runs them after you finish).`
    : 'The project has no test command.';
  return `Ticket ${task.ticket.id}: ${task.ticket.title}

${task.ticket.request}

Acceptance criteria (claim each by its number when you call finish):
${criteria}

The repository of project ${task.project.name} is at /workspace. ${tests}`;
}

export function feedbackPrompt(feedback: string): string {
  return `A reviewer looked at your previous attempt and requested changes:

${feedback}

The workspace still has your previous changes. Address the feedback, then call finish again.`;
}

export function commentPrompt(comment: string): string {
  return `A person watching this ticket says:\n\n${comment}`;
}

/** After a step with no tool call: the model must act or finish, not wait for a reply. */
export const continuePrompt =
  'No one answers here. Continue with your tools, and call finish when the work is done.';
