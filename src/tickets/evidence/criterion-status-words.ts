import type { CriterionResult } from '../../api/tickets.ts';

/** How a person reads a criterion's status, the same in the evidence, the timeline and watch. */
export const criterionStatusWords: Record<CriterionResult['status'], string> = {
  met: 'met',
  not_met: 'not met',
  needs_person: 'needs a person',
};

/** The mark before a criterion in a terminal (the evidence's text and `mags ticket watch`). */
export const criterionStatusMarks: Record<CriterionResult['status'], string> = {
  met: '✔',
  not_met: '✖',
  needs_person: '?',
};
