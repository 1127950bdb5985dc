/**
 * The experiment on a real Redis queue, with worker processes: the run folders are the local pool's,
 * byte for byte but for wall times, through a worker killed mid-job, Redis going away and a resume.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { connect, parseQueueUrl } from '../../src/execution/queue/protocol.js';
import { ROOT, startCommand, startRedis, startWorker, type Proc, type TestRedis } from '../helpers/redis.js';

/** 2 rates × (grid, ucb carried across seeds) × 2 seeds: 6 runs, one of them needing another's agent.json. */
const TINY = [
  '--dataset',
  'synthetic',
  '--model',
  'mlp:16,8',
  '--train-size',
  '200',
  '--val-size',
  '100',
  '--test-size',
  '100',
  '--epochs',
  '3',
  '--grid',
  '0.1,0.3',
  '--seeds',
  '2',
  '--methods',
  'grid,ucb',
  '--carry',
];
const RUNS = ['s0/grid-r10', 's0/grid-r30', 's0/ucb-ucb', 's1/grid-r10', 's1/grid-r30', 's1/ucb-ucb'];

const tempDir = () => mkdtempSync(path.join(tmpdir(), 'droptune-queue-'));

/** Every file under `<experiment>/runs`, by path, with wall times (`*Ms`) blanked and the experiment's folder named EXP. */
function runFiles(experiment: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(experiment, 'runs', rel)).sort()) {
      const relPath = path.join(rel, name);
      const full = path.join(experiment, 'runs', relPath);
      if (statSync(full).isDirectory()) walk(relPath);
      else
        files.set(
          relPath,
          readFileSync(full, 'utf8')
            .replace(/("\w*Ms":\s*)[-\d.e+]+/g, '$10')
            .split(experiment)
            .join('EXP'),
        );
    }
  };
  walk('');
  return files;
}

function expectSameRuns(actual: string, expected: string): void {
  const a = runFiles(actual);
  const e = runFiles(expected);
  expect([...a.keys()]).to.deep.equal([...e.keys()]);
  for (const [file, text] of e) expect(a.get(file), file).to.equal(text);
}

const startedAt = (experiment: string, run: string) =>
  (JSON.parse(readFileSync(path.join(experiment, 'runs', run, 'config.json'), 'utf8')) as { startedAtMs: number })
    .startedAtMs;
const trainedIn = (worker: Proc, run: string) =>
  worker
    .output()
    .split('\n')
    .filter((l) => l.endsWith(`${run}: training`)).length;

