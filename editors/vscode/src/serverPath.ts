/**
 * Which `viscodex-lsp` to start: `viscodex.serverPath` as given when it is a path; a bare name is looked up
 * on PATH, then in the `.venv` of each workspace folder and of the VisCodex checkout the extension runs from.
 * No `vscode` here: the unit tests import it.
 */

import * as path from 'node:path';

export const DEFAULT_SERVER = 'viscodex-lsp';

export interface Probe {
  platform: NodeJS.Platform;
  /** PATH's entries. */
  pathDirs: string[];
  home: string;
  isExecutable(file: string): boolean;
}

export interface Resolved {
  /** The executable, or undefined when none of `tried` is one. */
  command?: string;
  tried: string[];
}

function venvBin(root: string, name: string, platform: NodeJS.Platform): string {
  return platform === 'win32' ? path.join(root, '.venv', 'Scripts', `${name}.exe`) : path.join(root, '.venv', 'bin', name);
}

/** `setting` resolved; `roots` are the folders whose `.venv` may hold the server (workspace folders, checkout). */
export function resolveServer(setting: string, roots: string[], probe: Probe): Resolved {
  const value = (setting || DEFAULT_SERVER).trim();
  const tried: string[] = [];
  const check = (file: string): string | undefined => {
    tried.push(file);
    return probe.isExecutable(file) ? file : undefined;
  };
  if (value.includes('/') || value.includes('\\')) {
    const expanded = value === '~' || value.startsWith('~/') ? path.join(probe.home, value.slice(1)) : value;
    const absolute = path.isAbsolute(expanded) ? expanded : path.resolve(roots[0] ?? probe.home, expanded);
    return { command: check(absolute), tried };
  }
  const suffixes = probe.platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  for (const dir of probe.pathDirs.filter((d) => d !== '')) {
    for (const suffix of suffixes) {
      const found = check(path.join(dir, value + suffix));
      if (found) {
        return { command: found, tried };
      }
    }
  }
  for (const root of roots) {
    const found = check(venvBin(root, value, probe.platform));
    if (found) {
      return { command: found, tried };
    }
  }
  return { tried };
}

/** The message for a server that is not there, naming what to do. */
export function notFoundMessage(setting: string, resolved: Resolved): string {
  const where = resolved.tried.length > 4 ? `${resolved.tried.slice(0, 4).join(', ')}, ...` : resolved.tried.join(', ');
  return (
    `VisCodex: cannot find the language server "${setting || DEFAULT_SERVER}" (looked at ${where}). ` +
    'Install VisCodex (./bootstrap.sh in its checkout, or pip install viscodex) or set viscodex.serverPath to viscodex-lsp.'
  );
}
