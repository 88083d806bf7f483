/**
 * The clipboard's image, through the platform's tool (`vscode.env.clipboard` reads text only), as
 * img-clip.nvim does: Wayland `wl-paste`, X11 `xclip`, macOS `pngpaste` (else `osascript`), Windows and
 * WSL PowerShell. When none is there the message names what to install. No `vscode` here: the unit tests
 * import it.
 */

import { execFile } from 'node:child_process';

export interface Step {
  tool: string;
  args: string[];
  /** How the tool's stdout becomes the PNG's bytes. */
  output: 'binary' | 'base64' | 'osascript-hex';
  /** A command to run first whose stdout must name image/png (the clipboard's types). */
  probe?: string[];
}

export type Plan = { steps: Step[] } | { missing: string };

export interface Environment {
  platform: NodeJS.Platform;
  env: Record<string, string | undefined>;
  /** /proc/version names Microsoft: Linux under WSL, whose clipboard is Windows'. */
  wsl: boolean;
  has(tool: string): boolean;
}

const POWERSHELL_SCRIPT =
  'Add-Type -AssemblyName System.Windows.Forms; Add-Type -AssemblyName System.Drawing; ' +
  '$i = [System.Windows.Forms.Clipboard]::GetImage(); ' +
  'if ($i) { $m = New-Object System.IO.MemoryStream; $i.Save($m, [System.Drawing.Imaging.ImageFormat]::Png); ' +
  '[Convert]::ToBase64String($m.ToArray()) }';

function powershell(tool: string): Step {
  return { tool, args: ['-NoProfile', '-NonInteractive', '-Command', POWERSHELL_SCRIPT], output: 'base64' };
}

/** How to read the clipboard's image here, or what to install. */
export function plan(where: Environment): Plan {
  const { platform, env } = where;
  if (platform === 'win32') {
    return { steps: [powershell(where.has('powershell.exe') ? 'powershell.exe' : 'pwsh')] };
  }
  if (platform === 'darwin') {
    const steps: Step[] = [];
    if (where.has('pngpaste')) {
      steps.push({ tool: 'pngpaste', args: ['-'], output: 'binary' });
    }
    steps.push({ tool: 'osascript', args: ['-e', 'the clipboard as «class PNGf»'], output: 'osascript-hex' });
    return { steps };
  }
  if (where.wsl && where.has('powershell.exe')) {
    return { steps: [powershell('powershell.exe')] };
  }
  const steps: Step[] = [];
  const wayland = Boolean(env.WAYLAND_DISPLAY);
  const x11 = Boolean(env.DISPLAY);
  if (wayland && where.has('wl-paste')) {
    steps.push({ tool: 'wl-paste', args: ['--no-newline', '--type', 'image/png'], output: 'binary', probe: ['wl-paste', '--list-types'] });
  }
  if (x11 && where.has('xclip')) {
    const probe = ['xclip', '-selection', 'clipboard', '-t', 'TARGETS', '-o'];
    steps.push({ tool: 'xclip', args: ['-selection', 'clipboard', '-t', 'image/png', '-o'], output: 'binary', probe });
  }
  if (steps.length) {
    return { steps };
  }
  if (wayland) {
    return { missing: 'reading the clipboard image needs wl-paste: install wl-clipboard (apt install wl-clipboard)' };
  }
  if (x11) {
    return { missing: 'reading the clipboard image needs xclip: install it (apt install xclip)' };
  }
  return {
    missing:
      'no graphical session here (neither WAYLAND_DISPLAY nor DISPLAY is set), so there is no clipboard to read: ' +
      'VS Code runs remotely or in a browser. Paste the image into the editor instead, or pick a file',
  };
}

/** The bytes of the `osascript` answer `«data PNGf89504E47...»`. */
export function parseOsascript(text: string): Buffer | undefined {
  const match = /«data PNGf([0-9A-Fa-f]+)»/.exec(text);
  return match ? Buffer.from(match[1], 'hex') : undefined;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function isPng(data: Buffer): boolean {
  return data.length > PNG_SIGNATURE.length && data.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE);
}

export type Exec = (tool: string, args: string[]) => Promise<Buffer>;

export const execTool: Exec = (tool, args) =>
  new Promise((resolve, reject) => {
    execFile(tool, args, { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, timeout: 10_000 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    );
  });

export class ClipboardError extends Error {}

/** The clipboard's image as PNG bytes; ClipboardError says why not (no tool: what to install; no image). */
export async function readImage(where: Environment, exec: Exec = execTool): Promise<Buffer> {
  const chosen = plan(where);
  if ('missing' in chosen) {
    throw new ClipboardError(chosen.missing);
  }
  const failures: string[] = [];
  for (const step of chosen.steps) {
    try {
      if (step.probe) {
        const types = (await exec(step.probe[0], step.probe.slice(1))).toString('utf8');
        if (!/image\/png/.test(types)) {
          failures.push(`${step.tool}: the clipboard holds no image (it has ${types.trim().split(/\s+/).slice(0, 4).join(', ') || 'nothing'})`);
          continue;
        }
      }
      const out = await exec(step.tool, step.args);
      const data =
        step.output === 'base64'
          ? Buffer.from(out.toString('utf8').trim(), 'base64')
          : step.output === 'osascript-hex'
            ? parseOsascript(out.toString('utf8'))
            : out;
      if (data && isPng(data)) {
        return data;
      }
      failures.push(`${step.tool}: the clipboard holds no image`);
    } catch (error) {
      failures.push(`${step.tool}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }
  throw new ClipboardError(`no image in the clipboard (${failures.join('; ')})`);
}
