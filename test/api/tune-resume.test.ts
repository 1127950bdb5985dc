import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Subject } from 'rxjs';
import { ConfigError } from '../../src/core/errors.js';
import { tune } from '../../src/api/tune.js';

const TASK = {
  agent: 'thompson' as const,
  dataset: 'synthetic',
  trainSize: 128,
  valSize: 64,
  testSize: 64,
  model: 'mlp:16',
  batchSize: 32,
  episodes: 2,
  epochs: 2,
  seed: 3,
};

/** A log file's JSON values without timings (`*Ms`) and the folder's own name. */
function logOf(dir: string, file: string): unknown[] {
  const text = readFileSync(path.join(dir, file), 'utf8');
  const lines = file.endsWith('.jsonl') ? text.split('\n').filter(Boolean) : [text];
  return lines.map((line) =>
    JSON.parse(line, (key, value: unknown) => (key.endsWith('Ms') || key === 'out' ? undefined : value)),
  );
}

describe('tune({ resume })', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(tmpdir(), 'droptune-tune-resume-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('continues a stopped run to the logs of a run never stopped, as npm run agent -- --resume does', async () => {
    const reference = await tune({ ...TASK, out: path.join(tmp, 'reference') });
    const out = path.join(tmp, 'stopped');
    const stop$ = new Subject<void>();
    let steps = 0;
    // Stopped in the middle of episode 1: the resume continues from a mid-episode checkpoint.
    const onEvent = (e: { type: string }) => {
      if (e.type === 'step' && ++steps === 1) stop$.next();
    };
    const stopped = await tune({ ...TASK, out, stop$, onEvent });
    expect(stopped.interrupted).to.equal(true);
    expect(logOf(out, 'steps.jsonl')).to.have.length(1);

    const resumed = await tune({ resume: out });
    expect(resumed.interrupted).to.equal(false);
    expect(resumed.records.map((r) => r.valAcc)).to.deep.equal(reference.records.map((r) => r.valAcc));
    for (const file of ['config.json', 'steps.jsonl', 'episodes.jsonl', 'agent.json', 'summary.json'])
      expect(logOf(out, file), file).to.deep.equal(logOf(reference.out, file));

    // Finished: nothing trains again, the run is read back.
    const again = await tune({ resume: out });
    expect(again.summary).to.deep.equal(resumed.summary);
    expect(again.backend).to.equal(resumed.backend);
  });

  it("refuses the run's own options beside resume, in one line", async () => {
    const error = await tune({ resume: path.join(tmp, 'reference'), episodes: 3 }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(ConfigError);
    // from code, in code's keys
    expect((error as Error).message).to.match(/^resume takes no other options but backend \(got episodes\)/);
  });
});
