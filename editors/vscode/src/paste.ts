/**
 * Paste a picture, get code: "Generate code from image (VisCodex)" in the paste widget beside the normal
 * paste, as VS Code's document-paste sample and the Markdown extension's image paste do it. The normal
 * paste stays the default (this edit yields to text, paths, HTML and Markdown's image link), and nothing
 * runs until the user picks it: the run starts when VS Code resolves the chosen edit. Where an image has no
 * normal paste at all (a screenshot pasted into a Python file), VS Code would apply this edit at once, so it
 * is offered in a notification instead of starting a model run unasked.
 */

import * as vscode from 'vscode';

import { hasNormalPaste, isImagePath, mimeOf } from './logic';
import type { ImageParam, ImageToCodeParams } from './protocol';
import type { Runs } from './runs';

export const TITLE = 'Generate code from image (VisCodex)';
/** VS Code's Markdown extension: its image link is the normal paste of a picture into a Markdown file. */
const MARKDOWN = 'vscode.markdown-language-features';

class ImageToCodeEdit extends vscode.DocumentPasteEdit {
  constructor(
    readonly request: ImageToCodeParams,
    readonly document: vscode.TextDocument,
  ) {
    super('', TITLE, ImagePasteProvider.kind);
  }
}

/** Wait until `document` has not changed for `quietMs` (at most `maxMs`): the paste has landed. */
function settled(document: vscode.TextDocument, quietMs = 150, maxMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    let timer = setTimeout(done, quietMs);
    const cap = setTimeout(done, maxMs);
    const listening = vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document === document) {
        clearTimeout(timer);
        timer = setTimeout(done, quietMs);
      }
    });
    function done(): void {
      clearTimeout(timer);
      clearTimeout(cap);
      listening.dispose();
      resolve();
    }
  });
}

export class ImagePasteProvider implements vscode.DocumentPasteEditProvider<ImageToCodeEdit> {
  static readonly kind = vscode.DocumentDropOrPasteEditKind.Empty.append('viscodex', 'imageToCode');
  static readonly mimeTypes = ['image/*', 'files'];
  /** The normal pastes this edit yields to. */
  static readonly yieldTo = [
    vscode.DocumentDropOrPasteEditKind.Text,
    vscode.DocumentDropOrPasteEditKind.Empty.append('markdown'),
    vscode.DocumentDropOrPasteEditKind.Empty.append('html'),
    vscode.DocumentDropOrPasteEditKind.Empty.append('uri'),
    vscode.DocumentDropOrPasteEditKind.Empty.append('css'),
  ];

  constructor(private readonly runs: Runs) {}

  async provideDocumentPasteEdits(
    document: vscode.TextDocument,
    ranges: readonly vscode.Range[],
    dataTransfer: vscode.DataTransfer,
    context: vscode.DocumentPasteEditContext,
    token: vscode.CancellationToken,
  ): Promise<ImageToCodeEdit[] | undefined> {
    const images = await imagesIn(dataTransfer, token);
    if (!images.length || token.isCancellationRequested || ranges.length === 0) {
      return undefined;
    }
    // the paste replaces the selection, then the code goes where it began
    const start = ranges[0].start;
    const request: ImageToCodeParams = {
      images,
      textDocument: { uri: document.uri.toString() },
      position: { line: start.line, character: start.character },
    };
    const mimes = [...dataTransfer].map(([mime]) => mime);
    const markdown = vscode.extensions.getExtension(MARKDOWN)?.isActive ?? false;
    if (context.triggerKind === vscode.DocumentPasteTriggerKind.Automatic && !hasNormalPaste(mimes, document.languageId, markdown)) {
      void this.offer(request, document);
      return undefined;
    }
    const edit = new ImageToCodeEdit(request, document);
    edit.yieldTo = ImagePasteProvider.yieldTo;
    return [edit];
  }

  resolveDocumentPasteEdit(edit: ImageToCodeEdit): ImageToCodeEdit {
    // chosen: the (empty) edit is applied now; the run starts once the document is quiet, so the server's
    // edit is made against the document as the paste left it
    void settled(edit.document).then(() => this.runs.run(edit.request));
    return edit;
  }

  private async offer(request: ImageToCodeParams, document: vscode.TextDocument): Promise<void> {
    const chosen = await vscode.window.showInformationMessage('VisCodex: an image was pasted; VS Code has no text for it here.', TITLE);
    if (chosen === TITLE && !document.isClosed) {
      await this.runs.run(request);
    }
  }
}

/** The pictures of a paste: image data (a screenshot) or image files (copied in a file manager). */
async function imagesIn(dataTransfer: vscode.DataTransfer, token: vscode.CancellationToken): Promise<ImageParam[]> {
  const images: ImageParam[] = [];
  const seen = new Set<string>();
  for (const [mime, item] of dataTransfer) {
    const file = item.asFile();
    if (!file || !(mime.startsWith('image/') || isImagePath(file.name))) {
      continue;
    }
    const key = file.uri?.toString() ?? `${file.name}:${mime}`;
    if (seen.has(key)) {
      continue;
    }
    seen.add(key);
    if (file.uri?.scheme === 'file' && vscode.workspace.getWorkspaceFolder(file.uri)) {
      images.push({ uri: file.uri.toString() });
      continue;
    }
    const data = await file.data();
    if (token.isCancellationRequested) {
      return [];
    }
    images.push({ data: Buffer.from(data).toString('base64'), mime: mime.startsWith('image/') ? mime : (mimeOf(file.name) ?? 'image/png') });
  }
  return images;
}
