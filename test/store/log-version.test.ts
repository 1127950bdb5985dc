import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Subject } from 'rxjs';
import { readScheduleFile } from '../../agents/node-loaders.js';
import { ConfigError } from '../../src/core/errors.js';
import {
  LOG_VERSION,
  logVersionOf,
  shiftNumbering,
  type EpisodeRecord,
  type LineageRecord,
  type RunSummary,
} from '../../src/core/run-log.js';
import { initBackend, requestedBackend } from '../../src/nn/backend.js';
import { readCheckpoint, writeCheckpoint } from '../../src/store/checkpoint.js';
import { compareRuns } from '../../src/analysis/compare.js';
import { readRun, readRunEnd, readRuns } from '../../src/store/read-run.js';
import { finishedResult } from '../../src/execution/job.js';
import type { RunCheckpoint } from '../../src/store/run-folder.js';
import { executeRun, resolveRun } from '../../src/run/run.js';
import { progressPrinter } from '../../src/cli/progress.js';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/runs');
const V1 = path.join(FIXTURES, 'log-v1');
const V2_TWIN = path.join(FIXTURES, 'sweep', 'thompson-s1');
const TASK = {
  dataset: 'synthetic',
  trainSize: 128,
  valSize: 64,
  testSize: 64,
  model: 'mlp:16,8',
  lr: 0.01,
  batchSize: 32,
  agent: 'ucb',
  episodes: 2,
  epochs: 3,
  seed: 4,
};

/** A file's JSON values (one per line for .jsonl), without timings (`*Ms`). */
function logOf(dir: string, file: string): unknown[] {
  const text = readFileSync(path.join(dir, file), 'utf8');
  const lines = file.endsWith('.jsonl') ? text.split('\n').filter(Boolean) : [text];
  return lines.map((line) => JSON.parse(line, (key, value: unknown) => (key.endsWith('Ms') ? undefined : value)));
}

/** Rewrites a run folder as droptune wrote it before log version 2: numbered from 0, no logVersion. */
function downgrade(dir: string): void {
  const configFile = path.join(dir, 'config.json');
  const { logVersion: _v, ...config } = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(configFile, JSON.stringify(config, null, 2) + '\n');
  for (const file of ['steps.jsonl', 'episodes.jsonl']) {
    const lines = readFileSync(path.join(dir, file), 'utf8').split('\n').filter(Boolean);
    writeFileSync(
      path.join(dir, file),
      lines.map((l) => JSON.stringify(shiftNumbering(JSON.parse(l) as unknown, -1)) + '\n').join(''),
    );
  }
  try {
    const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as RunSummary;
    writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(shiftNumbering(summary, -1), null, 2) + '\n');
  } catch {
    // a stopped run has no summary yet
  }
  const checkpoint = readCheckpoint(dir, 'checkpoint') as RunCheckpoint | undefined;
  if (checkpoint) {
    const mid = checkpoint.midEpisode;
    writeCheckpoint(dir, 'checkpoint', {
      ...checkpoint,
      version: 1,
      episode: checkpoint.episode - 1,
      ...(mid
        ? { midEpisode: { ...mid, transitions: mid.transitions.map((t) => ({ ...t, episode: t.episode - 1 })) } }
        : {}),
    });
  }
}

