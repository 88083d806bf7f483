/**
 * The extension's settings (`viscodex.*`) as the server's settings (lsp_server/settings.py): the same names,
 * camelCase here and snake_case on the wire, so `viscodex.maxIters` is the CLI's `--max-iters`. No `vscode`
 * here: the unit tests import it.
 */

export const SECTION = 'viscodex';

/** VS Code setting (under `viscodex.`) -> the server's setting. */
export const SERVER_SETTINGS = {
  modelUrl: 'model_url',
  modelName: 'model_name',
  maxIters: 'max_iters',
  candidates: 'candidates',
  timeBudgetS: 'time_budget_s',
  stack: 'stack',
} as const;

const TYPES: Record<keyof typeof SERVER_SETTINGS, 'string' | 'number'> = {
  modelUrl: 'string',
  modelName: 'string',
  maxIters: 'number',
  candidates: 'number',
  timeBudgetS: 'number',
  stack: 'string',
};

export type ServerSettings = Partial<Record<(typeof SERVER_SETTINGS)[keyof typeof SERVER_SETTINGS], string | number>>;

/**
 * The settings to send: what `read` gives for each of SERVER_SETTINGS, without empty values (an empty
 * model URL means "the server's own default": `VISCODEX_MODEL_URL` or its config file) and without values of
 * the wrong type (VS Code shows those as errors in the settings; the server would refuse them anyway).
 */
export function serverSettings(read: (key: string) => unknown): ServerSettings {
  const out: ServerSettings = {};
  for (const [ours, theirs] of Object.entries(SERVER_SETTINGS)) {
    const value = read(ours);
    const type = TYPES[ours as keyof typeof SERVER_SETTINGS];
    if (type === 'string' && typeof value === 'string' && value.trim() !== '') {
      out[theirs] = value.trim();
    } else if (type === 'number' && typeof value === 'number' && Number.isFinite(value)) {
      out[theirs] = value;
    }
  }
  return out;
}

/**
 * Whether going from `before` to `after` needs a new server: the server merges what it is sent over what it
 * has, so a setting that was cleared (back to the server's default) can only be dropped by starting over.
 */
export function needsRestart(before: ServerSettings, after: ServerSettings): boolean {
  return Object.keys(before).some((key) => !(key in after));
}
