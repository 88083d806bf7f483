/**
 * `viscodex/imageToCode` as viscodex-lsp speaks it (README "In your editor: viscodex-lsp"): the params and
 * the result, camelCase on the wire. No `vscode` here: the unit tests import it.
 */

export const METHOD = 'viscodex/imageToCode';
/** The server's command; vscode-languageclient registers it, code actions carry it. */
export const SERVER_COMMAND = 'viscodex.imageToCode';
export const KINDS = ['auto', 'ui', 'chart', 'algorithm', 'fix'] as const;
export const STACKS = ['html', 'tailwind', 'react'] as const;

export type Kind = (typeof KINDS)[number];
export type Stack = (typeof STACKS)[number];

/** One picture: its bytes (base64) or a `file:` URI inside the workspace. */
export type ImageParam = { data: string; mime?: string } | { uri: string };

export interface Position {
  line: number;
  character: number;
}

export interface ImageToCodeParams {
  images: ImageParam[];
  textDocument: { uri: string };
  position?: Position;
  range?: { start: Position; end: Position };
  kind?: Kind;
  instruction?: string;
  stack?: Stack;
  apply?: boolean;
  workDoneToken?: string;
  /** A code action's ask for a picture ("Fix with a screenshot..."): the client fills `images`. */
  pickImage?: boolean;
}

export interface ImageToCodeResult {
  code: string;
  language: string;
  kind: string;
  verified: boolean;
  score: number;
  iterations: number;
  runDir: string;
  edit: unknown;
  /** With `apply: true`: whether the editor applied the edit. */
  applied?: boolean;
}

/** LSP error codes the server answers with. */
export const ErrorCodes = {
  invalidParams: -32602,
  requestFailed: -32803,
  requestCancelled: -32800,
} as const;
