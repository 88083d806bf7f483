import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ClipboardError, type Environment, isPng, parseOsascript, plan, readImage } from '../clipboard';

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('rest')]);

function where(platform: NodeJS.Platform, env: Record<string, string>, tools: string[], wsl = false): Environment {
  return { platform, env, wsl, has: (tool) => tools.includes(tool) };
}

test('Wayland uses wl-paste, X11 xclip, both when both are there', () => {
  const both = plan(where('linux', { WAYLAND_DISPLAY: 'wayland-0', DISPLAY: ':0' }, ['wl-paste', 'xclip']));
  assert.ok('steps' in both);
  assert.deepEqual(both.steps.map((s) => s.tool), ['wl-paste', 'xclip']);
  assert.deepEqual(both.steps[0].args, ['--no-newline', '--type', 'image/png']);
  assert.deepEqual(both.steps[1].probe, ['xclip', '-selection', 'clipboard', '-t', 'TARGETS', '-o']);
});

test('a missing tool is named with how to install it', () => {
  const wayland = plan(where('linux', { WAYLAND_DISPLAY: 'wayland-0' }, []));
  assert.ok('missing' in wayland && /install wl-clipboard/.test(wayland.missing));
  const x11 = plan(where('linux', { DISPLAY: ':0' }, ['wl-paste']));
  assert.ok('missing' in x11 && /install it \(apt install xclip\)/.test(x11.missing));
  const headless = plan(where('linux', {}, ['xclip']));
  assert.ok('missing' in headless && /no graphical session/.test(headless.missing));
});

test('macOS: pngpaste when installed, osascript always; Windows and WSL: PowerShell', () => {
  const mac = plan(where('darwin', {}, ['pngpaste']));
  assert.ok('steps' in mac);
  assert.deepEqual(mac.steps.map((s) => s.tool), ['pngpaste', 'osascript']);
  const bare = plan(where('darwin', {}, []));
  assert.ok('steps' in bare && bare.steps.length === 1 && bare.steps[0].output === 'osascript-hex');
  const win = plan(where('win32', {}, ['powershell.exe']));
  assert.ok('steps' in win && win.steps[0].tool === 'powershell.exe' && win.steps[0].output === 'base64');
  const wsl = plan(where('linux', {}, ['powershell.exe'], true));
  assert.ok('steps' in wsl && wsl.steps[0].tool === 'powershell.exe');
});

test('osascript hex and the PNG signature', () => {
  assert.deepEqual(parseOsascript(`«data PNGf${PNG.toString('hex').toUpperCase()}»\n`), PNG);
  assert.equal(parseOsascript('missing value'), undefined);
  assert.equal(isPng(PNG), true);
  assert.equal(isPng(Buffer.from('GIF89a....')), false);
});

test('readImage: probes the types first, skips a clipboard without an image, says why', async () => {
  const calls: string[][] = [];
  const env = where('linux', { DISPLAY: ':0' }, ['xclip']);
  const text = async (tool: string, args: string[]) => {
    calls.push([tool, ...args]);
    return Buffer.from('TARGETS\nUTF8_STRING\ntext/plain\n');
  };
  await assert.rejects(readImage(env, text), (error: Error) => error instanceof ClipboardError && /holds no image/.test(error.message));
  assert.equal(calls.length, 1); // the image itself is not asked for
  const image = async (_tool: string, args: string[]) => (args.includes('TARGETS') ? Buffer.from('image/png\n') : PNG);
  assert.deepEqual(await readImage(env, image), PNG);
  const powershell = async () => Buffer.from(`${PNG.toString('base64')}\r\n`);
  assert.deepEqual(await readImage(where('win32', {}, ['powershell.exe']), powershell), PNG);
});
