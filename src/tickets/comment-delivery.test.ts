import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CommentDelivery } from './comment-delivery.ts';

test('delivered through: what was taken and the feedback, never past a comment still waiting', () => {
  const pending = [{ id: 5, text: 'older than the feedback' }];
  const delivery = new CommentDelivery(pending, 2, { id: 7, text: 'the feedback' });
  // The feedback is in the conversation, comment 5 is not yet: only up to 4 is delivered.
  assert.equal(delivery.through(), 4);
  assert.deepEqual(delivery.take(), ['older than the feedback']);
  assert.equal(delivery.through(), 7);
  pending.push({ id: 9, text: 'live' });
  assert.equal(delivery.through(), 7);
  assert.deepEqual(delivery.take(), ['live']);
  assert.deepEqual(delivery.take(), []);
  assert.equal(delivery.through(), 9);
});

test('with nothing given, the stored mark stays', () => {
  assert.equal(new CommentDelivery([], 12).through(), 12);
});
