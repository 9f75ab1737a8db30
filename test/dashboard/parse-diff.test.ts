/** The diff viewer's data: git's unified diff as files, rows with line numbers, side-by-side pairs. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDiff, splitRows } from '../../src/dashboard/diff/parse-diff.ts';

const diff = `diff --git a/sum.js b/sum.js
index 1111111..2222222 100644
--- a/sum.js
+++ b/sum.js
@@ -1,3 +1,3 @@
 // sum
-exports.sum = (a, b) => a - b;
+exports.sum = (a, b) => a + b;
 module.exports.extra = 1;
diff --git a/new.html b/new.html
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/new.html
@@ -0,0 +1,2 @@
+<img src=x onerror=alert(1)>
+two
\\ No newline at end of file
diff --git a/old.txt b/old.txt
deleted file mode 100644
index 4444444..0000000
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-gone
diff --git a/logo.png b/logo.png
new file mode 100644
index 0000000..5555555
Binary files /dev/null and b/logo.png differ
`;

test('files with their change, counts and numbered rows', () => {
  const files = parseDiff(diff) ?? [];
  assert.deepEqual(
    files.map(({ path, change, added, removed, binary }) => ({
      path,
      change,
      added,
      removed,
      binary,
    })),
    [
      { path: 'sum.js', change: 'modified', added: 1, removed: 1, binary: false },
      { path: 'new.html', change: 'created', added: 2, removed: 0, binary: false },
      { path: 'old.txt', change: 'deleted', added: 0, removed: 1, binary: false },
      { path: 'logo.png', change: 'created', added: 0, removed: 0, binary: true },
    ],
  );
  assert.deepEqual(files[0]?.hunks[0]?.rows, [
    { kind: 'context', oldLine: 1, newLine: 1, text: '// sum' },
    { kind: 'removed', oldLine: 2, newLine: null, text: 'exports.sum = (a, b) => a - b;' },
    { kind: 'added', oldLine: null, newLine: 2, text: 'exports.sum = (a, b) => a + b;' },
    { kind: 'context', oldLine: 3, newLine: 3, text: 'module.exports.extra = 1;' },
  ]);
  // Markup is data here: the text as it was, "no newline" notes not a row.
  assert.deepEqual(
    files[1]?.hunks[0]?.rows.map((row) => row.text),
    ['<img src=x onerror=alert(1)>', 'two'],
  );
});

test('a diff without git headers (one file change) and an empty one', () => {
  const files = parseDiff('--- a/x.ts\n+++ b/x.ts\n@@ -1 +1 @@\n-old\n+new\n');
  assert.equal(files?.length, 1);
  assert.equal(files?.[0]?.path, 'x.ts');
  assert.deepEqual(parseDiff(''), []);
  // Not a diff, or a hunk that lies about its size: undefined, and the viewer shows the text.
  assert.equal(parseDiff('just some words'), undefined);
  assert.equal(parseDiff('--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n-b\n+c\n'), undefined);
});

test('side by side: each run of removals beside the additions that replace it', () => {
  const rows = parseDiff(
    '--- a/x\n+++ b/x\n@@ -1,5 +1,4 @@\n same\n-a\n-b\n+A\n keep\n+added\n-later\n',
  )?.[0]?.hunks[0]?.rows;
  assert.ok(rows);
  const text = (row: { text: string } | null) => row?.text ?? null;
  assert.deepEqual(
    splitRows(rows).map((pair) => [text(pair.old), text(pair.new)]),
    [
      ['same', 'same'],
      ['a', 'A'],
      ['b', null],
      ['keep', 'keep'],
      [null, 'added'],
      ['later', null],
    ],
  );
});
