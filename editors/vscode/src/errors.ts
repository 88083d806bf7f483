/**
 * A failed run as a message with the actions that fix it: the server names the fix in its message (a
 * `viscodex-agent ...` command in backticks, a setting), and this turns it into buttons. Whether a model
 * takes images is never guessed from its name: the server asks the endpoint, and its answer ("refused an
 * image") is what is shown. No `vscode` here: the unit tests import it.
 */

import { ErrorCodes } from './protocol';

export type Action =
  /** Open a terminal with `command` typed in; `run`: press Enter too (no placeholder left to fill). */
  | { title: string; kind: 'terminal'; command: string; run: boolean }
  /** Open the settings at `query`. */
  | { title: string; kind: 'settings'; query: string }
  | { title: string; kind: 'openFolder' }
  | { title: string; kind: 'showLog' };

export interface Described {
  severity: 'error' | 'warning';
  message: string;
  actions: Action[];
}

/** The `viscodex-agent ...` / `viscodex-train ...` commands a message names in backticks. */
export function commandsIn(message: string): string[] {
  return [...message.matchAll(/`((?:viscodex-agent|viscodex-train)\s[^`]+)`/g)].map((m) => m[1]);
}

/**
 * `error` (a JSON-RPC error: code and message) as what to show. `binDir`: the folder of the server that
 * runs, so the commands run the same installation's `viscodex-agent`.
 */
export function describeError(error: { code?: number; message: string }, binDir?: string): Described {
  const text = error.message.replace(/^VisCodex:\s*/, '');
  const message = `VisCodex: ${text}`;
  const actions: Action[] = [];
  const local = (command: string): string => (binDir ? `${binDir.replace(/\/$/, '')}/${command}` : command);
  for (const command of commandsIn(text)) {
    if (command.startsWith('viscodex-agent serve')) {
      // `--model PATH` is a placeholder for the user to fill: typed, not run
      actions.push({ title: 'Start model server', kind: 'terminal', command: local(command), run: !/\bPATH\b/.test(command) });
    } else if (command.startsWith('viscodex-agent sandbox build')) {
      actions.push({ title: 'Build sandbox image', kind: 'terminal', command: local(command), run: true });
    } else if (command.startsWith('viscodex-train merge')) {
      actions.push({ title: 'Build the model', kind: 'terminal', command: local(command), run: false });
    }
  }
  if (/no model server answers|--model-url|model server|cannot be reached/i.test(text)) {
    actions.push({ title: 'Open settings', kind: 'settings', query: 'viscodex.modelUrl' });
  } else if (/refused an image|--model-name|does not know the model/i.test(text)) {
    actions.push({ title: 'Open settings', kind: 'settings', query: 'viscodex.modelName' });
  } else if (/bad viscodex setting|bad configuration/i.test(text)) {
    actions.push({ title: 'Open settings', kind: 'settings', query: 'viscodex' });
  } else if (/open a folder/i.test(text)) {
    actions.push({ title: 'Open Folder', kind: 'openFolder' });
  }
  if (error.code !== ErrorCodes.invalidParams && actions.length === 0) {
    actions.push({ title: 'Show log', kind: 'showLog' });
  }
  const severity = error.code === ErrorCodes.invalidParams ? 'warning' : 'error';
  // a message may name a command twice (the model layer's "no server, and no local model" does)
  const unique = actions.filter((action, i) => actions.findIndex((a) => a.title === action.title) === i);
  return { severity, message, actions: unique };
}
