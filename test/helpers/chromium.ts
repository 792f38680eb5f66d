/**
 * Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
 * JSON messages separated by NUL bytes on file descriptors 3 and 4), so tests open a page,
 * collect console errors and network requests, evaluate code and take screenshots with
 * no WebSocket client and no browser-automation package.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** Debian's package installs `chromium`; other systems name it otherwise. */
const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

export function findChromium(): string | null {
  const chosen = process.env.PROVCHECK_CHROMIUM;
  if (chosen !== undefined && chosen !== '') return chosen;
  for (const name of CANDIDATES) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (found.status === 0 && found.stdout.trim() !== '') return found.stdout.trim();
  }
  return null;
}

interface Pending {
  resolve(value: Record<string, unknown>): void;
  reject(error: Error): void;
}

export interface PageProblems {
  /** console.error/warn calls, uncaught exceptions, and browser log entries at level error. */
  readonly console: string[];
  /** Every request the page made for something other than itself (file: or data: URLs aside). */
  readonly network: string[];
}

export class Chromium {
  private readonly child: ChildProcess;
  private readonly profile: string;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners: ((method: string, params: Record<string, unknown>, sessionId?: string) => void)[] = [];
  private nextId = 1;
  private buffer = '';
  private stderr = '';

  private constructor(executable: string) {
    this.profile = mkdtempSync(join(tmpdir(), 'provcheck-chromium-'));
    this.child = spawn(
      executable,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-extensions',
        '--disable-default-apps',
        '--no-first-run',
        '--no-default-browser-check',
        '--hide-scrollbars',
        '--remote-debugging-pipe',
        `--user-data-dir=${this.profile}`,
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    const output = this.child.stdio[4] as Readable;
    output.setEncoding('utf8');
    output.on('data', (chunk: string) => this.receive(chunk));
    this.child.on('exit', (code) => {
      for (const { reject } of this.pending.values()) reject(new Error(`chromium exited (${code}): ${this.stderr}`));
      this.pending.clear();
    });
  }

  static async launch(executable: string): Promise<Chromium> {
    const browser = new Chromium(executable);
    await browser.send('Browser.getVersion');
    return browser;
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const input = this.child.stdio[3] as Writable;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      input.write(`${JSON.stringify({ id, method, params, ...(sessionId === undefined ? {} : { sessionId }) })}\0`);
    });
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    let end = this.buffer.indexOf('\0');
    while (end >= 0) {
      const message = JSON.parse(this.buffer.slice(0, end)) as {
        id?: number;
        method?: string;
        params?: Record<string, unknown>;
        result?: Record<string, unknown>;
        error?: { message: string };
        sessionId?: string;
      };
      this.buffer = this.buffer.slice(end + 1);
      if (message.id !== undefined) {
        const waiting = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.error !== undefined) waiting?.reject(new Error(message.error.message));
        else waiting?.resolve(message.result ?? {});
      } else if (message.method !== undefined) {
        for (const listener of this.listeners) listener(message.method, message.params ?? {}, message.sessionId);
      }
      end = this.buffer.indexOf('\0');
    }
  }

  /** Opens `url` in a new tab of the given size and waits for its load event. */
  async open(url: string, viewport: { width: number; height: number; mobile: boolean }): Promise<Page> {
    const { targetId } = (await this.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const problems: PageProblems = { console: [], network: [] };
    let loaded: () => void = () => undefined;
    const load = new Promise<void>((resolve) => (loaded = resolve));
    this.listeners.push((method, params, session) => {
      if (session !== sessionId) return;
      if (method === 'Page.loadEventFired') loaded();
      if (method === 'Runtime.consoleAPICalled' && (params.type === 'error' || params.type === 'warning')) {
        problems.console.push(`console.${String(params.type)}: ${JSON.stringify(params.args)}`);
      }
      if (method === 'Runtime.exceptionThrown') problems.console.push(`exception: ${JSON.stringify(params.exceptionDetails)}`);
      if (method === 'Log.entryAdded') {
        const entry = params.entry as { level?: string; text?: string; url?: string };
        if (entry.level === 'error') problems.console.push(`log: ${entry.text ?? ''} ${entry.url ?? ''}`);
      }
      if (method === 'Network.requestWillBeSent') {
        const requested = (params.request as { url?: string }).url ?? '';
        if (!requested.startsWith('file:') && !requested.startsWith('data:') && requested !== url) problems.network.push(requested);
      }
    });
    for (const domain of ['Page', 'Runtime', 'Log', 'Network']) await this.send(`${domain}.enable`, {}, sessionId);
    await this.send('Emulation.setDeviceMetricsOverride', { ...viewport, deviceScaleFactor: 1 }, sessionId);
    await this.send('Page.navigate', { url }, sessionId);
    await load;
    return new Page(this, sessionId, viewport, problems);
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => {
      if (this.child.exitCode !== null) resolve();
      else this.child.once('exit', () => resolve());
    });
    await this.send('Browser.close').catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    rmSync(this.profile, { recursive: true, force: true });
  }
}