describe('npm run experiment --queue (a real Redis, worker processes)', function () {
  let redis: TestRedis;
  let local: string;
  const workers: Proc[] = [];

  before(async function () {
    redis = await startRedis();
    // The reference: the same experiment on the local pool.
    local = path.join(tempDir(), 'exp');
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/experiment.ts', ...TINY, '--workers', '2', '--out', local],
      { cwd: ROOT, encoding: 'utf8', timeout: 240_000 },
    );
    expect(r.status, r.stderr).to.equal(0);
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.kill()));
  });

  after(async () => {
    await redis?.stop();
  });

  it('writes the run folders of the local pool, byte for byte but wall times, with two worker processes', async () => {
    workers.push(startWorker(redis.url), startWorker(redis.url));
    const out = path.join(tempDir(), 'exp');
    const coordinator = startCommand('experiment', [...TINY, '--out', out, '--queue', redis.url]);
    expect(await coordinator.exited, coordinator.output()).to.equal(0);
    expectSameRuns(out, local);
    // Each run trained once, by one worker or the other; the coordinator counted them out.
    for (const run of RUNS)
      expect(
        workers.reduce((n, w) => n + trainedIn(w, run), 0),
        run,
      ).to.equal(1);
    expect(coordinator.output()).to.match(/queue: 0 queued, 0 running, 6 done, 0 failed/);
    expect(coordinator.output()).to.match(/queue: \d+ queued, \d+ running, \d+ done, 0 failed, ETA \d+s/);
  });

  it('hands the job of a worker SIGKILLed mid-run to the other worker, with the same results', async () => {
    const doomed = startWorker(redis.url);
    workers.push(doomed);
    const out = path.join(tempDir(), 'exp');
    const coordinator = startCommand('experiment', [...TINY, '--out', out, '--queue', redis.url]);
    await doomed.waitFor(/: training/);
    const killedRun = /(\S+): training/.exec(doomed.output())![1]!;
    await doomed.kill('SIGKILL');
    const survivor = startWorker(redis.url);
    workers.push(survivor);
    expect(await coordinator.exited, coordinator.output()).to.equal(0);
    expectSameRuns(out, local);
    // The stalled job was trained again, by the survivor.
    expect(trainedIn(survivor, path.relative(path.join(out, 'runs'), killedRun))).to.equal(1);
  });

  it('rejects a malformed job with its reason, and reports a job that fails once, with its error, untried again', async () => {
    const worker = startWorker(redis.url, ['--queue-name', 'droptune-test-faults']);
    workers.push(worker);
    await worker.waitFor(/serving queue droptune-test-faults/);
    const connection = connect(parseQueueUrl(redis.url));
    const queue = new Queue('droptune-test-faults', { connection });
    queue.on('error', () => undefined);
    try {
      const bad = [
        {
          data: { version: 1, kind: 'run', job: { options: 'lr=1', seed: 0, out: '/tmp/x' } },
          reason: 'malformed job: job.options is not an object',
        },
        {
          data: { version: 7, kind: 'run', job: {} },
          reason:
            'malformed job: version 7, this worker reads version 1: run the same droptune on the coordinator and the workers',
        },
        {
          data: { version: 1, kind: 'run', job: { options: { agent: 'nope' }, seed: 0, out: '/tmp/x' } },
          reason: 'malformed job: --agent must be one of',
        },
      ];
      for (const [i, { data, reason }] of bad.entries()) {
        const job = await queue.add('run', data, { jobId: `bad-${i}`, attempts: 1 });
        let state = await job.getState();
        for (let tries = 0; state !== 'failed' && tries < 200; tries++) {
          await new Promise((r) => setTimeout(r, 50));
          state = await job.getState();
        }
        const failed = (await queue.getJob(job.id!))!;
        expect(state).to.equal('failed');
        expect(failed.failedReason.startsWith(reason), failed.failedReason).to.equal(true);
        expect(failed.attemptsMade).to.equal(1);
      }
    } finally {
      await queue.close();
      connection.disconnect();
    }

    // A run that fails on the worker (its data is not there): one line per run, the error in it, not retried.
    // The missing folder lies inside the worker's data root (its working directory), so the loader is what refuses it.
    const out = path.join(tempDir(), 'exp');
    const coordinator = startCommand('experiment', [
      '--dataset',
      'fashion-mnist',
      '--data-dir',
      path.join(process.cwd(), 'runs', `no-such-data-${path.basename(path.dirname(out))}`),
      '--model',
      'mlp:8',
      '--epochs',
      '1',
      '--grid',
      '0.1,0.3',
      '--seeds',
      '1',
      '--methods',
      'grid',
      '--out',
      out,
      '--queue',
      redis.url,
      '--queue-name',
      'droptune-test-faults',
    ]);
    expect(await coordinator.exited).to.equal(1);
    const lines = coordinator
      .output()
      .split('\n')
      .filter((l) => l.startsWith('run ') && l.includes(' failed: '));
    expect(lines.map((l) => l.replace(/failed: .*/, 'failed')).sort()).to.deep.equal([
      `run ${path.join(out, 'runs', 's0', 'grid-r10')} failed`,
      `run ${path.join(out, 'runs', 's0', 'grid-r30')} failed`,
    ]);
    for (const line of lines) expect(line).to.match(/failed: .*fashion-mnist/);
    expect(coordinator.output()).to.match(/queue: 0 queued, 0 running, 0 done, 2 failed/);
    for (const run of ['s0/grid-r10', 's0/grid-r30']) expect(trainedIn(worker, run)).to.equal(1);
  });

  it('trains a population on the workers, member checkpoints travelling with the segments: the local run folder', async () => {
    // 4 members, exploit/explore after every epoch: checkpoints are copied between members on the coordinator.
    const pbt = [
      '--agent',
      'pbt',
      '--dataset',
      'synthetic',
      '--model',
      'mlp:16,8',
      '--train-size',
      '200',
      '--val-size',
      '100',
      '--test-size',
      '100',
      '--population',
      '4',
      '--epochs',
      '3',
      '--interval',
      '1',
    ];
    const localRun = path.join(tempDir(), 'pbt');
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/agent.ts', ...pbt, '--workers', '2', '--out', localRun],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stderr).to.equal(0);
    workers.push(startWorker(redis.url), startWorker(redis.url));
    const queued = path.join(tempDir(), 'pbt');
    const coordinator = startCommand('agent', [...pbt, '--out', queued, '--queue', redis.url]);
    expect(await coordinator.exited, coordinator.output()).to.equal(0);
    // 3 generations of 4 segments, each trained on a worker.
    expect(coordinator.output()).to.match(/queue: 0 queued, 0 running, 12 done, 0 failed/);
    expect(
      workers.reduce(
        (n, w) =>
          n +
          w
            .output()
            .split('\n')
            .filter((l) => l.endsWith(': training')).length,
        0,
      ),
    ).to.equal(12);
    const blank = (text: string, out: string) =>
      text
        .replace(/("\w*Ms":\s*)[-\d.e+]+/g, '$10')
        .split(out)
        .join('OUT');
    expect(readdirSync(queued).sort()).to.deep.equal(readdirSync(localRun).sort());
    for (const name of readdirSync(localRun))
      expect(blank(readFileSync(path.join(queued, name), 'utf8'), queued), name).to.equal(
        blank(readFileSync(path.join(localRun, name), 'utf8'), localRun),
      );
    expect(readFileSync(path.join(queued, 'lineage.jsonl'), 'utf8').trim().split('\n').length).to.be.at.least(1);
  });

  it('a coordinator SIGKILLed and resumed finds its jobs in Redis: every run trained once, the same results', async () => {
    const worker = startWorker(redis.url);
    workers.push(worker);
    const out = path.join(tempDir(), 'exp');
    const first = startCommand('experiment', [...TINY, '--out', out, '--queue', redis.url]);
    await first.waitFor(/queue: .* 2 done/);
    await first.kill('SIGKILL');
    // The worker goes on with the queued jobs meanwhile; their results wait in Redis for the coordinator.
    const resumed = startCommand('experiment', ['--resume', out, '--queue', redis.url]);
    expect(await resumed.exited, resumed.output()).to.equal(0);
    expectSameRuns(out, local);
    for (const run of RUNS) expect(trainedIn(worker, run), run).to.equal(1);
  });

  it("blames a worker only for a segment's own failure: a mistake on the coordinator is one line and exit 2", () => {
    const csv = path.join(tempDir(), 'one-class.csv');
    writeFileSync(csv, `a,b,label\n${Array.from({ length: 40 }, (_, i) => `${i},${i % 3},7`).join('\n')}\n`);
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/agent.ts',
        '--agent',
        'pbt',
        '--population',
        '2',
        '--epochs',
        '2',
        '--dataset',
        `csv:${csv}`,
        '--train-size',
        '20',
        '--val-size',
        '10',
        '--test-size',
        '10',
        '--out',
        path.join(tempDir(), 'pbt'),
        '--queue',
        redis.url,
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.stderr).to.not.match(/failed on a worker/);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.match(/^agent: .*class/);
    expect(r.status).to.equal(2);
  });

  it('says in one line that Redis went away, and --resume finishes the experiment without redoing finished runs', async () => {
    const worker = startWorker(redis.url);
    workers.push(worker);
    const out = path.join(tempDir(), 'exp');
    const first = startCommand('experiment', [...TINY, '--out', out, '--queue', redis.url]);
    await first.waitFor(/queue: .* 2 done/);
    await redis.kill();
    expect(await first.exited, first.output()).to.equal(1);
    const gone = first
      .output()
      .split('\n')
      .filter((l) => l.includes('went away'));
    expect(gone).to.have.length(1);
    expect(gone[0]).to.match(
      new RegExp(
        `^experiment: Redis at redis://127.0.0.1:${redis.port} went away \\(.*\\); the runs finished so far are kept: once Redis is back, npm run experiment -- --resume ${out} --queue redis://127.0.0.1:${redis.port}$`,
      ),
    );
    const finished = RUNS.filter((run) =>
      statSync(path.join(out, 'runs', run, 'summary.json'), { throwIfNoEntry: false }),
    );
    expect(finished.length).to.be.at.least(2);
    const before = new Map(finished.map((run) => [run, startedAt(out, run)]));

    await redis.restart();
    const resumed = startCommand('experiment', ['--resume', out, '--queue', redis.url]);
    expect(await resumed.exited, resumed.output()).to.equal(0);
    expectSameRuns(out, local);
    for (const [run, ms] of before) expect(startedAt(out, run), `${run} was trained again`).to.equal(ms);
  });
});

