import assert from 'node:assert/strict';
import { test } from 'node:test';

import { hasNormalPaste, imageParam, increment, inside, isImagePath, mimeOf, reportOf, resultMessage } from '../logic';
import type { ImageToCodeResult } from '../protocol';

test('image files by suffix, as the server takes them', () => {
  for (const file of ['a.png', 'B.JPG', 'c.jpeg', 'd.webp', 'e.gif']) {
    assert.equal(isImagePath(file), true, file);
  }
  assert.equal(isImagePath('f.bmp'), false);
  assert.equal(isImagePath('png'), false);
  assert.equal(mimeOf('x.JPG'), 'image/jpeg');
});

test('a picture in the workspace goes by URI, one outside by its bytes', () => {
  let reads = 0;
  const read = () => {
    reads++;
    return new Uint8Array([1, 2, 3]);
  };
  assert.deepEqual(imageParam('/ws/img/a.png', 'file:///ws/img/a.png', ['/ws'], read), { uri: 'file:///ws/img/a.png' });
  assert.equal(reads, 0);
  assert.deepEqual(imageParam('/tmp/b.webp', 'file:///tmp/b.webp', ['/ws'], read), { data: 'AQID', mime: 'image/webp' });
  assert.equal(inside('/ws2/x.png', ['/ws']), false);
  assert.equal(inside('/ws/../x.png', ['/ws']), false);
});

test('the result line says verified or not, with score and iterations', () => {
  const result: ImageToCodeResult = {
    code: 'print(1)\n', language: 'python', kind: 'algorithm', verified: true, score: 1, iterations: 1, runDir: '/ws/.viscodex/runs/x', edit: null,
  };
  assert.equal(resultMessage(result), 'VisCodex: algorithm verified, score 1.00 after 1 iteration.');
  assert.equal(
    resultMessage({ ...result, verified: false, score: 0.4567, iterations: 3, applied: false }),
    'VisCodex: algorithm best effort, not verified, score 0.46 after 3 iterations. The edit was not applied (the document changed, or it was refused).',
  );
  assert.match(resultMessage({ ...result, code: ' ' }), /no code came back/);
  assert.equal(reportOf('/ws/.viscodex/runs/x'), '/ws/.viscodex/runs/x/report.json');
});

test('progress: LSP percentages become increments, never backwards', () => {
  assert.deepEqual(increment(0, undefined), [0, 0]);
  assert.deepEqual(increment(0, 33), [33, 33]);
  assert.deepEqual(increment(33, 20), [0, 33]);
  assert.deepEqual(increment(33, 150), [67, 100]);
});

test('a normal paste exists for text, paths, HTML and in Markdown; not for a bare screenshot in code', () => {
  assert.equal(hasNormalPaste(['image/png'], 'python', true), false);
  assert.equal(hasNormalPaste(['image/png', 'files'], 'typescript', true), false);
  assert.equal(hasNormalPaste(['image/png'], 'markdown', true), true);
  assert.equal(hasNormalPaste(['files', 'text/uri-list'], 'python', false), true);
  assert.equal(hasNormalPaste(['image/png', 'text/html'], 'python', false), true);
});

test('Markdown has its image link only once its extension is active (a paste right at start-up)', () => {
  assert.equal(hasNormalPaste(['image/png'], 'markdown', false), false);
});