export class Page {
  constructor(
    private readonly browser: Chromium,
    private readonly sessionId: string,
    private readonly viewport: { width: number; height: number; mobile: boolean },
    readonly problems: PageProblems,
  ) {}

  /** Evaluates an expression in the page and returns its value (JSON-serialisable). */
  async evaluate<T>(expression: string): Promise<T> {
    const reply = (await this.browser.send(
      'Runtime.evaluate',
      { expression, returnByValue: true, awaitPromise: true },
      this.sessionId,
    )) as { result: { value?: T }; exceptionDetails?: unknown };
    if (reply.exceptionDetails !== undefined) throw new Error(`evaluate failed: ${JSON.stringify(reply.exceptionDetails)}`);
    return reply.result.value as T;
  }

  /** A PNG of the whole page (not only the viewport), at the page's width. */
  async screenshot(media: 'screen' | 'print' = 'screen'): Promise<Buffer> {
    await this.browser.send('Emulation.setEmulatedMedia', { media }, this.sessionId);
    const height = await this.evaluate<number>('Math.ceil(document.documentElement.scrollHeight)');
    await this.browser.send(
      'Emulation.setDeviceMetricsOverride',
      { ...this.viewport, height: Math.min(height, 16_000), deviceScaleFactor: 1 },
      this.sessionId,
    );
    const { data } = (await this.browser.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, this.sessionId)) as {
      data: string;
    };
    await this.browser.send('Emulation.setDeviceMetricsOverride', { ...this.viewport, deviceScaleFactor: 1 }, this.sessionId);
    await this.browser.send('Emulation.setEmulatedMedia', { media: '' }, this.sessionId);
    return Buffer.from(data, 'base64');
  }

  /** A PNG of the first element matching `selector`. */
  async screenshotOf(selector: string): Promise<Buffer> {
    const box = await this.evaluate<{ x: number; y: number; width: number; height: number } | null>(
      `(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) return null; const r = e.getBoundingClientRect();` +
        ` return { x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height }; })()`,
    );
    if (box === null) throw new Error(`no element matches ${selector}`);
    const { data } = (await this.browser.send(
      'Page.captureScreenshot',
      { format: 'png', captureBeyondViewport: true, clip: { ...box, scale: 1 } },
      this.sessionId,
    )) as { data: string };
    return Buffer.from(data, 'base64');
  }

  /** The page printed to PDF (A4): what an editor gets from "Print". */
  async pdf(): Promise<Buffer> {
    const { data } = (await this.browser.send('Page.printToPDF', { paperWidth: 8.27, paperHeight: 11.69, printBackground: true }, this.sessionId)) as {
      data: string;
    };
    return Buffer.from(data, 'base64');
  }
}
