/**
 * The language client of `viscodex-lsp` (as VS Code's lsp-sample builds one), and its lifecycle: which
 * executable, the settings it is given and kept up to date with, a restart when the executable or a cleared
 * setting needs one.
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient, LanguageClientOptions, ServerOptions, ShowMessageParams } from 'vscode-languageclient/node';

import { SERVER_COMMAND } from './protocol';
import { notFoundMessage, resolveServer } from './serverPath';
import { SECTION, type ServerSettings, needsRestart, serverSettings } from './settings';

export interface Hooks {
  /** The server's `viscodex.imageToCode` command (a code action): run it with notification progress. */
  executeCommand(args: unknown[]): Promise<unknown>;
  /** A `window/showMessage` of the server. */
  showMessage(params: ShowMessageParams): void;
}

export class ServerMissing extends Error {}

/** vscode-languageclient, loaded when the client starts (after activation): activating stays cheap. */
export type Lsp = typeof import('vscode-languageclient/node');

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export class Server implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private starting: Promise<LanguageClient> | undefined;
  private sent: ServerSettings = {};
  /** The folder of the running server's executable: its `viscodex-agent` runs the fixes. */
  binDir: string | undefined;
  /** The language client's module, once the client has started. */
  lsp: Lsp | undefined;

  /** Set before the first `ready()`. */
  hooks: Hooks = { executeCommand: async () => undefined, showMessage: () => undefined };

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** The client, started; ServerMissing (the message names the fix) when there is no server to start. */
  ready(): Promise<LanguageClient> {
    // a start that failed is tried again next time (the server may have been installed since)
    this.starting ??= this.start().catch((error: unknown) => {
      this.starting = undefined;
      throw error;
    });
    return this.starting;
  }

  settings(): ServerSettings {
    const config = vscode.workspace.getConfiguration(SECTION);
    return serverSettings((key) => config.get(key));
  }

  private command(): string {
    const setting = vscode.workspace.getConfiguration(SECTION).get<string>('serverPath') ?? '';
    // the checkout the extension may run from (editors/vscode in VisCodex's repository) is the last resort
    const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    roots.push(path.resolve(this.context.extensionPath, '..', '..'));
    const resolved = resolveServer(setting, roots, {
      platform: process.platform,
      pathDirs: (process.env.PATH ?? '').split(path.delimiter),
      home: os.homedir(),
      isExecutable,
    });
    if (!resolved.command) {
      throw new ServerMissing(notFoundMessage(setting, resolved));
    }
    return resolved.command;
  }

  private async start(): Promise<LanguageClient> {
    const command = this.command();
    const lsp = (this.lsp ??= await import('vscode-languageclient/node'));
    this.binDir = path.dirname(command);
    this.sent = this.settings();
    // stdio, without the `--stdio` flag TransportKind.stdio would add (viscodex-lsp talks stdio by default)
    const serverOptions: ServerOptions = { command, args: [] };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      outputChannel: this.log,
      initializationOptions: { ...this.sent, canPickImage: true },
      middleware: {
        executeCommand: (name, args, next) => (name === SERVER_COMMAND ? this.hooks.executeCommand(args) : next(name, args)),
        workspace: {
          // the server asks for section `viscodex`: its own names, not VS Code's
          configuration: async (params, token, next) => {
            const answer = await next(params, token);
            if (!Array.isArray(answer)) {
              return answer;
            }
            return params.items.map((item, i) => (item.section === SECTION ? this.settings() : answer[i]));
          },
        },
      },
    };
    const client = new lsp.LanguageClient('viscodex', 'VisCodex', serverOptions, clientOptions);
    client.onNotification(lsp.ShowMessageNotification.type, (params) => this.hooks.showMessage(params));
    this.client = client;
    const began = performance.now();
    this.log.info(`starting ${command}`);
    try {
      await client.start();
    } catch (error) {
      this.client = undefined;
      await client.dispose().catch(() => undefined); // its output channel is ours: it stays
      throw error;
    }
    this.log.info(`language server ready in ${(performance.now() - began).toFixed(0)} ms`);
    return client;
  }

  /** Settings changed: sent to the server, or a new server when the executable changed or a setting was cleared. */
  async configurationChanged(event: vscode.ConfigurationChangeEvent): Promise<void> {
    if (!event.affectsConfiguration(SECTION) || !this.starting) {
      return;
    }
    const now = this.settings();
    if (event.affectsConfiguration(`${SECTION}.serverPath`) || needsRestart(this.sent, now)) {
      this.log.info('settings changed: restarting the language server');
      await this.restart();
      return;
    }
    const client = await this.starting.catch(() => undefined);
    if (client) {
      this.sent = now;
      await client.sendNotification('workspace/didChangeConfiguration', { settings: now });
    }
  }

  async restart(): Promise<LanguageClient> {
    await this.stop();
    return this.ready();
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.starting = undefined;
    if (client?.isRunning()) {
      await client.stop();
    }
  }

  dispose(): void {
    void this.stop();
  }
}
