/**
 * VisCodex for VS Code: a thin client of `viscodex-lsp`. `activate` only wires things up (the language
 * client starts in the background); the work is in the modules it names.
 */

import * as vscode from 'vscode';

import { imageToCode, serverCommand } from './commands';
import { ImagePasteProvider } from './paste';
import { Runs } from './runs';
import { Server } from './server';

let server: Server | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const began = performance.now();
  const log = vscode.window.createOutputChannel('VisCodex', { log: true });
  const started = new Server(context, log);
  const ours = new Runs(started, log);
  started.hooks = {
    executeCommand: (args) => serverCommand(ours, args),
    showMessage: (params) => ours.showMessage(params),
  };
  server = started;
  /** The server could not start (a missing executable names its fix): said with the settings button. */
  const failed = (error: unknown): void => {
    void ours.showError({ message: error instanceof Error ? error.message : String(error) }, true);
  };
  context.subscriptions.push(
    log,
    server,
    vscode.commands.registerCommand('viscodex.fromImage', (uri?: vscode.Uri, uris?: vscode.Uri[]) => imageToCode(ours, uri, uris)),
    vscode.commands.registerCommand('viscodex.showRun', () => ours.showRun()),
    vscode.commands.registerCommand('viscodex.restartServer', () => started.restart().catch(failed)),
    vscode.commands.registerCommand('viscodex.showLog', () => log.show()),
    vscode.languages.registerDocumentPasteEditProvider([{ scheme: 'file' }, { scheme: 'untitled' }], new ImagePasteProvider(ours), {
      providedPasteEditKinds: [ImagePasteProvider.kind],
      pasteMimeTypes: ImagePasteProvider.mimeTypes,
    }),
    vscode.workspace.onDidChangeConfiguration((event) => started.configurationChanged(event).catch(failed)),
  );
  // the server starts in the background: the lightbulb and runs wait for it, activation does not
  started.ready().catch(failed);
  log.info(`activated in ${(performance.now() - began).toFixed(1)} ms (the language server is starting)`);
}

export function deactivate(): Promise<void> | undefined {
  return server?.stop();
}
