import assert from 'node:assert/strict';
import { test } from 'node:test';
import { completeUtf8Length } from './complete-utf8-length.ts';

test('a cut anywhere in UTF-8 text keeps whole characters only', () => {
  const text = 'aé€😀b';
  const bytes = new TextEncoder().encode(text);
  for (let end = 0; end <= bytes.length; end++) {
    const kept = completeUtf8Length(bytes.subarray(0, end));
    assert.ok(kept <= end, `${end}: kept ${kept}`);
    const decoded = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, kept));
    assert.ok(text.startsWith(decoded), `${end}: ${decoded}`);
    // Nothing whole is dropped: at most the bytes of the one split character.
    assert.ok(end - kept < 4, `${end}: dropped ${end - kept}`);
  }
  assert.equal(completeUtf8Length(bytes), bytes.length);
  assert.equal(completeUtf8Length(new Uint8Array([0x61, 0x80, 0x80, 0x80, 0x80])), 5);
});
