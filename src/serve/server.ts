/**
 * The dashboard's HTTP layer, on node:http: a page, its script, the vega builds from node_modules (no
 * CDN: it works offline), a JSON API over the catalog, and Server-Sent Events for live views. About ten
 * fixed routes and one SSE stream do not earn a framework. Read-only: GET and HEAD only, nothing written.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ConfigError } from '../core/errors.js';
import { Catalog, HttpError, fileSignature } from './catalog.js';
import { APP_JS, INDEX_HTML } from './page.js';
import { compareView, experimentView, runView } from './views.js';
import { WatchHub } from './watch.js';

export interface DashboardOptions {
  /** The folder of runs and experiments (or one run folder) to show. */
  root: string;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 8080 */
  port?: number;
  /** How often live views look for changes besides fs.watch. @default 1000 */
  pollMs?: number;
  /** Where request failures that are bugs are reported. @default stderr */
  log?: (message: string) => void;
  /** Event streams (live tabs) open at once; one more is answered 503. @default 32 */
  maxStreams?: number;
}

/** Live tabs a dashboard serves at once: each holds a socket and a watch, and redraws on every epoch. */
export const MAX_STREAMS = 32;

export interface Dashboard {
  url: string;
  host: string;
  port: number;
  catalog: Catalog;
  /** The shared watches: tests check that closed clients release theirs. */
  hub: WatchHub;
  /** Open event streams. */
  streams(): number;
  close(): Promise<void>;
}

/** The browser builds of vega, vega-lite and vega-embed, found beside each package's entry point. */
const VENDOR: Record<string, { pkg: string; file: string }> = {
  '/vendor/vega.min.js': { pkg: 'vega', file: 'vega.min.js' },
  '/vendor/vega-lite.min.js': { pkg: 'vega-lite', file: 'vega-lite.min.js' },
  '/vendor/vega-embed.min.js': { pkg: 'vega-embed', file: 'vega-embed.min.js' },
};
const vendorCache = new Map<string, Buffer>();
function vendorFile(route: string): Buffer {
  let body = vendorCache.get(route);
  if (body === undefined) {
    const { pkg, file } = VENDOR[route]!;
    // every one of them keeps its entry point and its browser build in build/
    body = readFileSync(path.join(path.dirname(fileURLToPath(import.meta.resolve(pkg))), file));
    vendorCache.set(route, body);
  }
  return body;
}

const LOOPBACK = new Set(['localhost', '::1', '[::1]']);
const LOOPBACK_V4 =
  /^127\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
/** A loopback address or name: a dotted-quad 127.x.y.z, localhost or ::1 (never a name that merely starts with 127.). */
export const isLoopback = (host: string): boolean => LOOPBACK.has(host.toLowerCase()) || LOOPBACK_V4.test(host);

/**
 * Whether a request's Host header names this dashboard: a loopback address, the --host it was started on,
 * or (on a wildcard --host, 0.0.0.0 or ::) any IP address. A page elsewhere reaches a dashboard through
 * a name it controls (DNS rebinding): names other than these are refused.
 */
export function hostAllowed(hostHeader: string, servedHost: string): boolean {
  const hostname = hostHeader.replace(/:\d+$/, '').toLowerCase();
  const served = servedHost.toLowerCase();
  if (isLoopback(hostname) || hostname === served || hostname === `[${served}]`) return true;
  return (served === '0.0.0.0' || served === '::') && isIP(hostname.replace(/^\[(.*)\]$/, '$1')) !== 0;
}

/** The warning a --host other than loopback deserves, or undefined. */
export function hostWarning(host: string): string | undefined {
  if (isLoopback(host)) return undefined;
  return `warning: --host ${host} serves your runs (options, metrics, folder names) to anyone who can reach this machine there, with no login; the default 127.0.0.1 keeps them on this machine`;
}

export function checkPort(port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`--port must be a whole number in [0, 65535], got ${String(port)}`);
  return port;
}

// vega compiles its expressions with new Function: 'unsafe-eval' is the price of drawing in the browser
const CSP =
  "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'";

