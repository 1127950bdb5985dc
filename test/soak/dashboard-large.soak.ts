/**
 * Soak (npm run soak, not CI): the dashboard on the 200 MB run of issue 24 item 5 (75,000 episodes x 11
 * epochs), served by `npm run dashboard` in a process of its own. Checks the bounds: peak RSS
 * under 300 MB, /api/run a bounded response that says it is downsampled; prints the times.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { startDashboardProcess, timedGet, writeLargeRun, type DashboardProcess } from '../helpers/large-run.js';

describe('soak: the dashboard on a 200 MB steps.jsonl', function () {
  this.timeout(300_000);
  let root: string;
  let dashboard: DashboardProcess;
  const figures: string[] = [];

  before(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'droptune-soak-large-'));
    const bytes = writeLargeRun(path.join(root, 'big'));
    expect(bytes).to.be.above(200e6);
    dashboard = await startDashboardProcess(root);
    figures.push(`steps.jsonl ${(bytes / 1e6).toFixed(1)} MB; idle RSS ${dashboard.memory().rssMb.toFixed(0)} MB`);
  });

  after(async () => {
    await dashboard?.stop();
    rmSync(root, { recursive: true, force: true });
    console.log(figures.map((f) => `      ${f}`).join('\n'));
  });

  const get = async (route: string) => {
    const cpu = dashboard.cpuMs();
    const r = await timedGet(dashboard.port, route);
    const { peakMb } = dashboard.memory();
    figures.push(
      `${route}: ${r.status}, ${(r.bytes / 1e3).toFixed(0)} KB in ${(r.ms / 1000).toFixed(2)} s (${((dashboard.cpuMs() - cpu) / 1000).toFixed(2)} s CPU), peak RSS ${peakMb.toFixed(0)} MB`,
    );
    return r;
  };

  it('lists the run with its counts', async () => {
    const r = await get('/api/list');
    expect(r.status).to.equal(200);
    const row = (JSON.parse(r.body) as { runs: { id: string; episodes: number; epochs: number }[] }).runs[0]!;
    expect(row).to.include({ id: 'big', episodes: 75_000, epochs: 825_000 });
  });

  it('answers /api/run with a bounded response that says what it cut, under 300 MB of RSS', async () => {
    const r = await get('/api/run?id=big');
    expect(r.status).to.equal(200);
    expect(r.bytes).to.be.below(1e6);
    const view = JSON.parse(r.body) as { downsampled: { plot: string; kept: number; of: number }[] };
    expect(view.downsampled.map((n) => n.plot)).to.include.members(['rates', 'val-acc', 'learning-curve']);
    expect(view.downsampled.find((n) => n.plot === 'rates')).to.include({ of: 825_000 });
    await get('/api/run?id=big');
    await get('/api/compare?id=big');
    expect(dashboard.memory().peakMb).to.be.below(300);
  });
});
