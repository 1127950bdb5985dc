/**
 * Pages for Chromium from code bundled the way a user's bundler would (esbuild, platform browser): the
 * browser entry's tests (test/browser) and the packed package's (test/package) share them.
 */
import * as esbuild from 'esbuild';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { builtinModules } from 'node:module';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';

/** Bundles `entry` (a file, or code given as `{ code }`) for the browser, resolving from `cwd`. */
export function bundleForBrowser(
  entry: string | { code: string },
  opts: { cwd: string; alias?: Record<string, string> },
): Promise<esbuild.BuildResult<{ write: false; metafile: true }>> {
  return esbuild.build({
    ...(typeof entry === 'string'
      ? { entryPoints: [path.resolve(opts.cwd, entry)] }
      : { stdin: { contents: entry.code, resolveDir: opts.cwd, sourcefile: 'entry.js' } }),
    ...(opts.alias ? { alias: opts.alias } : {}),
    absWorkingDir: opts.cwd,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
    outdir: 'out',
  });
}

const isBuiltin = (spec: string): boolean => spec.startsWith('node:') || builtinModules.includes(spec);

/**
 * Every Node builtin (node:…, or a bare fs, path, …) a bundle holds, as `file → builtin`: any that a file
 * `ours` says is droptune's asks for, and any other that no package's browser field stubbed out
 * (esbuild marks those "(disabled)": tfjs and seedrandom stub fs and crypto for themselves).
 */
export function builtinImports(metafile: esbuild.Metafile, ours: (file: string) => boolean): string[] {
  return Object.entries(metafile.inputs).flatMap(([file, input]) =>
    input.imports
      .filter((i) => isBuiltin(i.original ?? i.path) && (ours(file) || !i.path.startsWith('(disabled)')))
      .map((i) => `${file} → ${i.original ?? i.path}`),
  );
}

/**
 * Serves each script as a page (/NAME.html loads /NAME.js), the wasm backend's binaries under /wasm/, and
 * `files` (JSON, by path) as they are.
 */
export async function servePages(
  scripts: ReadonlyMap<string, string>,
  wasmDir: string,
  files: ReadonlyMap<string, string> = new Map(),
): Promise<{ origin: string; close: () => void }> {
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const page = /^\/([\w-]+)\.(html|js)$/.exec(url);
    if (files.has(url)) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(files.get(url));
    } else if (page && scripts.has(page[1]!)) {
      const html = `<!doctype html><title>droptune</title><body><script type="module" src="/${page[1]}.js"></script>`;
      res.writeHead(200, { 'content-type': page[2] === 'html' ? 'text/html' : 'text/javascript' });
      res.end(page[2] === 'html' ? html : scripts.get(page[1]!));
    } else if (/^\/wasm\/tfjs-backend-wasm[a-z-]*\.wasm$/.test(url)) {
      res.writeHead(200, { 'content-type': 'application/wasm' });
      res.end(readFileSync(path.join(wasmDir, path.basename(url))));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { origin: `http://127.0.0.1:${port}`, close: () => server.close() };
}

/** What a page left on globalThis.__droptune when it was done, what it logged, and its uncaught errors. */
export interface PageRun<T, A> {
  value: T;
  console: string[];
  errors: string[];
  /** What `inspect` found in the page once it was done. */
  inspected: A | undefined;
}

/**
 * Opens `url` in a new tab, waits until the page sets globalThis.__droptune (its script's mark of done),
 * then runs `inspect` on the tab before closing it.
 */
export async function runPage<T, A = undefined>(
  browser: BrowserContext,
  url: string,
  opts: { timeout?: number; inspect?: (tab: Page) => Promise<A> } = {},
): Promise<PageRun<T, A>> {
  const tab = await browser.newPage();
  const errors: string[] = [];
  const lines: string[] = [];
  tab.on('pageerror', (err) => errors.push(err.message));
  tab.on('console', (msg) => lines.push(msg.text()));
  try {
    await tab.goto(url);
    await tab
      .waitForFunction(() => (globalThis as { __droptune?: unknown }).__droptune !== undefined, null, {
        timeout: opts.timeout ?? 45_000,
      })
      .catch((err: Error) => {
        throw new Error(`${url} did not finish: ${errors.join('; ') || err.message.split('\n')[0]}`);
      });
    const value = await tab.evaluate(() => (globalThis as unknown as { __droptune: T }).__droptune);
    const inspected = opts.inspect ? await opts.inspect(tab) : undefined;
    return { value, console: lines, errors, inspected };
  } finally {
    await tab.close();
  }
}

/** A page's script for a README block: the block as pasted, then the mark that its last await returned. */
export const pageOfBlock = (code: string): string => `${code}\nglobalThis.__droptune = { done: true };\n`;

/** The JSON file the page's first `a[download]` link gives (the README block's run log), read in the page. */
export function downloadedJson(tab: Page): Promise<unknown> {
  return tab.evaluate(async () => {
    const doc = (globalThis as unknown as { document: { querySelector(s: string): { href: string } | null } }).document;
    const link = doc.querySelector('a[download]');
    return link ? ((await (await fetch(link.href)).json()) as unknown) : null;
  });
}
