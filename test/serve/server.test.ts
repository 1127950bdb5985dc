import { expect } from 'chai';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { checkPort, hostWarning, startDashboard, type Dashboard } from '../../src/serve/server.js';
import { WatchHub } from '../../src/serve/watch.js';
import { readExperimentJson } from '../../src/serve/catalog.js';
import { EXPERIMENT } from './helpers.js';
import { appendStep, rawRequest, runsFolder } from './helpers.js';

/** Opens an event stream and collects its events; `close()` drops the connection as a closed tab does. */
function openStream(
  port: number,
  path: string,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- SSE payloads of several shapes, checked field by field
): { events: { event: string; data: any }[]; next: (count: number) => Promise<void>; close: () => void } {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
  const events: { event: string; data: any }[] = [];
  let buffer = '';
  const waiters: (() => void)[] = [];
  const req: ClientRequest = request({ host: '127.0.0.1', port, path }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
        waiters.splice(0).forEach((w) => w());
      }
    });
  });
  req.on('error', () => {});
  req.end();
  const next = async (count: number) => {
    const deadline = Date.now() + 5000;
    while (events.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} events within 5 s, got ${events.length}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  };
  return { events, next, close: () => req.destroy() };
}

/** Every entry under `dir` with its bytes, time and link target, symlinks not followed: any write changes it. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .sort()
    .map((rel) => {
      const path = join(dir, rel);
      const stat = lstatSync(path);
      const what = stat.isSymbolicLink()
        ? `-> ${readlinkSync(path)}`
        : stat.isFile()
          ? readFileSync(path, 'utf8')
          : 'dir';
      return `${rel} ${stat.mtimeMs} ${what}`;
    });
}

const until = async (check: () => boolean, what: string): Promise<void> => {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('dashboard server', () => {
  let folder: ReturnType<typeof runsFolder>;
  let outside: string;
  let dashboard: Dashboard;
  let get: (path: string, opts?: { method?: string; host?: string }) => Promise<{ status: number; body: string }>;

  before(async () => {
    folder = runsFolder();
    // a file and a run folder outside the served folder, reached by symlinks from inside it
    outside = mkdtempSync(join(tmpdir(), 'droptune-outside-'));
    writeFileSync(
      join(outside, 'secret.json'),
      '{"options": {"agent": "SECRET-OUTSIDE"}, "seed": 1, "layerNames": []}',
    );
    mkdirSync(join(outside, 'run'));
    writeFileSync(
      join(outside, 'run', 'config.json'),
      '{"options": {"agent": "SECRET-OUTSIDE"}, "seed": 1, "layerNames": []}',
    );
    symlinkSync(join(outside, 'run'), join(folder.root, 'linked-run'));
    mkdirSync(join(folder.root, 'linked-file'));
    symlinkSync(join(outside, 'secret.json'), join(folder.root, 'linked-file', 'config.json'));
    dashboard = await startDashboard({ root: folder.root, port: 0, pollMs: 100 });
    get = (path, opts) => rawRequest(dashboard.port, path, opts);
  });

  after(async () => {
    await dashboard.close();
    rmSync(folder.root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('binds to 127.0.0.1 by default and warns about any other host', async () => {
    expect(dashboard.host).to.equal('127.0.0.1');
    expect(dashboard.url).to.equal(`http://127.0.0.1:${dashboard.port}/`);
    expect(hostWarning('127.0.0.1')).to.equal(undefined);
    expect(hostWarning('0.0.0.0')).to.match(/^warning: --host 0\.0\.0\.0 serves your runs/);
    expect(() => checkPort(70000)).to.throw('--port must be a whole number in [0, 65535], got 70000');
  });

  it('lists every run with its facts, and a malformed run as an error on its own row', async () => {
    const { status, body } = await get('/api/list');
    expect(status).to.equal(200);
    const list = JSON.parse(body);
    const ids = list.runs.map((r: { id: string }) => r.id);
    expect(ids).to.deep.equal([
      'corrupt',
      'exp/runs/s0/grid-r30',
      'linked-file',
      'live',
      'log-v1',
      'sweep/constant-s1',
      'sweep/constant-s2',
      'sweep/constant-s3',
      'sweep/thompson-s1',
      'sweep/thompson-s2',
      'truncated-steps',
    ]);
    const byId = new Map(list.runs.map((r: { id: string }) => [r.id, r]));
    expect(byId.get('corrupt')).to.include({ status: 'error', error: 'corrupt/episodes.jsonl:2: not valid JSON' });
    expect(byId.get('linked-file')).to.include({
      status: 'error',
      error: "config.json links outside the dashboard's folder: not read",
    });
    expect(byId.get('sweep/constant-s1')).to.include({
      label: 'constant rate=0.3',
      agent: 'constant',
      dataset: 'synthetic',
      model: 'mlp:16,8',
      status: 'finished',
      episodes: 3,
      epochs: 9,
      bestValAcc: 0.84,
      bestTestAcc: 0.82,
    });
    expect(byId.get('sweep/thompson-s2')).to.include({ status: 'interrupted', episodes: 2, bestTestAcc: 0.85 });
    expect(byId.get('exp/runs/s0/grid-r30')).to.include({ experiment: 'exp' });
    expect(list.experiments).to.deep.equal([
      { id: 'exp', preset: 'quick', dataset: 'synthetic', model: 'mlp:16,8', seeds: 2, picks: 4, runs: 1 },
    ]);
    expect(body).not.to.contain('SECRET-OUTSIDE');
  });

  it('refuses traversal, encoded traversal, symlinks out and unknown runs with 400 or 404', async () => {
    const refused: [string, number][] = [
      ['/api/run?id=../etc', 400],
      ['/api/run?id=..%2F..%2Fetc%2Fpasswd', 400],
      ['/api/run?id=%2e%2e%2f%2e%2e', 400],
      ['/api/run?id=sweep%2F..%2Fcorrupt', 400],
      ['/api/run?id=%2Fetc', 400],
      ['/api/run?id=sweep%5C..%5Ccorrupt', 400],
      ['/api/events?run=../sweep', 400],
      ['/api/compare?id=sweep/constant-s1&id=../../x', 400],
      ['/api/run?id=linked-run', 404],
      ['/api/run?id=nope', 404],
      ['/api/run?id=sweep', 404],
      ['/api/experiment?id=sweep', 404],
      ['/../../../../etc/passwd', 404],
      ['/vendor/../../package.json', 404],
      ['/vendor/..%2F..%2Fpackage.json', 404],
      ['/%2e%2e/%2e%2e/etc/passwd', 404],
    ];
    for (const [path, status] of refused) {
      const res = await get(path);
      expect([path, res.status]).to.deep.equal([path, status]);
      expect(res.body).not.to.contain('root:');
      expect(res.body).not.to.contain('SECRET-OUTSIDE');
    }
    // a malformed run is the client's to see, not a server error
    expect((await get('/api/run?id=corrupt')).status).to.equal(422);
  });

  it('is read-only: refuses other methods, other Host names, and writes nothing in the folder', async () => {
    const before = snapshot(folder.root);
    expect((await get('/api/list', { method: 'POST' })).status).to.equal(405);
    expect((await get('/api/run?id=live', { method: 'DELETE' })).status).to.equal(405);
    expect((await get('/api/list', { host: 'evil.example:80' })).status).to.equal(403);
    for (const path of [
      '/',
      '/app.js',
      '/api/list',
      '/api/run?id=sweep/thompson-s2',
      '/api/compare?id=sweep/constant-s1&id=sweep/thompson-s1',
      '/api/experiment?id=exp',
    ]) {
      expect((await get(path)).status, path).to.equal(200);
    }
    expect(snapshot(folder.root)).to.deep.equal(before);
  });

  it('serves vega, vega-lite and vega-embed from node_modules', async () => {
    for (const [file, global] of [
      ['vega', 'vega'],
      ['vega-lite', 'vegaLite'],
      ['vega-embed', 'vegaEmbed'],
    ]) {
      const res = await get(`/vendor/${file}.min.js`);
      expect(res.status).to.equal(200);
      expect(res.body.length).to.be.greaterThan(50_000);
      expect(res.body).to.contain(global);
    }
  });

  it('builds the compare tables with their confidence intervals', async () => {
    const ids = [
      'sweep/constant-s1',
      'sweep/constant-s2',
      'sweep/constant-s3',
      'sweep/thompson-s1',
      'sweep/thompson-s2',
    ];
    const view = JSON.parse(
      (await get(`/api/compare?${ids.map((id) => `id=${encodeURIComponent(id)}`).join('&')}`)).body,
    );
    const group = view.tables.find((t: { title: string }) => t.title === 'Per group');
    const constant = group.rows.find((r: string[]) => r[0] === 'constant rate=0.3');
    // fixture README: best testAcc .8167 ± .0625 over seeds 1-3
    expect(constant[7]).to.equal('0.8167 ± 0.0625');
    expect(view.plots.map((p: { id: string }) => p.id)).to.deep.equal([
      'schedules',
      'val-acc',
      'val-loss',
      'learning-curve',
    ]);
  });

  it("shows an experiment's verdict table and recommended schedules", async () => {
    const view = JSON.parse((await get('/api/experiment?id=exp')).body);
    expect(view.table.rows.map((r: string[]) => r[0])).to.deep.equal(['grid', 'curriculum']);
    // Δ test, seeds, raw verdict, the detectable effect at 2 seeds ((t₀.₉₇₅,₁ + t₀.₈,₁)·sd/√2) and the Holm verdict
    expect(view.table.rows[1].slice(5)).to.deep.equal([
      '+3.00 ± 12.71',
      '2/2',
      'no detectable difference',
      '14.08 (underpowered)',
      'no detectable difference',
    ]);
    expect(view.verdict).to.contain('no detectable difference: curriculum');
    expect(view.power).to.contain('- curriculum: detectable 14.08 pts at 2 seeds');
    expect(view.plots.map((p: { id: string }) => p.id)).to.deep.equal(['recommended', 'compute']);
    expect(view.plots[0].spec.data.values).to.have.length(4 * 3 * 2);
    // accuracy against compute: the grid's point and curriculum's, each with its interval
    expect(
      view.plots[1].spec.data.values.map((v: { label: string; epochs: number; lo: number; hi: number }) => [
        v.label,
        v.epochs,
        +v.lo.toFixed(3),
        +v.hi.toFixed(3),
      ]),
    ).to.deep.equal([
      ['grid k=1', 9, 0.663, 0.917],
      ['curriculum', 9, 0.82, 0.82],
    ]);
    expect(view.runs).to.deep.equal(['exp/runs/s0/grid-r30']);
  });

  it('streams a run: the current state at once, then each appended epoch', async () => {
    const stream = openStream(dashboard.port, '/api/events?run=live');
    try {
      await stream.next(1);
      expect(stream.events[0]!.event).to.equal('update');
      expect(stream.events[0]!.data.row.epochs).to.equal(2);
      appendStep(folder.live, folder.stepLines[2]!);
      await stream.next(2);
      expect(stream.events[1]!.data.row.epochs).to.equal(3);
      const rates = stream.events[1]!.data.plots.find((p: { id: string }) => p.id === 'rates');
      expect(rates.spec.data.values).to.have.length(3 * 2);
    } finally {
      stream.close();
    }
  });

  it('shares one watch per run among its clients and releases it when the last one leaves', async () => {
    await until(() => dashboard.hub.stats().watches === 0, 'earlier streams to close');
    const tabs = Array.from({ length: 5 }, () => openStream(dashboard.port, '/api/events?run=sweep%2Fconstant-s1'));
    await Promise.all(tabs.map((t) => t.next(1)));
    expect(dashboard.hub.stats()).to.deep.equal({ watches: 1, listeners: 5 });
    expect(dashboard.streams()).to.equal(5);
    // a client that reconnects again and again
    for (let i = 0; i < 20; i++) {
      const again = openStream(dashboard.port, '/api/events?list');
      await again.next(1);
      again.close();
    }
    tabs.forEach((t) => t.close());
    await until(() => dashboard.hub.stats().listeners === 0, 'every listener to be released');
    expect(dashboard.hub.stats()).to.deep.equal({ watches: 0, listeners: 0 });
    expect(dashboard.streams()).to.equal(0);
  });
});

describe('WatchHub', () => {
  it('tells every listener of a change the probe sees, polling without fs.watch, and stops once all leave', async () => {
    const hub = new WatchHub({ pollMs: 20 });
    let value = 'a';
    const calls = [0, 0];
    const off = [
      hub.subscribe(
        'k',
        () => value,
        () => calls[0]!++,
      ),
      hub.subscribe(
        'k',
        () => value,
        () => calls[1]!++,
      ),
    ];
    expect(hub.stats()).to.deep.equal({ watches: 1, listeners: 2 });
    await new Promise((r) => setTimeout(r, 80));
    expect(calls).to.deep.equal([0, 0]); // no change, no call
    value = 'b';
    await until(() => calls[0] === 1 && calls[1] === 1, 'both listeners');
    off[0]!();
    off[0]!(); // twice is harmless
    expect(hub.stats()).to.deep.equal({ watches: 1, listeners: 1 });
    off[1]!();
    expect(hub.stats()).to.deep.equal({ watches: 0, listeners: 0 });
    value = 'c';
    await new Promise((r) => setTimeout(r, 80));
    expect(calls).to.deep.equal([1, 1]);
  });
});

describe('readExperimentJson', () => {
  it("refuses a malformed 'compute' with one line, and reads an experiment without it", () => {
    const dir = mkdtempSync(join(tmpdir(), 'droptune-expjson-'));
    const write = (json: unknown) => writeFileSync(join(dir, 'experiment.json'), JSON.stringify(json));
    write({ ...EXPERIMENT, compute: [{ series: 'grid', epochs: 'nine' }] });
    expect(() => readExperimentJson(dir)).to.throw(
      "experiment.json: 'compute' must be a list of points {series, label, epochs, testAcc}",
    );
    const { compute: _compute, ...older } = EXPERIMENT;
    write(older);
    expect(readExperimentJson(dir).compute).to.equal(undefined);
  });
});
