import type { Command } from 'commander';
import { parsePlanFile, renderPlanFile } from '../../api/plan-file.ts';
import type { PlanSpec } from '../../api/plans.ts';
import type { Criterion } from '../../api/tickets.ts';
import { apiClient } from '../client/api-client.ts';
import { CommandUsageError } from '../client/command-usage-error.ts';
import { editInEditor } from '../client/edit-in-editor.ts';
import { addCriterion, planSpecOf, readPlanFile, removeTicket } from '../client/plan-edits.ts';
import { printJson } from '../output.ts';
import { nextStep } from '../plan-next-step.ts';
import { renderPlan } from '../plan-render.ts';

type Client = Awaited<ReturnType<typeof apiClient>>;

/**
 * `mags plan edit ID`: the plan file in $VISUAL/$EDITOR, or `--file`, or quick edits
 * (`--remove KEY`, `--criterion KEY TEXT [--check CMD]`); a draft only (the server says so).
 */
export function registerPlanEditCommand(plan: Command): void {
  // --criterion takes KEY and TEXT; --check belongs to the --criterion before it. Commander calls
  // these in argv order, one value at a time.
  let criterionWords: string[] = [];
  let checks = new Map<number, string>();
  let strayCheck: string | undefined;
  plan
    .command('edit')
    .description(
      'Edit a draft plan: in $VISUAL/$EDITOR as YAML (like git commit), from --file, or by quick edits.',
    )
    .argument('<id>')
    .option('--file <path>', 'the whole plan from a plan.yaml (see mags plan show --yaml)')
    .option(
      '--remove <key>',
      'take this ticket out (repeatable)',
      (key: string, previous: string[] = []) => [...previous, key],
    )
    .option(
      '--criterion <key-and-text...>',
      'add a criterion to a ticket: --criterion KEY TEXT (repeatable)',
      (word: string) => {
        criterionWords.push(word);
        return criterionWords;
      },
    )
    .option(
      '--check <command>',
      'a command that must exit 0, for the --criterion before it',
      (check: string) => {
        const index = criterionWords.length / 2 - 1;
        if (criterionWords.length === 0 || !Number.isInteger(index)) strayCheck ??= check;
        else checks.set(index, check);
        return check;
      },
    )
    .option('--json', 'print JSON')
    .action(async (id: string, flags, command: Command) => {
      const words = criterionWords;
      const givenChecks = checks;
      const stray = strayCheck;
      criterionWords = [];
      checks = new Map();
      strayCheck = undefined;
      if (stray !== undefined) {
        throw new CommandUsageError(
          `--check ${JSON.stringify(stray)} comes before its --criterion KEY TEXT.`,
          {
            hint: 'Each --check belongs to the --criterion before it: --criterion KEY TEXT --check CMD.',
          },
        );
      }
      if (words.length % 2 !== 0) {
        throw new CommandUsageError('--criterion takes a ticket key and the criterion’s text.', {
          hint: 'For example: --criterion api "GET /users answers 200" --check "npm test" (quote the text).',
        });
      }
      const criteria: Array<{ key: string; criterion: Criterion }> = [];
      for (let index = 0; index < words.length / 2; index++) {
        const check = givenChecks.get(index);
        criteria.push({
          key: words[index * 2] as string,
          criterion: { text: words[index * 2 + 1] as string, ...(check && { check }) },
        });
      }
      const removals: string[] = flags.remove ?? [];
      const mags = await apiClient(command);
      let spec: PlanSpec;
      if (flags.file) {
        spec = await readPlanFile(flags.file);
      } else if (removals.length > 0 || criteria.length > 0) {
        spec = planSpecOf(await mags.plans.get(id));
        for (const key of removals) spec = removeTicket(spec, key);
        for (const { key, criterion } of criteria) spec = addCriterion(spec, key, criterion);
      } else {
        const saved = await editPlanInEditor(mags, id);
        if (!saved) {
          process.stderr.write(
            `mags: the plan file was saved unchanged; plan ${id} is as it was\n`,
          );
          return;
        }
        spec = saved;
      }
      const edited = await mags.plans.editSpec(id, spec);
      if (flags.json) return printJson(edited);
      process.stdout.write(renderPlan(edited));
      process.stderr.write(`mags: plan ${edited.id} edited; ${nextStep(edited)}\n`);
    });
}

/** The plan file in the user's editor; undefined when they saved it unchanged. */
async function editPlanInEditor(mags: Client, id: string): Promise<PlanSpec | undefined> {
  const found = await mags.plans.get(id);
  if (found.status !== 'draft') {
    throw new CommandUsageError(`Plan ${id} is ${found.status}: only a draft can be edited.`);
  }
  const before = renderPlanFile(planSpecOf(found), {
    header: `Plan ${id} of ${found.project}. Save and quit to apply; an unchanged file changes nothing.`,
  });
  const after = await editInEditor(before, { name: `${id}.yaml` });
  if (after === before) return undefined;
  return parsePlanFile(after, `${id}.yaml`);
}