describe('episode numbering (log version 2)', function () {
  this.timeout(120_000);
  const tmp = mkdtempSync(path.join(tmpdir(), 'droptune-numbering-'));
  const reference = path.join(tmp, 'reference');
  const printed: string[] = [];

  before(async () => {
    const backendInUse = await initBackend(requestedBackend());
    const progress = progressPrinter(2, 3, {
      isTTY: false,
      write: (s: string) => printed.push(s),
    } as unknown as NodeJS.WriteStream);
    await executeRun(resolveRun({ ...TASK, out: reference }), { backendInUse, onEvent: (e) => progress.next(e) });
  });

  it('numbers episodes from 1 in every file of a run, and records the log version', () => {
    const config = logOf(reference, 'config.json')[0] as { logVersion: number };
    expect(config.logVersion).to.equal(LOG_VERSION).and.equal(2);
    expect(
      (logOf(reference, 'steps.jsonl') as { episode: number; epoch: number }[]).map((s) => `${s.episode}:${s.epoch}`),
    ).to.deep.equal(['1:1', '1:2', '1:3', '2:1', '2:2', '2:3']);
    expect((logOf(reference, 'episodes.jsonl') as EpisodeRecord[]).map((e) => e.episode)).to.deep.equal([1, 2]);
    const summary = logOf(reference, 'summary.json')[0] as RunSummary;
    expect([summary.first.episode, summary.last.episode]).to.deep.equal([1, 2]);
    expect([1, 2]).to.include(summary.best.episode);
  });

  it('prints the numbers the files hold', () => {
    expect(printed[0]).to.match(/^episode 1\/2 epoch 1\/3 /);
    expect(printed.filter((l) => / done: /.test(l)).map((l) => l.slice(0, 14))).to.deep.equal([
      'episode 1/2 do',
      'episode 2/2 do',
    ]);
  });

  it('reads a folder written before version 2 in the current numbering', () => {
    const old = readRun(V1).value;
    const twin = readRun(V2_TWIN).value;
    expect(old.episodes.map((e) => e.episode)).to.deep.equal([1, 2, 3]);
    expect(old.episodes).to.deep.equal(twin.episodes);
    expect(old.steps).to.deep.equal(twin.steps);
    expect(old.summary).to.deep.equal(twin.summary);
    // and compares it as its twin: same recommended episode
    const rows = compareRuns(readRuns([V1, V2_TWIN]).value).runs;
    expect(rows.map((r) => r.bestEpisode)).to.deep.equal([3, 3]);
  });

  it('reads a finished old run back in the current numbering (an experiment resumed, a baseline found)', () => {
    const old = readRunEnd(V1)!;
    expect(old.logVersion).to.equal(1);
    expect(old.summary).to.deep.equal(readRunEnd(V2_TWIN)!.summary);
    expect(old.summary.best.episode).to.equal(3);
    expect(finishedResult(V1)!.summary).to.deep.equal(old.summary);
    expect(finishedResult(V1)!.records.map((e) => e.episode)).to.deep.equal([1, 2, 3]);
    expect(readRunEnd(tmp)).to.equal(undefined);
  });

  it('finds episode N of an old episodes.jsonl by the current number (--schedule FILE#N, --replay RUN#N)', () => {
    expect(readScheduleFile(`${path.join(V1, 'episodes.jsonl')}#2`)).to.deep.equal([
      [0.2, 0.3],
      [0.2, 0.2],
      [0.1, 0.2],
    ]);
    expect(readScheduleFile(`${path.join(V1, 'episodes.jsonl')}#2`)).to.deep.equal(
      readScheduleFile(`${path.join(V2_TWIN, 'episodes.jsonl')}#2`),
    );
    expect(() => readScheduleFile(`${path.join(V1, 'episodes.jsonl')}#0`)).to.throw(ConfigError, /no episode 0/);
  });

  it('shifts every numbered field of an old record: lineage members and generations, summary episodes', () => {
    const lineage: LineageRecord = {
      generation: 1,
      epoch: 2,
      member: 0,
      from: 3,
      valAcc: 0.5,
      fromValAcc: 0.6,
      ratesBefore: [0],
      rates: [0.1],
      resampled: [false],
    };
    expect(shiftNumbering(lineage, 1)).to.include({ generation: 2, epoch: 2, member: 1, from: 4 });
    const member = { episode: 0, epochs: 4, lineage: [{ epoch: 2, from: 3 }] };
    expect(shiftNumbering(member, 1)).to.deep.equal({ episode: 1, epochs: 4, lineage: [{ epoch: 2, from: 4 }] });
    expect(
      shiftNumbering({ episodes: 3, best: { episode: 2 }, first: { episode: 0 }, last: { episode: 2 } }, 1),
    ).to.deep.equal({ episodes: 3, best: { episode: 3 }, first: { episode: 1 }, last: { episode: 3 } });
  });

  it('refuses a log version it does not know, in one line', () => {
    expect(() => logVersionOf({ logVersion: 3 }, 'x/config.json')).to.throw(
      ConfigError,
      'x/config.json: log version 3 was written by a newer droptune; this one reads versions up to 2: upgrade droptune',
    );
    expect(logVersionOf({})).to.equal(1);
  });

  it('resumes a stopped run written before version 2 in its own numbering, to the same logs', async () => {
    const backendInUse = await initBackend(requestedBackend());
    const dir = path.join(tmp, 'old-stopped');
    const stop$ = new Subject<void>();
    // stop in the middle of episode 2
    await executeRun(resolveRun({ ...TASK, out: dir }), {
      backendInUse,
      stop$,
      onEvent: (e) => e.type === 'step' && e.episode === 2 && e.transition.epoch === 1 && stop$.next(),
    });
    downgrade(dir);
    await executeRun(resolveRun({ ...TASK, out: dir }, { resume: true }), {
      backendInUse,
      resume: true,
      warn: () => undefined,
    });
    const expected = path.join(tmp, 'old-reference');
    await executeRun(resolveRun({ ...TASK, out: expected }), { backendInUse });
    downgrade(expected);
    for (const file of ['steps.jsonl', 'episodes.jsonl', 'summary.json'])
      expect(logOf(dir, file), file).to.deep.equal(logOf(expected, file));
    expect(logOf(dir, 'config.json')[0]).to.not.have.property('logVersion');
    expect((logOf(dir, 'steps.jsonl') as { episode: number }[]).map((s) => s.episode)).to.deep.equal([
      0, 0, 0, 1, 1, 1,
    ]);
    expect(readRun(dir).value.episodes.map((e) => e.episode)).to.deep.equal([1, 2]);
  });
});
