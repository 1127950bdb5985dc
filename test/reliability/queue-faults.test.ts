import { expect } from 'chai';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { InProcessExecutor } from '../../src/execution/executor.js';
import { connect, parseQueueUrl, PAYLOAD_VERSION } from '../../src/execution/queue/protocol.js';
import { QueueExecutor } from '../../src/execution/queue/queue-executor.js';
import { QueueWorker, checkConfined } from '../../src/execution/queue/queue-worker.js';
import { readModelArtifacts } from '../../src/nn/model-file.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { tempDir } from './helpers.js';

const OPTIONS = {
  agent: 'constant',
  rate: 0.2,
  episodes: 1,
  epochs: 2,
  dataset: 'synthetic',
  model: 'mlp:8',
  trainSize: 60,
  valSize: 30,
  testSize: 30,
  backend: 'auto',
};

const worker = (url: string, queueName: string, lines: string[], dataRoot?: string) =>
  new QueueWorker({
    url: parseQueueUrl(url),
    queueName,
    executor: new InProcessExecutor(),
    lockDurationMs: 2000,
    stalledIntervalMs: 500,
    log: (line) => lines.push(line),
    ...(dataRoot ? { dataRoot } : {}),
  });

/** Polls `check` every 50 ms until it holds (or `ms` pass: then the last value is returned). */
async function until<T>(check: () => Promise<T>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('queue under faults (real redis-server)', () => {
  let redis: TestRedis;
  const tmp = tempDir('queue-faults');
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis.stop());

  it('a job whose data is not JSON is moved to failed with its reason', async () => {
    const name = 'not-json';
    const conn = connect(parseQueueUrl(redis.url));
    const queue = new Queue(name, { connection: conn });
    const job = await queue.add('run', { placeholder: true }, { jobId: 'bad', attempts: 1 });
    await conn.hset(`bull:${name}:${job.id}`, 'data', '{not json');
    const lines: string[] = [];
    const w = worker(redis.url, name, lines);
    await w.start();
    try {
      const state = await until(async () => ((await queue.getJobState('bad')) === 'failed' ? 'failed' : ''), 10_000);
      expect(state, lines.join('\n')).to.equal('failed');
      // read raw: BullMQ's own Job.fromId cannot parse the job either
      expect(await conn.hget(`bull:${name}:bad`, 'failedReason')).to.equal('malformed job: its data is not JSON');
    } finally {
      await w.close(true);
      await queue.close();
      conn.disconnect();
    }
  });

  it('a worker opens no file outside its data root, and its reason quotes no file content', async () => {
    const root = path.join(tmp, 'root');
    mkdirSync(root);
    const roots = [root];
    for (const [options, option] of [
      [{ model: 'file:/etc/passwd' }, '--model /etc/passwd'],
      [{ dataset: 'csv:/etc/passwd' }, '--dataset /etc/passwd'],
      [{ dataset: `csv:${root}/../outside.csv` }, `--dataset ${root}/../outside.csv`],
      [{ agent: 'schedule', schedule: '/etc/passwd#1' }, '--schedule /etc/passwd'],
    ] as const)
      expect(() => checkConfined(options, roots), option).to.throw(
        `malformed job: ${option} lies outside this worker's data root ${root}`,
      );
    symlinkSync('/etc', path.join(root, 'etc'));
    expect(() => checkConfined({ model: `file:${root}/etc/passwd` }, roots)).to.throw('lies outside');
    expect(() => checkConfined({ dataset: `csv:${root}/data.csv`, model: 'mlp:8' }, roots)).to.not.throw();

    // end to end: the job fails with a reason that holds nothing of /etc/passwd
    const name = 'confined';
    const lines: string[] = [];
    const w = worker(redis.url, name, lines, root);
    await w.start();
    const conn = connect(parseQueueUrl(redis.url));
    const queue = new Queue(name, { connection: conn });
    try {
      const payload = {
        version: PAYLOAD_VERSION,
        kind: 'run',
        job: { options: { ...OPTIONS, model: 'file:/etc/passwd' }, seed: 0, out: path.join(tmp, 'x') },
      };
      await queue.add('run', payload, { jobId: 'escape', attempts: 1 });
      await until(async () => (await queue.getJobState('escape')) === 'failed', 10_000);
      const reason = (await queue.getJob('escape'))!.failedReason;
      expect(reason).to.equal(
        `malformed job: --model /etc/passwd lies outside this worker's data root ${root} (start the worker with --data-root to widen it)`,
      );
      expect(reason).to.not.include('root:');
    } finally {
      await w.close(true);
      await queue.close();
      conn.disconnect();
    }
  });

  it('model.json weight paths are confined to its folder', () => {
    const dir = path.join(tmp, 'model');
    mkdirSync(dir);
    const file = path.join(dir, 'model.json');
    for (const p of ['../../../../etc/passwd', '/etc/passwd']) {
      writeFileSync(file, JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: [p], weights: [] }] }));
      expect(() => readModelArtifacts(file), p).to.throw(
        /must be a file name in the model's folder|lies outside the model's folder/,
      );
    }
    writeFileSync(file, 'root:x:0:0:root:/root:/bin/bash');
    expect(() => readModelArtifacts(file)).to.throw(`${file}: not valid JSON (not a tfjs model.json)`);
  });

  it('a coordinator whose Redis restarts empty within seconds queues its jobs again, and they finish', async function () {
    this.timeout(90_000);
    const name = 'restart';
    const progress: string[] = [];
    const executor = await QueueExecutor.open({
      url: parseQueueUrl(redis.url),
      queueName: name,
      onProgress: (p) => progress.push(`${p.queued} queued, ${p.running} running, ${p.done} done`),
    });
    const lines: string[] = [];
    let w: QueueWorker | undefined;
    try {
      const run = executor.run({ options: OPTIONS, seed: 0, out: path.join(tmp, 'restart-run') });
      await until(async () => progress.length > 0, 5000);
      // the job is queued, no worker yet: Redis goes and comes back empty (no persistence) within a second
      await redis.kill();
      await new Promise((r) => setTimeout(r, 300));
      await redis.restart();
      w = worker(redis.url, name, lines);
      await w.start();
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([
        run,
        new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 45_000))),
      ]);
      // a timer left running would keep mocha's process up for its 45 s
      clearTimeout(timer);
      expect(result, `${progress.join('\n')}\n${lines.join('\n')}`).to.not.equal('hung');
      expect((result as { summary?: unknown }).summary).to.not.equal(undefined);
    } finally {
      await w?.close(true);
      await executor.close();
    }
  });
});
