import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';

import { notFoundMessage, resolveServer, type Probe } from '../serverPath';

function probe(executables: string[], pathDirs = ['/usr/bin', '/usr/local/bin'], platform: NodeJS.Platform = 'linux'): Probe {
  return { platform, pathDirs, home: '/home/me', isExecutable: (file) => executables.includes(file) };
}

test('the default is viscodex-lsp on PATH', () => {
  const found = resolveServer('', ['/ws'], probe(['/usr/local/bin/viscodex-lsp', '/ws/.venv/bin/viscodex-lsp']));
  assert.equal(found.command, '/usr/local/bin/viscodex-lsp');
});

test('else the .venv of a workspace folder, then of the checkout', () => {
  const roots = ['/ws', '/src/viscodex'];
  assert.equal(resolveServer('viscodex-lsp', roots, probe(['/src/viscodex/.venv/bin/viscodex-lsp'])).command, '/src/viscodex/.venv/bin/viscodex-lsp');
  assert.equal(resolveServer('viscodex-lsp', roots, probe(['/ws/.venv/bin/viscodex-lsp', '/src/viscodex/.venv/bin/viscodex-lsp'])).command, '/ws/.venv/bin/viscodex-lsp');
});

test('a path is taken as it is (~ expanded, relative to the first folder), never searched', () => {
  assert.equal(resolveServer('~/bin/lsp', ['/ws'], probe(['/home/me/bin/lsp'])).command, '/home/me/bin/lsp');
  assert.equal(resolveServer('tools/lsp', ['/ws'], probe(['/ws/tools/lsp'])).command, path.resolve('/ws/tools/lsp'));
  const missing = resolveServer('/opt/none/viscodex-lsp', ['/ws'], probe(['/usr/bin/viscodex-lsp']));
  assert.equal(missing.command, undefined);
  assert.deepEqual(missing.tried, ['/opt/none/viscodex-lsp']);
});

test('Windows looks for .exe on PATH and in .venv\\Scripts', () => {
  const found = resolveServer('viscodex-lsp', ['C:\\ws'], probe([path.join('C:\\ws', '.venv', 'Scripts', 'viscodex-lsp.exe')], [], 'win32'));
  assert.equal(found.command, path.join('C:\\ws', '.venv', 'Scripts', 'viscodex-lsp.exe'));
});

test('nothing found: the message says where it looked and what to do', () => {
  const resolved = resolveServer('viscodex-lsp', ['/ws'], probe([]));
  assert.equal(resolved.command, undefined);
  const message = notFoundMessage('viscodex-lsp', resolved);
  assert.match(message, /\/usr\/bin\/viscodex-lsp/);
  assert.match(message, /viscodex\.serverPath/);
  assert.match(message, /bootstrap\.sh|pip install/);
});