describe('--queue mistakes', () => {
  const run = (command: string, args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', `src/cli/${command}.ts`, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });

  it('says in one line what a malformed --queue or --queue-name is, with exit 2', () => {
    const cases: [string, string[], string][] = [
      [
        'experiment',
        ['--queue', 'localhost:6379'],
        "experiment: --queue must be redis://[[user]:password@]host[:port][/db] (rediss:// for TLS), got 'localhost:6379': the scheme is localhost\n",
      ],
      ['experiment', ['--queue-name', 'q'], 'experiment: --queue-name needs --queue\n'],
      [
        'worker',
        ['--queue', 'redis://h', '--queue-name', 'a:b'],
        "worker: --queue-name must be 1 to 100 letters, digits, '.', '_' or '-', got 'a:b'\n",
      ],
      [
        'agent',
        ['--agent', 'ucb', '--dataset', 'synthetic', '--queue', 'redis://h'],
        'agent: --queue applies to a scheduler over trials (--agent pbt or sha), not to --agent ucb; experiments take it too (npm run experiment -- --queue …)\n',
      ],
      [
        'agent',
        ['--agent', 'pbt', '--dataset', 'synthetic', '--queue', 'redis://h', '--workers', '2'],
        'agent: --workers does not apply with --queue: the members train on `npm run worker` processes\n',
      ],
      [
        'agent',
        ['--agent', 'ucb', '--dataset', 'synthetic', '--dashboard-port', '5'],
        'agent: --dashboard-port needs --dashboard\n',
      ],
    ];
    for (const [command, args, stderr] of cases) {
      const r = run(command, args);
      expect(r.stderr).to.equal(stderr);
      expect(r.status).to.equal(2);
    }
  });

  it('says in one line that Redis cannot be reached, with exit 1', async () => {
    const { createServer } = await import('node:net');
    // A port just freed: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = server.address() as { port: number };
        server.close(() => resolve(p));
      });
    });
    const r = run('worker', ['--queue', `redis://:pw@127.0.0.1:${port}`]);
    expect(r.stderr).to.equal(
      `worker: cannot reach Redis at redis://:***@127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`,
    );
    expect(r.status).to.equal(1);
    // with --dashboard too: the page closes with the failed run instead of keeping the process up
    const out = path.join(tempDir(), 'pbt');
    const pbt = run('agent', [
      '--agent',
      'pbt',
      '--population',
      '2',
      '--dataset',
      'synthetic',
      '--epochs',
      '2',
      '--out',
      out,
      '--queue',
      `redis://127.0.0.1:${port}`,
      '--dashboard',
    ]);
    expect(pbt.status, `${pbt.stdout}\n${pbt.stderr}`).to.equal(1);
    expect(pbt.stderr).to.equal(
      `agent: cannot reach Redis at redis://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`,
    );
    expect(existsSync(out), 'no run folder').to.equal(false);
  });
});