export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? ((m: string) => process.stderr.write(`dashboard: ${m}\n`));
  const catalog = new Catalog(opts.root);
  const hub = new WatchHub({ pollMs: opts.pollMs });
  const open = new Set<ServerResponse>();
  const maxStreams = opts.maxStreams ?? MAX_STREAMS;

  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer, head: boolean): void => {
    res.writeHead(status, {
      'content-type': type,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': CSP,
    });
    res.end(head ? undefined : body);
  };
  const json = (res: ServerResponse, status: number, value: unknown, head: boolean) =>
    send(res, status, 'application/json; charset=utf-8', JSON.stringify(value), head);

  /** An event stream: `build` now, and again each time the watch under `key` sees a change. */
  const stream = (
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    probe: () => string,
    build: () => unknown,
    dir?: string,
  ): void => {
    if (open.size >= maxStreams) {
      const reason = `too many live views: ${open.size} event streams are open (at most ${maxStreams}); close a dashboard tab and reload`;
      return json(res, 503, { error: reason }, false);
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
    });
    res.write('retry: 2000\n\n');
    const push = () => {
      let event: string;
      let data: string;
      try {
        [event, data] = ['update', JSON.stringify(build())];
      } catch (err) {
        [event, data] = ['problem', JSON.stringify({ error: (err as Error).message })];
      }
      res.write(`event: ${event}\ndata: ${data}\n\n`);
    };
    push();
    const unsubscribe = hub.subscribe(key, probe, push, dir);
    // a comment now and then keeps proxies from closing an idle stream
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    ping.unref();
    open.add(res);
    const done = () => {
      clearInterval(ping);
      unsubscribe();
      open.delete(res);
    };
    req.on('close', done);
    res.on('close', done);
  };

  const listSignature = () => {
    const { runs, experiments } = catalog.scan();
    return JSON.stringify([experiments, runs.map((id) => `${id}=${fileSignature(path.join(catalog.root, id))}`)]);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      return json(res, 405, { error: 'the dashboard is read-only: GET and HEAD only' }, false);
    }
    // A page elsewhere cannot reach a loopback dashboard through a name it controls (DNS rebinding).
    const hostHeader = req.headers.host ?? '';
    if (!hostAllowed(hostHeader, host)) {
      return json(res, 403, { error: `unexpected Host header '${hostHeader.replace(/:\d+$/, '')}'` }, head);
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://dashboard');
    } catch {
      return json(res, 400, { error: 'malformed URL' }, head);
    }
    const q = url.searchParams;
    const id = (): string => {
      const value = q.get('id');
      if (value === null) throw new HttpError(400, 'missing ?id=');
      return value;
    };
    switch (url.pathname) {
      case '/':
      case '/index.html':
        return send(res, 200, 'text/html; charset=utf-8', INDEX_HTML, head);
      case '/app.js':
        return send(res, 200, 'text/javascript; charset=utf-8', APP_JS, head);
      case '/api/list':
        return json(res, 200, { root: catalog.root, ...catalog.list() }, head);
      case '/api/run':
        return json(res, 200, runView(catalog, id()), head);
      case '/api/compare':
        return json(res, 200, compareView(catalog, q.getAll('id')), head);
      case '/api/experiment':
        return json(res, 200, await experimentView(catalog, id()), head);
      case '/api/events': {
        if (q.has('list'))
          return stream(req, res, 'list', listSignature, () => ({ root: catalog.root, ...catalog.list() }));
        const runId = q.get('run');
        if (runId === null) throw new HttpError(400, 'missing ?run= or ?list');
        const dir = catalog.resolveRunId(runId);
        return stream(
          req,
          res,
          `run:${dir}`,
          () => fileSignature(dir),
          () => runView(catalog, runId),
          dir,
        );
      }
      default:
        if (url.pathname in VENDOR)
          return send(res, 200, 'text/javascript; charset=utf-8', vendorFile(url.pathname), head);
        throw new HttpError(404, `no such page: ${url.pathname}`);
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return res.end();
      if (err instanceof HttpError) return json(res, err.status, { error: err.message }, req.method === 'HEAD');
      if (err instanceof ConfigError) return json(res, 422, { error: err.message }, req.method === 'HEAD');
      log(`internal error on ${req.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      json(res, 500, { error: "internal error (see the dashboard's terminal)" }, req.method === 'HEAD');
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new ConfigError(`--port ${opts.port}: already in use on ${host}; pick another (0 picks a free one)`)
          : err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND'
            ? new ConfigError(`--host ${host}: not an address of this machine`)
            : err,
      );
    });
    server.listen(opts.port ?? 8080, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    host,
    port,
    catalog,
    hub,
    streams: () => open.size,
    close: async () => {
      for (const res of open) res.end();
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
