/**
 * The small decisions of a run, kept apart from VS Code's API so the unit tests can hold them: which
 * pictures count, how a picture travels, what the user is told, how progress advances. No `vscode` here.
 */

import * as path from 'node:path';

import type { ImageParam, ImageToCodeResult } from './protocol';

export const IMAGE_SUFFIXES = ['.png', '.jpg', '.jpeg', '.webp', '.gif'] as const;
const MIME: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
};

export function isImagePath(file: string): boolean {
  return (IMAGE_SUFFIXES as readonly string[]).includes(path.extname(file).toLowerCase());
}

export function mimeOf(file: string): string | undefined {
  return MIME[path.extname(file).toLowerCase()];
}

/** Whether `file` lies inside one of `folders` (absolute paths). */
export function inside(file: string, folders: string[]): boolean {
  return folders.some((folder) => {
    const relative = path.relative(folder, file);
    return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
  });
}

/**
 * A picture file as the request carries it: by URI when it lies in the workspace (the server reads it, and a
 * whole-file result lands next to it), else its bytes (the server refuses URIs outside the workspace).
 */
export function imageParam(file: string, uri: string, folders: string[], read: () => Uint8Array): ImageParam {
  if (inside(file, folders)) {
    return { uri };
  }
  return { data: Buffer.from(read()).toString('base64'), mime: mimeOf(file) ?? 'image/png' };
}

/** One line on a finished run. */
export function resultMessage(result: ImageToCodeResult): string {
  const score = `score ${result.score.toFixed(2)} after ${result.iterations} iteration${result.iterations === 1 ? '' : 's'}`;
  const verdict = result.verified ? 'verified' : 'best effort, not verified';
  if (!result.code.trim()) {
    return `VisCodex: no code came back (${score}); the run folder shows what the model answered.`;
  }
  const where = result.applied === false ? ' The edit was not applied (the document changed, or it was refused).' : '';
  return `VisCodex: ${result.kind} ${verdict}, ${score}.${where}`;
}

/** The report to open for "Show run": the run folder's report.json. */
export function reportOf(runDir: string): string {
  return path.join(runDir, 'report.json');
}

/**
 * Progress as VS Code counts it: LSP sends the percentage done, VS Code's `report` takes the increment.
 * Returns [increment, new total]; it never goes backwards.
 */
export function increment(previous: number, percentage: number | undefined): [number, number] {
  if (percentage === undefined || percentage <= previous) {
    return [0, previous];
  }
  const next = Math.min(100, percentage);
  return [next - previous, next];
}

/**
 * Whether a paste of a picture has a normal paste beside VisCodex's: text, a file list (VS Code inserts
 * paths), HTML, or a Markdown file once VS Code's Markdown extension is active (it inserts an image link).
 * Without one, VisCodex's edit would be the only one and VS Code would apply it at once; a model run must not
 * start unasked.
 */
export function hasNormalPaste(mimeTypes: string[], languageId: string, markdownActive: boolean): boolean {
  return (
    (languageId === 'markdown' && markdownActive) ||
    mimeTypes.some((mime) => mime === 'text/plain' || mime === 'text/uri-list' || mime === 'text/html')
  );
}
