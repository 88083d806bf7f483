import assert from 'node:assert/strict';
import { test } from 'node:test';

import { commandsIn, describeError } from '../errors';
import { ErrorCodes } from '../protocol';

// The messages below are the server's own (model/server_backend.py, model/select.py, sandbox/api.py).
const DOWN =
  'no model server answers at http://127.0.0.1:8000/v1 (connection refused); start one with ' +
  '`viscodex-agent serve --model PATH` or point --model-url at a running one';
const NO_IMAGE =
  "http://127.0.0.1:8000/v1 refused an image for model 'coder': viscodex is not a multimodal model. Pick a model " +
  'that takes images (VisCodex or another vision-language model) with --model-name';
const NO_SANDBOX = 'sandbox image viscodex-sandbox:abc is missing: build it with `viscodex-agent sandbox build --package-set chartmimic`';

test('a model server that does not answer: start one (typed, PATH to fill) or open the model URL setting', () => {
  const described = describeError({ code: ErrorCodes.requestFailed, message: `VisCodex: ${DOWN}` }, '/ws/.venv/bin');
  assert.equal(described.severity, 'error');
  assert.equal(described.message, `VisCodex: ${DOWN}`);
  assert.deepEqual(described.actions, [
    { title: 'Start model server', kind: 'terminal', command: '/ws/.venv/bin/viscodex-agent serve --model PATH', run: false },
    { title: 'Open settings', kind: 'settings', query: 'viscodex.modelUrl' },
  ]);
});

test('no server and no local model: each fix once, in the order the message names them', () => {
  // model/select.py: the server's problem, then the missing local model, which names serve again
  const message =
    `${DOWN}; and no local model at /root/.cache/viscodex/models/viscodex-8b. Build the merged VisCodex model there with ` +
    '`viscodex-train merge --preset viscodex-8b` (downloads the three base models from the Hugging Face hub), or point at ' +
    'a model: --model-path DIR, or --model-url http://127.0.0.1:8000/v1 for a server (start one with `viscodex-agent serve --model PATH`)';
  const described = describeError({ code: ErrorCodes.requestFailed, message });
  assert.deepEqual(
    described.actions.map((a) => a.title),
    ['Start model server', 'Build the model', 'Open settings'],
  );
});

test('a model that refuses images: said as the endpoint said it, with the model name setting', () => {
  const described = describeError({ code: ErrorCodes.requestFailed, message: NO_IMAGE });
  assert.match(described.message, /refused an image/);
  assert.deepEqual(described.actions, [{ title: 'Open settings', kind: 'settings', query: 'viscodex.modelName' }]);
});

test('a missing sandbox image: build it, the exact command, run at once', () => {
  const described = describeError({ code: ErrorCodes.requestFailed, message: NO_SANDBOX });
  assert.deepEqual(described.actions, [
    { title: 'Build sandbox image', kind: 'terminal', command: 'viscodex-agent sandbox build --package-set chartmimic', run: true },
  ]);
});

test('bad input is a warning; no folder open offers to open one', () => {
  const described = describeError({ code: ErrorCodes.invalidParams, message: 'open a folder (a workspace) first: runs are kept in its .viscodex/runs' });
  assert.equal(described.severity, 'warning');
  assert.deepEqual(described.actions, [{ title: 'Open Folder', kind: 'openFolder' }]);
});

test('a bad setting opens the settings; anything else offers the log', () => {
  assert.deepEqual(describeError({ message: 'bad viscodex setting (max_iters: too big) in workspace/configuration' }).actions, [
    { title: 'Open settings', kind: 'settings', query: 'viscodex' },
  ]);
  assert.deepEqual(describeError({ code: -32603, message: 'boom' }).actions, [{ title: 'Show log', kind: 'showLog' }]);
});

test('commands are read from backticks, only ours', () => {
  assert.deepEqual(commandsIn('run `viscodex-agent sandbox build` or `rm -rf /` then `viscodex-train merge --preset viscodex-8b`'), [
    'viscodex-agent sandbox build',
    'viscodex-train merge --preset viscodex-8b',
  ]);
});
