/**
 * One run of `viscodex/imageToCode`: a notification with the server's progress and a Cancel button that
 * reaches the server (`$/cancelRequest` and `window/workDoneProgress/cancel`: the run and its container stop),
 * the edit applied by the server (inserted, or a whole file created and opened), and what happened told with
 * the buttons that help: "Show run" opens the run folder's report; a failure gets the action that fixes it.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient, ShowMessageParams } from 'vscode-languageclient/node';

import { type Action, describeError } from './errors';
import { increment, reportOf, resultMessage } from './logic';
import { ErrorCodes, METHOD, type ImageToCodeParams, type ImageToCodeResult } from './protocol';
import type { Server } from './server';

/** LSP's MessageType (the module is loaded only with the client). */
const MessageType = { Error: 1, Warning: 2 } as const;

function responseCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

export class Runs {
  private serial = 0;
  private inFlight = 0;
  lastRunDir: string | undefined;

  constructor(
    private readonly server: Server,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Run `params` (the server applies the edit); the result, or undefined when it failed or was cancelled. */
  async run(params: ImageToCodeParams): Promise<ImageToCodeResult | undefined> {
    const token = `viscodex-vscode-${process.pid}-${++this.serial}`;
    const { pickImage: _pick, ...request } = params;
    let client: LanguageClient;
    try {
      client = await this.server.ready();
    } catch (error) {
      void this.showError({ message: error instanceof Error ? error.message : String(error) }, true);
      return undefined;
    }
    this.inFlight++;
    let outcome: { result?: ImageToCodeResult; error?: { code?: number; message: string }; cancelled?: boolean };
    try {
      outcome = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'VisCodex', cancellable: true },
        async (progress, cancel) => {
          let done = 0;
          progress.report({ message: 'starting' });
          const progressType = (this.server.lsp as NonNullable<Server['lsp']>).WorkDoneProgress.type;
          const listening = client.onProgress(progressType, token, (value) => {
            if (value.kind !== 'end') {
              const [step, total] = increment(done, value.percentage);
              done = total;
              progress.report({ message: value.message, increment: step });
            }
          });
          // Cancel: the request's token sends $/cancelRequest; the server stops the run and kills its container
          const cancelling = cancel.onCancellationRequested(() => this.log.info(`run ${token}: cancelled by the user`));
          try {
            const sent = { ...request, apply: true, workDoneToken: token };
            const result = await client.sendRequest<ImageToCodeResult>(METHOD, sent, cancel);
            return { result };
          } catch (error) {
            const code = responseCode(error);
            if (cancel.isCancellationRequested || code === ErrorCodes.requestCancelled) {
              return { cancelled: true };
            }
            if (code !== undefined && error instanceof Error) {
              return { error: { code, message: error.message } };
            }
            return { error: { message: error instanceof Error ? error.message : String(error) } };
          } finally {
            listening.dispose();
            cancelling.dispose();
          }
        },
      );
    } finally {
      this.inFlight--;
    }
    if (outcome.cancelled) {
      void vscode.window.showInformationMessage('VisCodex: cancelled; the run and its sandbox container were stopped.');
      return undefined;
    }
    if (outcome.error) {
      this.log.warn(`run ${token} failed: ${outcome.error.message}`);
      void this.showError(outcome.error, false);
      return undefined;
    }
    const result = outcome.result as ImageToCodeResult;
    this.lastRunDir = result.runDir;
    this.log.info(`run ${token}: ${resultMessage(result)} (${result.runDir})`);
    void this.announce(result);
    return result;
  }

  private async announce(result: ImageToCodeResult): Promise<void> {
    const buttons = ['Show run'];
    if (result.applied === false && result.code.trim()) {
      buttons.push('Open as new file');
    }
    const message = resultMessage(result);
    const show = result.verified ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
    const chosen = await show(message, ...buttons);
    if (chosen === 'Show run') {
      await this.showRun(result.runDir);
    } else if (chosen === 'Open as new file') {
      const document = await vscode.workspace.openTextDocument({ content: result.code, language: result.language });
      await vscode.window.showTextDocument(document);
    }
  }

  /** The run folder's report (report.json), and the best candidate's render beside it when there is one. */
  async showRun(runDir = this.lastRunDir): Promise<void> {
    if (!runDir) {
      void vscode.window.showInformationMessage('VisCodex: no run yet in this window.');
      return;
    }
    const report = reportOf(runDir);
    if (!fs.existsSync(report)) {
      void vscode.window.showWarningMessage(`VisCodex: ${report} is not there (was the run folder removed?)`);
      return;
    }
    await vscode.window.showTextDocument(vscode.Uri.file(report), { preview: false });
    const render = bestRender(report);
    if (render) {
      await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(render), vscode.ViewColumn.Beside);
    }
  }

  /** A failure with the buttons that fix it. `local`: the extension's own failure (no server to start). */
  async showError(error: { code?: number; message: string }, local: boolean): Promise<void> {
    const described = describeError(error, this.server.binDir);
    if (local) {
      described.actions.unshift({ title: 'Open settings', kind: 'settings', query: 'viscodex.serverPath' });
    }
    const show = described.severity === 'error' ? vscode.window.showErrorMessage : vscode.window.showWarningMessage;
    const chosen = await show(described.message, ...described.actions.map((a) => a.title));
    const action = described.actions.find((a) => a.title === chosen);
    if (action) {
      await this.perform(action);
    }
  }

  private async perform(action: Action): Promise<void> {
    switch (action.kind) {
      case 'terminal': {
        const terminal = vscode.window.createTerminal({ name: `VisCodex: ${action.title}` });
        terminal.show();
        terminal.sendText(action.command, action.run);
        return;
      }
      case 'settings':
        // VisCodex's settings belong to the machine the server runs on: in a remote window (Remote-SSH,
        // code-server) VS Code reads them from the remote settings only, so that is where the button goes
        await vscode.commands.executeCommand(
          vscode.env.remoteName ? 'workbench.action.openRemoteSettings' : 'workbench.action.openSettings',
          { query: action.query },
        );
        return;
      case 'openFolder':
        await vscode.commands.executeCommand('workbench.action.files.openFolder');
        return;
      case 'showLog':
        this.log.show();
        return;
    }
  }

  /**
   * The server's `window/showMessage`. While a run of ours is in flight, its error comes back as the request's
   * error too and is shown then, with its actions: the same message is not shown twice.
   */
  showMessage(params: ShowMessageParams): void {
    if (params.type === MessageType.Error && this.inFlight > 0) {
      this.log.info(`server message (shown with the run's error): ${params.message}`);
      return;
    }
    if (params.type === MessageType.Error || params.type === MessageType.Warning) {
      void this.showError({ message: params.message, code: params.type === MessageType.Warning ? ErrorCodes.invalidParams : undefined }, false);
      return;
    }
    void vscode.window.showInformationMessage(params.message);
  }
}

/** The render of the best candidate a run report names (report.json's `best` is its code file), if any. */
function bestRender(report: string): string | undefined {
  try {
    const data = JSON.parse(fs.readFileSync(report, 'utf8')) as { best?: string | null };
    if (typeof data.best === 'string' && data.best) {
      const best = path.isAbsolute(data.best) ? data.best : path.join(path.dirname(report), data.best);
      const render = path.join(path.dirname(best), 'render.png');
      return fs.existsSync(render) ? render : undefined;
    }
  } catch {
    // a report we cannot read is still opened; only the render is left out
  }
  return undefined;
}
