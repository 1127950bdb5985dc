import { expect } from 'chai';
import type { Executor } from '../../src/execution/executor.js';
import type { Job, JobResult } from '../../src/execution/job.js';
import { runTasks, type Outcome, type Task } from '../../src/execution/task-graph.js';
import { StopFlag } from '../../src/core/stop-flag.js';

const job = (out: string): Job => ({ options: {}, seed: 0, out });
const result = (out: string): JobResult => ({
  out,
  layerNames: [],
  records: [],
  summary: undefined,
  interrupted: false,
});

/**
 * Runs nothing: each job takes `delays[out]` ms (default 5), or throws when its out is in `failing`.
 * Records the order jobs start in and the most that ever ran at once.
 */
function fakeExecutor(
  concurrency: number,
  opts: { delays?: Record<string, number>; failing?: string[]; onStart?: (out: string) => void } = {},
) {
  const started: string[] = [];
  let running = 0;
  let mostAtOnce = 0;
  const executor: Executor & { started: string[]; mostAtOnce: () => number } = {
    concurrency,
    started,
    mostAtOnce: () => mostAtOnce,
    async run(j) {
      started.push(j.out);
      opts.onStart?.(j.out);
      running += 1;
      mostAtOnce = Math.max(mostAtOnce, running);
      await new Promise((resolve) => setTimeout(resolve, opts.delays?.[j.out] ?? 5));
      running -= 1;
      if (opts.failing?.includes(j.out)) throw new Error(`cannot write ${j.out}\n    at somewhere (stack line)`);
      return result(j.out);
    },
    runSegment() {
      throw new Error('the scheduler runs jobs, never segments');
    },
    async close() {},
  };
  return executor;
}

const tasks = (spec: [string, string[]?][]): Task[] =>
  spec.map(([id, after]) => ({ id, job: job(id), ...(after ? { after } : {}) }));

describe('runTasks', () => {
  it('with a concurrency of 1 runs the plan in order, a dependent job in its place', async () => {
    const plan = tasks([['a'], ['b'], ['c', ['a']], ['d'], ['e', ['c', 'd']]]);
    const executor = fakeExecutor(1, { delays: { a: 30, d: 1 } });
    const outcomes = await runTasks(plan, executor);
    expect(executor.started).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
    expect([...outcomes.values()].map((o) => o.status)).to.deep.equal(['done', 'done', 'done', 'done', 'done']);
  });

  it('never runs more than the concurrency, starts a job only after the jobs it comes after, and lets ready jobs pass a waiting one', async () => {
    // a is slow; c needs a; d and e are free: they must not wait behind c.
    const plan = tasks([['a'], ['b'], ['c', ['a']], ['d'], ['e'], ['f', ['c', 'e']]]);
    const finishedAt = new Map<string, number>();
    let clock = 0;
    const startedAt = new Map<string, number>();
    const executor = fakeExecutor(2, { delays: { a: 80 }, onStart: (out) => startedAt.set(out, clock++) });
    const outcomes = await runTasks(plan, executor, { onOutcome: (task) => finishedAt.set(task.id, clock++) });
    expect(executor.mostAtOnce()).to.equal(2);
    expect(executor.started.slice(0, 4)).to.deep.equal(['a', 'b', 'd', 'e']);
    expect(startedAt.get('c')).to.be.greaterThan(finishedAt.get('a')!);
    expect(startedAt.get('f')).to.be.greaterThan(Math.max(finishedAt.get('c')!, finishedAt.get('e')!));
    expect(outcomes.size).to.equal(6);
  });

  it('with several workers starts the longest ready job first (the plan order among equals), a job of unknown cost before all', async () => {
    const withCost = (id: string, epochs?: number, episodes?: number): Task => ({
      id,
      job: { options: epochs === undefined ? {} : { epochs, ...(episodes ? { episodes } : {}) }, seed: 0, out: id },
    });
    // grid runs of 5 epochs, bandit runs of 3 episodes × 5 epochs, one job without epochs, one given a cost
    const plan = [
      withCost('grid-1', 5),
      withCost('grid-2', 5),
      withCost('ucb-1', 5, 3),
      withCost('grid-3', 5),
      withCost('ucb-2', 5, 3),
      withCost('unknown'),
      { ...withCost('costed'), cost: 10 },
    ];
    const executor = fakeExecutor(2);
    await runTasks(plan, executor);
    expect(executor.started).to.deep.equal(['unknown', 'ucb-1', 'ucb-2', 'costed', 'grid-1', 'grid-2', 'grid-3']);
    // one worker keeps the plan's order
    const single = fakeExecutor(1);
    await runTasks(plan, single);
    expect(single.started).to.deep.equal(plan.map((t) => t.id));
  });

  it('reports a failed job on one line naming its run, does not start what needs it, and runs the rest', async () => {
    const plan = tasks([['a'], ['b', ['a']], ['c'], ['d', ['b']]]);
    const seen: [string, Outcome['status']][] = [];
    const outcomes = await runTasks(plan, fakeExecutor(2, { failing: ['a'] }), {
      onOutcome: (task, o) => seen.push([task.id, o.status]),
    });
    const failed = outcomes.get('a')!;
    expect(failed.status).to.equal('failed');
    expect(failed.status === 'failed' && failed.error).to.equal('run a failed: cannot write a');
    expect(outcomes.get('b')).to.deep.equal({ status: 'not started', reason: 'it needs a, which did not finish' });
    expect(outcomes.get('d')).to.deep.equal({ status: 'not started', reason: 'it needs b, which did not finish' });
    expect(outcomes.get('c')!.status).to.equal('done');
    expect(seen).to.have.length(4);
  });

  it('builds a job from the results of the jobs it comes after', async () => {
    const plan: Task[] = [
      ...tasks([['x'], ['y']]),
      { id: 'z', after: ['x', 'y'], job: (done) => job(`z-after-${[...done.keys()].sort().join('+')}`) },
    ];
    const outcomes = await runTasks(plan, fakeExecutor(2));
    const z = outcomes.get('z')!;
    expect(z.status === 'done' && z.result.out).to.equal('z-after-x+y');
  });

  it('starts no job once a stop is requested, and says so', async () => {
    const stop = new StopFlag();
    const executor = fakeExecutor(1, { onStart: (out) => out === 'b' && stop.request() });
    const outcomes = await runTasks(tasks([['a'], ['b'], ['c'], ['d']]), executor, { stop });
    expect(executor.started).to.deep.equal(['a', 'b']);
    expect(outcomes.get('b')!.status).to.equal('done');
    expect(outcomes.get('c')).to.deep.equal({ status: 'not started', reason: 'stopped before it started' });
    expect(outcomes.get('d')!.status).to.equal('not started');
  });

  it('rejects a plan whose job comes after one that is not before it', async () => {
    let error: unknown;
    await runTasks(tasks([['a', ['b']], ['b']]), fakeExecutor(1)).catch((err: unknown) => (error = err));
    expect(String(error)).to.match(/'a' comes after 'b', which is not before it/);
  });
});

describe('StopFlag', () => {
  it('is shared through its buffer: a flag over the same buffer sees the request, and stop$ emits it', async () => {
    const flag = new StopFlag();
    const other = new StopFlag(flag.buffer);
    const emitted = new Promise<string>((resolve) =>
      other.stop$(5).subscribe({ next: () => resolve('stop'), complete: () => resolve('completed without a stop') }),
    );
    expect(other.requested).to.equal(false);
    flag.request();
    expect(other.requested).to.equal(true);
    expect(await emitted).to.equal('stop');
  });
});
