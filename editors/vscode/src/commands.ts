/**
 * "VisCodex: Image to Code": a picture from a file (the picker, or the explorer's context menu on an image)
 * or from the clipboard, into the active editor at the cursor (over the selection), or, with no editor, into
 * a new file next to the picture. And the server's own command, which its code actions carry.
 */

import * as fs from 'node:fs';
import * as vscode from 'vscode';

import { ClipboardError, readImage } from './clipboard';
import { IMAGE_SUFFIXES, imageParam, isImagePath } from './logic';
import type { ImageParam, ImageToCodeParams } from './protocol';
import type { Runs } from './runs';

const FILE = 'Image file...';
const CLIPBOARD = 'Image in the clipboard';

function folders(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
}

function fromFile(uri: vscode.Uri): ImageParam {
  return imageParam(uri.fsPath, uri.toString(), folders(), () => fs.readFileSync(uri.fsPath));
}

async function fromClipboard(): Promise<ImageParam[] | undefined> {
  let wsl = false;
  try {
    wsl = /microsoft/i.test(fs.readFileSync('/proc/version', 'utf8'));
  } catch {
    // not Linux
  }
  const which = (tool: string): boolean =>
    (process.env.PATH ?? '').split(process.platform === 'win32' ? ';' : ':').some((dir) => {
      try {
        fs.accessSync(`${dir}/${tool}`, fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  try {
    const png = await readImage({ platform: process.platform, env: process.env, wsl, has: which });
    return [{ data: png.toString('base64'), mime: 'image/png' }];
  } catch (error) {
    if (error instanceof ClipboardError) {
      void vscode.window.showWarningMessage(`VisCodex: ${error.message}.`);
      return undefined;
    }
    throw error;
  }
}

/** Ask where the picture is: a file (the picker) or the clipboard. */
export async function pickImages(title: string): Promise<ImageParam[] | undefined> {
  const where = await vscode.window.showQuickPick(
    [
      { label: FILE, description: IMAGE_SUFFIXES.join(' ') },
      { label: CLIPBOARD, description: 'wl-paste, xclip, pngpaste or PowerShell reads it' },
    ],
    { title, placeHolder: 'Where is the picture?' },
  );
  if (!where) {
    return undefined;
  }
  if (where.label === CLIPBOARD) {
    return fromClipboard();
  }
  const picked = await vscode.window.showOpenDialog({
    title,
    canSelectMany: true,
    openLabel: 'Generate code',
    filters: { Images: IMAGE_SUFFIXES.map((s) => s.slice(1)) },
  });
  return picked?.length ? picked.map(fromFile) : undefined;
}

/** Where the code goes: the active editor's cursor or selection; else a new file next to the picture. */
function target(image?: vscode.Uri): Pick<ImageToCodeParams, 'textDocument' | 'position' | 'range'> | undefined {
  const editor = vscode.window.activeTextEditor;
  if (editor && ['file', 'untitled'].includes(editor.document.uri.scheme)) {
    const { start, end, isEmpty } = editor.selection;
    const at = (p: vscode.Position) => ({ line: p.line, character: p.character });
    return isEmpty
      ? { textDocument: { uri: editor.document.uri.toString() }, position: at(start) }
      : { textDocument: { uri: editor.document.uri.toString() }, range: { start: at(start), end: at(end) } };
  }
  // No editor: the server writes a whole file next to a picture of the workspace (named after it), or into
  // the workspace folder. The "document" is that folder: a place, not a file to read.
  const inWorkspace = image && vscode.workspace.getWorkspaceFolder(image);
  const folder = inWorkspace ? vscode.Uri.joinPath(image, '..') : vscode.workspace.workspaceFolders?.[0]?.uri;
  return folder ? { textDocument: { uri: folder.toString() }, position: { line: 0, character: 0 } } : undefined;
}

export async function imageToCode(runs: Runs, uri?: vscode.Uri, uris?: vscode.Uri[]): Promise<void> {
  const title = 'VisCodex: Image to Code';
  const chosen = (uris?.length ? uris : uri ? [uri] : []).filter((u) => isImagePath(u.fsPath));
  const images = chosen.length ? chosen.map(fromFile) : await pickImages(title);
  if (!images?.length) {
    return;
  }
  const where = target(chosen[0]);
  if (!where) {
    void runs.showError({ message: 'open a folder (a workspace) first: runs are kept in its .viscodex/runs' }, false);
    return;
  }
  await runs.run({ images, ...where });
}

/**
 * The server's `viscodex.imageToCode` (what its code actions carry), through the same run as the command:
 * progress in a notification, with Cancel. "Fix with a screenshot..." asks for the picture first.
 */
export async function serverCommand(runs: Runs, args: unknown[]): Promise<unknown> {
  const params = args[0] as ImageToCodeParams | undefined;
  if (!params || typeof params !== 'object') {
    return undefined;
  }
  if (params.pickImage || !params.images?.length) {
    const images = await pickImages('VisCodex: Fix with a screenshot');
    if (!images?.length) {
      return undefined;
    }
    return runs.run({ ...params, images, pickImage: undefined });
  }
  return runs.run(params);
}
