import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SERVER_SETTINGS, needsRestart, serverSettings } from '../settings';

test('settings go to the server under its own names, empty ones left to its defaults', () => {
  const config: Record<string, unknown> = {
    modelUrl: ' http://127.0.0.1:8000/v1 ',
    modelName: '',
    maxIters: 2,
    candidates: 3,
    timeBudgetS: 120,
    stack: 'tailwind',
    serverPath: '/opt/viscodex-lsp',
  };
  assert.deepEqual(serverSettings((key) => config[key]), {
    model_url: 'http://127.0.0.1:8000/v1',
    max_iters: 2,
    candidates: 3,
    time_budget_s: 120,
    stack: 'tailwind',
  });
});

test('values of the wrong type are not sent', () => {
  const config: Record<string, unknown> = { maxIters: '3', candidates: Number.NaN, modelUrl: 7, stack: null };
  assert.deepEqual(serverSettings((key) => config[key]), {});
});

test('every setting maps to a name the server knows (lsp_server/settings.py)', () => {
  const known = ['model_url', 'model_name', 'max_iters', 'candidates', 'time_budget_s', 'stack'];
  assert.deepEqual(Object.values(SERVER_SETTINGS).sort(), [...known].sort());
  // the camelCase the server also accepts is the same name
  for (const [ours, theirs] of Object.entries(SERVER_SETTINGS)) {
    assert.equal(ours.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), theirs);
  }
});

test('a cleared setting needs a new server; a changed one does not', () => {
  assert.equal(needsRestart({ model_url: 'a', max_iters: 2 }, { model_url: 'b', max_iters: 2 }), false);
  assert.equal(needsRestart({ model_url: 'a' }, {}), true);
  assert.equal(needsRestart({}, { model_url: 'a' }), false);
});
