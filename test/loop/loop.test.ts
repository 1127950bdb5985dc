import { expect } from 'chai';
import { Subject, filter, lastValueFrom, take, toArray } from 'rxjs';
import { createRng } from '../../src/core/rng.js';
import type { Agent, StepInfo, Transition } from '../../src/core/types.js';
import { episodeSeed, run$, type LoopEvent } from '../../src/loop/loop.js';
import { TargetPathEnv } from '../helpers/toy-envs.js';

/** Keeps every layer's rate and records what the loop told it. */
function recordingAgent(): Agent & { calls: string[]; learned: Transition[]; episodes: number } {
  const rng = createRng(1);
  return {
    name: 'recording',
    calls: [],
    learned: [],
    episodes: 0,
    beginEpisode(_o, _i, episode) {
      this.calls.push(`begin ${episode}`);
    },
    act(_observation: number[], info: StepInfo) {
      this.calls.push(`act ${info.epoch}`);
      return [rng.int(3), 1];
    },
    learn(t) {
      this.learned.push(t);
    },
    endEpisode(transitions) {
      this.episodes += 1;
      this.calls.push(`end ${transitions.length}`);
    },
    saveState: () => ({}),
    loadState: () => undefined,
  };
}

const strip = (events: LoopEvent[]) =>
  JSON.stringify(events, (key, value: unknown) => (key.endsWith('Ms') ? undefined : value));

describe('run$', () => {
  it('is cold: nothing runs until subscribed', async () => {
    const env = new TargetPathEnv({ maxEpochs: 3 });
    const agent = recordingAgent();
    const stream = run$(env, agent, { episodes: 2, seed: 0 });
    await new Promise((r) => setTimeout(r, 20));
    expect(agent.calls).to.deep.equal([]);
    await lastValueFrom(stream);
    expect(agent.calls.slice(0, 5)).to.deep.equal(['begin 1', 'act 0', 'act 1', 'act 2', 'end 3']);
  });

  it('emits reset, a step per epoch and an episode record, for every episode', async () => {
    const env = new TargetPathEnv({ maxEpochs: 3 });
    const events = await lastValueFrom(run$(env, recordingAgent(), { episodes: 2, seed: 0 }).pipe(toArray()));
    expect(events.map((e) => e.type)).to.deep.equal([
      'reset',
      'step',
      'step',
      'step',
      'episode',
      'reset',
      'step',
      'step',
      'step',
      'episode',
    ]);
    const episode = events[4] as Extract<LoopEvent, { type: 'episode' }>;
    const steps = events.slice(1, 4) as Extract<LoopEvent, { type: 'step' }>[];
    expect(episode.record.return).to.be.closeTo(
      steps.reduce((s, e) => s + e.transition.reward, 0),
      1e-12,
    );
    expect(episode.record.schedule).to.deep.equal(steps.map((e) => e.transition.info.rates));
    expect(episode.record.epochs).to.equal(3);
  });

  it('numbers episodes from 1, like epochs, in every event and transition', async () => {
    const events = await lastValueFrom(
      run$(new TargetPathEnv({ maxEpochs: 2 }), recordingAgent(), { episodes: 2, seed: 0 }).pipe(toArray()),
    );
    expect(events.map((e) => `${e.type} ${e.episode}`)).to.deep.equal([
      'reset 1',
      'step 1',
      'step 1',
      'episode 1',
      'reset 2',
      'step 2',
      'step 2',
      'episode 2',
    ]);
    const records = events.flatMap((e) => (e.type === 'episode' ? [e.record] : []));
    expect(records.map((r) => r.episode)).to.deep.equal([1, 2]);
    expect(events.flatMap((e) => (e.type === 'step' ? [e.transition.episode] : []))).to.deep.equal([1, 1, 2, 2]);
  });

  it('keeps the env seeds of logs numbered from 0: episode k is seeded as index k − 1 was', () => {
    expect(episodeSeed(5, 1)).to.equal(createRng('episode:5:0').seed());
    expect(episodeSeed(5, 3)).to.equal(createRng('episode:5:2').seed());
  });

  it('is deterministic for a seed and resets episode k with episodeSeed(seed, k)', async () => {
    const once = () =>
      lastValueFrom(
        run$(new TargetPathEnv({ maxEpochs: 3, rewardNoise: 0.1 }), recordingAgent(), { episodes: 2, seed: 5 }).pipe(
          toArray(),
        ),
      );
    expect(strip(await once())).to.equal(strip(await once()));
    const other = await lastValueFrom(
      run$(new TargetPathEnv({ maxEpochs: 3, rewardNoise: 0.1 }), recordingAgent(), { episodes: 2, seed: 6 }).pipe(
        toArray(),
      ),
    );
    expect(strip(other)).to.not.equal(strip(await once()));
    expect(episodeSeed(5, 2)).to.not.equal(episodeSeed(6, 1));
  });

  it('stops stepping the env after an unsubscribe', async () => {
    const env = new TargetPathEnv({ maxEpochs: 50 });
    let steps = 0;
    const step = env.step.bind(env);
    env.step = async (a) => {
      steps += 1;
      await new Promise((r) => setTimeout(r, 1));
      return step(a);
    };
    await lastValueFrom(
      run$(env, recordingAgent(), { episodes: 10, seed: 0 }).pipe(
        filter((e) => e.type === 'step'),
        take(3),
      ),
    );
    await new Promise((r) => setTimeout(r, 50));
    // The epoch in progress when take(3) unsubscribed may finish; nothing after it starts.
    expect(steps).to.be.within(3, 4);
  });

  it('on stop$, finishes and emits the epoch in progress, then completes without recording the cut episode', async () => {
    const env = new TargetPathEnv({ maxEpochs: 5 });
    const agent = recordingAgent();
    const stop$ = new Subject<void>();
    const events: LoopEvent[] = [];
    await new Promise<void>((resolve, reject) => {
      run$(env, agent, { episodes: 3, seed: 0, stop$ }).subscribe({
        next: (e) => {
          events.push(e);
          if (e.type === 'step' && e.episode === 2 && e.transition.epoch === 2) stop$.next();
        },
        error: reject,
        complete: resolve,
      });
    });
    const steps = events.filter((e) => e.type === 'step');
    expect(steps).to.have.length(5 + 2);
    expect(events.filter((e) => e.type === 'episode')).to.have.length(1);
    expect(agent.episodes, 'the cut episode is not learned from').to.equal(1);
  });

  it('passes every transition to learn, in order', async () => {
    const agent = recordingAgent();
    await lastValueFrom(run$(new TargetPathEnv({ maxEpochs: 4 }), agent, { episodes: 2, seed: 0 }));
    expect(agent.learned.map((t) => [t.episode, t.epoch])).to.deep.equal([
      [1, 1],
      [1, 2],
      [1, 3],
      [1, 4],
      [2, 1],
      [2, 2],
      [2, 3],
      [2, 4],
    ]);
  });
});
