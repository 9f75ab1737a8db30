/**
 * The new-ticket form's field messages (src/dashboard/board/field-errors.ts): zod's common
 * messages, as the API sends them, in plain words beside the field; any other text as the API
 * wrote it. The messages here are zod's own, from parsing, not copies that could drift.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { fieldErrors, plainFieldMessage } from '../../src/dashboard/board/field-errors.ts';
import { InvalidInputError } from '../../src/errors/mags-error.ts';

const zodMessage = (schema: z.ZodType, value: unknown) => {
  const result = schema.safeParse(value);
  assert.ok(!result.success);
  return result.error.issues[0]?.message ?? '';
};

test('zod’s common shapes read as a person would say them', () => {
  const cases: [z.ZodType, unknown, string][] = [
    [z.string().min(1), '', 'Required'],
    [z.object({ title: z.string() }).shape.title, undefined, 'Required'],
    [z.string().min(3), 'ab', 'At least 3 characters'],
    [z.string().max(500), 'x'.repeat(501), 'At most 500 characters'],
    [z.array(z.string()).min(1), [], 'At least one'],
    [z.array(z.string()).max(2), ['a', 'b', 'c'], 'At most 2'],
    [z.number().min(0), -1, 'At least 0'],
    [z.number().positive(), 0, 'More than 0'],
    [z.number().max(10), 11, 'At most 10'],
    [z.number().int(), 1.5, 'A whole number'],
  ];
  for (const [schema, value, expected] of cases) {
    const message = zodMessage(schema, value);
    assert.equal(plainFieldMessage(message), expected, message);
  }
});

test('any other message is the API’s text; each field’s by its path', () => {
  const model = 'model ids are provider:model, e.g. anthropic:claude-sonnet-4-5';
  assert.equal(plainFieldMessage(model), model);
  const error = new InvalidInputError(
    `body.title: ${zodMessage(z.string().min(1), '')}; body.model: ${model}`,
  );
  assert.deepEqual(
    [...fieldErrors(error)],
    [
      ['title', 'Required'],
      ['model', model],
    ],
  );
});
