import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { bestEpisode } from '../../src/core/run-log.js';
import { readRun } from '../../src/store/read-run.js';
import { MAX_POINTS } from '../../src/serve/digest.js';
import { startDashboard, type Dashboard } from '../../src/serve/server.js';
import type { RunView } from '../../src/serve/views.js';
import { writeLargeRun } from '../helpers/large-run.js';
import { rawRequest } from './helpers.js';

type Values = Record<string, unknown>[];
const valuesOf = (view: RunView, id: string): Values => {
  const spec = view.plots.find((p) => p.id === id)!.spec as { data: { values: Values } };
  return spec.data.values;
};
const extremes = (xs: number[]) => [Math.min(...xs), Math.max(...xs)];

describe('dashboard on a run too long to draw whole (issue 24, item 5)', () => {
  const EPISODES = 3000;
  const EPOCHS = 11;
  let root: string;
  let dashboard: Dashboard;
  let view: RunView;
  let full: ReturnType<typeof readRun>['value'];

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'droptune-large-'));
    writeLargeRun(join(root, 'big'), EPISODES, EPOCHS, 3);
    full = readRun(join(root, 'big')).value;
    dashboard = await startDashboard({ root, port: 0, pollMs: 100, maxStreams: 2 });
    const res = await rawRequest(dashboard.port, '/api/run?id=big');
    expect(res.status).to.equal(200);
    view = JSON.parse(res.body) as RunView;
  });

  after(async () => {
    await dashboard?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('draws each layer’s rates with at most the cap of points: the first and last steps and the extremes', () => {
    const rates = valuesOf(view, 'rates') as { layer: string; step: number; rate: number }[];
    const steps = EPISODES * EPOCHS;
    for (const [layer, name] of full.config.layerNames.entries()) {
      const mine = rates.filter((r) => r.layer === name);
      expect(mine.length)
        .to.be.at.most(MAX_POINTS)
        .and.at.least(MAX_POINTS / 4);
      expect(mine[0]!.step).to.equal(1);
      expect(mine.at(-1)!.step).to.equal(steps);
      const all = full.steps.map((s) => s.rates[layer]!);
      expect(extremes(mine.map((r) => r.rate))).to.deep.equal(extremes(all));
      // each point drawn is the step's own rate, read from the line's head or parsed in full alike
      for (const r of mine) expect(r.rate).to.equal(all[r.step - 1]);
    }
    const kept = Math.max(...full.config.layerNames.map((name) => rates.filter((r) => r.layer === name).length));
    expect(view.downsampled).to.deep.include({ plot: 'rates', kept, of: steps, unit: 'points' });
    expect(view.plots.find((p) => p.id === 'rates')!.title).to.contain(`of ${steps} points drawn`);
  });

  it('draws the learning curve with at most the cap of episodes, the first, last, best and extremes among them', () => {
    const curve = valuesOf(view, 'learning-curve') as { episode: number; return: number; valAcc: number }[];
    expect(curve.length).to.be.at.most(MAX_POINTS + 1);
    const episodes = curve.map((c) => c.episode);
    const best = bestEpisode(full.episodes)!;
    expect(episodes).to.include.members([1, EPISODES, best.episode]);
    expect(extremes(curve.map((c) => c.return))).to.deep.equal(extremes(full.episodes.map((e) => e.return)));
    expect(extremes(curve.map((c) => c.valAcc))).to.deep.equal(extremes(full.episodes.map((e) => e.valAcc)));
    expect(view.downsampled).to.deep.include({
      plot: 'learning-curve',
      kept: curve.length,
      of: EPISODES,
      unit: 'episodes',
    });
  });

  it('draws whole lines of a few episodes per epoch plot, the best one bold, within the cap of points', () => {
    const points = valuesOf(view, 'val-acc') as { episode: number; epoch: number; value: number; best: boolean }[];
    expect(points.length).to.be.at.most(MAX_POINTS);
    const drawn = new Set(points.map((p) => p.episode));
    const best = bestEpisode(full.episodes)!;
    expect([...drawn]).to.include.members([1, EPISODES, best.episode]);
    for (const e of drawn) expect(points.filter((p) => p.episode === e)).to.have.length(EPOCHS);
    expect(points.filter((p) => p.best).every((p) => p.episode === best.episode)).to.equal(true);
    const finals = full.episodes.map((e) => e.valAcc);
    const drawnFinals = points.filter((p) => p.epoch === EPOCHS).map((p) => p.value);
    expect(extremes(drawnFinals)).to.deep.equal(extremes(finals));
    expect(view.downsampled).to.deep.include({ plot: 'val-acc', kept: drawn.size, of: EPISODES, unit: 'episodes' });
    expect(view.best!.episode).to.equal(best.episode);
    expect(view.best!.schedule).to.deep.equal(best.schedule);
  });

  it('lists the run with its counts and best episode, read without keeping its steps', async () => {
    const list = JSON.parse((await rawRequest(dashboard.port, '/api/list')).body) as {
      runs: { id: string; episodes: number; epochs: number; bestValAcc: number }[];
    };
    const row = list.runs.find((r) => r.id === 'big')!;
    const best = bestEpisode(full.episodes)!;
    expect(row).to.include({ episodes: EPISODES, epochs: EPISODES * EPOCHS, bestValAcc: best.valAcc });
    expect(view.row).to.include({ episodes: EPISODES, epochs: EPISODES * EPOCHS });
  });

  it('answers 503 with a one-line reason to an event stream beyond the cap, and 200 once one closes', async () => {
    const open = (): Promise<{ status: number; body: string; close: () => void }> =>
      new Promise((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: dashboard.port, path: '/api/events?list', headers: { host: '127.0.0.1' } },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              body += chunk;
              if (res.statusCode !== 200 || body.includes('event: update'))
                resolve({ status: res.statusCode!, body, close: () => req.destroy() });
            });
          },
        );
        req.on('error', reject);
        req.end();
      });
    const first = await open();
    const second = await open();
    expect([first.status, second.status]).to.deep.equal([200, 200]);
    const third = await open();
    expect(third.status).to.equal(503);
    const reason = (JSON.parse(third.body) as { error: string }).error;
    expect(reason).to.equal(
      'too many live views: 2 event streams are open (at most 2); close a dashboard tab and reload',
    );
    expect(dashboard.streams()).to.equal(2);
    first.close();
    const deadline = Date.now() + 5000;
    while (dashboard.streams() > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const fourth = await open();
    expect(fourth.status).to.equal(200);
    second.close();
    fourth.close();
  });
});
