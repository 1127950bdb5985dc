import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/core/errors.js';
import { resolveJob, runJob, type Job } from '../../src/execution/job.js';
import {
  MalformedJob,
  checkPayload,
  checkQueueName,
  checkRunReturn,
  jobIdOf,
  parseQueueUrl,
  queueNameFor,
  readRunFiles,
  writeRunFiles,
  type RunPayload,
} from '../../src/execution/queue/protocol.js';

const tempDir = () => mkdtempSync(path.join(tmpdir(), 'droptune-queue-unit-'));
const TINY = {
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

describe('parseQueueUrl', () => {
  it('takes host, port, database, password and TLS from the URL, and masks the password when shown', () => {
    expect(parseQueueUrl('redis://10.0.0.5')).to.deep.include({
      host: '10.0.0.5',
      port: 6379,
      db: 0,
      tls: false,
      shown: 'redis://10.0.0.5',
    });
    const url = parseQueueUrl('rediss://:s%40cret@redis.lan:6380/3');
    expect(url).to.deep.include({
      host: 'redis.lan',
      port: 6380,
      db: 3,
      password: 's@cret',
      tls: true,
      shown: 'rediss://:***@redis.lan:6380/3',
    });
    expect(url.username).to.equal(undefined);
    expect(parseQueueUrl('redis://worker:pw@h:1/0')).to.deep.include({
      username: 'worker',
      password: 'pw',
      shown: 'redis://worker:***@h:1/0',
    });
  });

  it('refuses what is not a Redis URL with one line naming the option and the form', () => {
    for (const [value, why] of [
      ['localhost:6379', 'the scheme is localhost'],
      ['http://h', 'the scheme is http'],
      ['redis://h/x', "the database must be a number, got 'x'"],
      ['redis://h?db=1', 'no query or fragment'],
      ['', 'no URL'],
      ['redis://h:99999', 'not a URL'],
    ] as const) {
      expect(() => parseQueueUrl(value)).to.throw(ConfigError, why);
      expect(() => parseQueueUrl(value)).to.throw(
        `--queue must be redis://[[user]:password@]host[:port][/db] (rediss:// for TLS), got '${value}'`,
      );
    }
  });
});

describe('queue names', () => {
  it('names a queue after its experiment folder, different for folders of the same name elsewhere', () => {
    const a = queueNameFor('/data/a/experiment-quick');
    expect(a).to.match(/^droptune-experiment-quick-[0-9a-f]{8}$/);
    expect(queueNameFor('/data/b/experiment-quick')).to.not.equal(a);
    expect(checkQueueName(a)).to.equal(a);
    expect(() => checkQueueName('bull:x')).to.throw(
      ConfigError,
      "--queue-name must be 1 to 100 letters, digits, '.', '_' or '-', got 'bull:x'",
    );
  });
});

describe('queue payloads', () => {
  const payload: RunPayload = {
    version: 1,
    kind: 'run',
    job: { options: TINY, seed: 3, out: '/exp/runs/s3/grid-r20' },
  };

  it('gives the same run the same job id, and another run another', () => {
    expect(jobIdOf(payload)).to.equal(jobIdOf(JSON.parse(JSON.stringify(payload)) as RunPayload));
    expect(jobIdOf({ ...payload, job: { ...payload.job, seed: 4 } })).to.not.equal(jobIdOf(payload));
  });

  it('rejects a malformed payload with its reason', () => {
    expect(checkPayload(payload)).to.equal(payload);
    const segment = {
      data: { dataset: 'synthetic' },
      env: {},
      backend: 'auto',
      dir: '/exp/population',
      member: 0,
      generation: 1,
      seed: 5,
      rates: [0.2, 0.3],
      untilEpoch: 2,
    };
    const segmentPayload = {
      version: 1,
      kind: 'segment',
      segment,
      checkpoint: [{ path: 'member-0.json', encoding: 'utf8', data: '{}' }],
    };
    expect(checkPayload(segmentPayload)).to.equal(segmentPayload);
    const cases: [unknown, string][] = [
      [null, 'the payload is not an object'],
      [{ ...payload, kind: 'episode' }, `kind "episode", expected 'run' or 'segment'`],
      [
        { version: 1, kind: 'segment', segment: { ...segment, rates: [0.2, 1.5] }, checkpoint: [] },
        'segment.rates must be rates in [0, 1), got [0.2,1.5]',
      ],
      [
        { version: 1, kind: 'segment', segment, checkpoint: [{ path: 'member-1.json', encoding: 'utf8', data: '{}' }] },
        'checkpoint: a file outside its folder: member-1.json',
      ],
      [{ ...payload, job: { ...payload.job, seed: -1 } }, 'job.seed must be a whole number in [0, 2^32), got -1'],
      [{ ...payload, job: { ...payload.job, out: '' } }, 'job.out must be a folder path, got ""'],
      [{ ...payload, job: { ...payload.job, writeTo: '/etc' } }, 'job has unknown field writeTo'],
      [
        { ...payload, job: { ...payload.job, fold: { fold: 2, folds: 2 } } },
        'job.fold must be { fold, folds } with 0 <= fold < folds',
      ],
    ];
    for (const [data, reason] of cases)
      expect(() => checkPayload(data)).to.throw(MalformedJob, `malformed job: ${reason}`);
  });

  it('refuses returned files that would leave the run folder', () => {
    for (const bad of ['../x', '/etc/passwd', 'a//b', 'a/../../b']) {
      expect(() => checkRunReturn({ version: 1, files: [{ path: bad, encoding: 'utf8', data: '' }] })).to.throw(
        'outside its run folder',
      );
    }
  });
});

describe('a run trained elsewhere (writeTo) and written back from its files', () => {
  it('records the coordinator folder and the shipped agent, and writes the same bytes where it belongs', async () => {
    const root = tempDir();
    const agentFile = path.join(root, 'agent-from-elsewhere.json');
    const direct: Job = {
      options: { ...TINY, agent: 'ucb', episodes: 2, rate: undefined, loadAgent: agentFile },
      seed: 1,
      out: path.join(root, 'direct'),
    };
    delete direct.options['rate'];
    // The agent file to start from: what a ucb run ends with.
    const first = await runJob({
      options: { ...direct.options, loadAgent: undefined },
      seed: 0,
      out: path.join(root, 'first'),
    });
    writeFileSync(agentFile, readFileSync(path.join(first.out, 'agent.json')));
    await runJob(direct);

    // On a worker: the agent's state travels with the job, the run trains in scratch, its files come back.
    const state = JSON.parse(readFileSync(agentFile, 'utf8')) as unknown;
    const scratch = path.join(root, 'scratch', 'run');
    const remote: Job = { ...direct, out: path.join(root, 'remote'), agentState: state, writeTo: scratch };
    expect(resolveJob(remote).out).to.equal(scratch);
    await runJob(remote);
    expect(readdirSync(path.join(root, 'scratch', 'run')).sort()).to.deep.equal([
      'agent.json',
      'config.json',
      'episodes.jsonl',
      'steps.jsonl',
      'summary.json',
    ]);
    const files = readRunFiles(scratch);
    // Left over from an attempt that never finished: gone once the files are written.
    mkdirSync(path.join(root, 'remote'));
    writeFileSync(path.join(root, 'remote', 'checkpoint.json'), '{}');
    writeRunFiles(remote.out, checkRunReturn(JSON.parse(JSON.stringify({ version: 1, files }))).files);

    const blank = (text: string, out: string) =>
      text
        .replace(/("\w*Ms":\s*)[-\d.e+]+/g, '$10')
        .split(out)
        .join('OUT');
    for (const name of readdirSync(direct.out)) {
      expect(blank(readFileSync(path.join(remote.out, name), 'utf8'), remote.out), name).to.equal(
        blank(readFileSync(path.join(direct.out, name), 'utf8'), direct.out),
      );
    }
    expect(readdirSync(remote.out).sort()).to.deep.equal(readdirSync(direct.out).sort());
    const config = JSON.parse(readFileSync(path.join(remote.out, 'config.json'), 'utf8')) as {
      options: { out: string; loadAgent: string };
    };
    expect(config.options).to.deep.include({ out: remote.out, loadAgent: agentFile });
  });
});
