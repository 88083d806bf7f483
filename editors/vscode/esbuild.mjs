// Bundles the extension (one CommonJS file, `vscode` left to the host) or, with --tests, the unit tests of
// its pure modules (run by node's own test runner: they import no `vscode`).
import * as esbuild from 'esbuild';
import { readdirSync } from 'node:fs';

const production = process.argv.includes('--production');
const tests = process.argv.includes('--tests');

const common = { bundle: true, format: 'cjs', platform: 'node', target: 'node20', logLevel: 'warning' };

if (tests) {
  const entryPoints = readdirSync('src/test').filter((f) => f.endsWith('.test.ts')).map((f) => `src/test/${f}`);
  // a test that reaches for `vscode` fails to build: the unit-tested modules must stay free of it
  await esbuild.build({ ...common, entryPoints, outdir: 'out/test', sourcemap: 'inline' });
} else {
  await esbuild.build({
    ...common,
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    external: ['vscode'],
    minify: production,
    sourcemap: !production,
    sourcesContent: false,
    metafile: false,
  });
}
