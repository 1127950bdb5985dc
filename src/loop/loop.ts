/**
 * The agent–environment loop as a cold, deterministic Observable.
 *
 *   run$(env, agent, { episodes, seed })  emits, per episode: one `reset`, a `step` per epoch, one `episode`
 *
 * Episodes are numbered from 1, like epochs. Nothing runs until subscribed. Episode k resets the env
 * with `episodeSeed(seed, k)`, so a run is a
 * pure function of (env config, agent, seed). Logging, progress and stopping rules are subscribers and
 * operators on this stream; the loop itself only alternates act → step → learn.
 *
 * Stopping: unsubscribing, or a value on `stop$`, ends the run after the epoch in progress (a tfjs
 * epoch cannot be cut in half). After `stop$` the finished epoch is still emitted, then the stream
 * completes, so loggers flush everything that was trained.
 */
import { Observable, type Subscription } from 'rxjs';
import { createRng } from '../core/rng.js';
import type { EpisodeRecord } from '../core/run-log.js';
import { episodeScore, type SelectProtocol } from '../core/select.js';
import type { Action, Agent, Env, StepInfo, StepResult, Transition } from '../core/types.js';

export interface ResetEvent {
  type: 'reset';
  episode: number;
  observation: number[];
  info: StepInfo;
}

export interface StepEvent {
  type: 'step';
  episode: number;
  transition: Transition;
}

export interface EpisodeEvent {
  type: 'episode';
  episode: number;
  record: EpisodeRecord;
  transitions: readonly Transition[];
}

export type LoopEvent = ResetEvent | StepEvent | EpisodeEvent;

export interface RunOptions {
  episodes: number;
  /** Episode k (from 1) is reset with episodeSeed(seed, k). */
  seed: number;
  /** Number of the first episode (a continued run starts after the episodes it already has). @default 1 */
  firstEpisode?: number;
  /** The env seed of each episode. @default (k) => episodeSeed(seed, k) */
  envSeed?: (episode: number) => number;
  /**
   * Continue the first episode in the middle: the env has been restored to the end of `transitions`
   * (its snapshot), and the agent to its state at the episode's start. The loop replays the agent's
   * side (beginEpisode, then act and learn for each transition, checking that each action is the one
   * logged) and trains on from there. Replayed steps are not emitted again.
   */
  resume?: { reset: { observation: number[]; info: StepInfo }; transitions: readonly Transition[] };
  /** Emits to stop gracefully after the epoch in progress. */
  stop$?: Observable<unknown>;
  /** How each episode is scored: a protocol other than final adds `selected` to its record. @default final */
  select?: SelectProtocol;
}

/**
 * The env seed of episode k (from 1) of a run. Hashed rather than `seed + k`, so that runs with
 * neighbouring seeds do not share episodes (seed 0's episode 2 would be seed 1's episode 1), which would
 * make seeds correlated in a comparison across them. The hash takes k − 1, the index logs before
 * version 2 numbered episodes by, so every seed is the one it always was.
 */
export function episodeSeed(runSeed: number, episode: number): number {
  return createRng(`episode:${runSeed}:${episode - 1}`).seed();
}

/** One env step, as an agent learns from it and the run log records it. */
export function transitionOf(episode: number, observation: number[], action: Action, result: StepResult): Transition {
  return {
    episode,
    epoch: result.info.epoch,
    observation,
    action,
    reward: result.reward,
    nextObservation: result.observation,
    terminated: result.terminated,
    truncated: result.truncated,
    info: result.info,
  };
}

/** Sums an episode's steps into its log record (a PBT member's steps include those it inherited). */
export function episodeRecord(
  episode: number,
  initial: StepInfo,
  transitions: readonly Pick<Transition, 'reward' | 'info'>[],
  episodeMs: number,
  envSeed?: number,
  select?: SelectProtocol,
): EpisodeRecord {
  const last = transitions[transitions.length - 1]?.info ?? initial;
  const infos = transitions.map((t) => t.info);
  // Recorded only when there is something the final rule would not say: old runs' records stay as they were.
  const measuredEachEpoch = infos.length > 1 && infos.every((i) => i.testAcc !== undefined);
  const selected =
    select && select.select !== 'final' && infos.length > 0
      ? { selected: { ...episodeScore(infos, select, last.testAcc), select: select.select } }
      : {};
  const bestEpoch = measuredEachEpoch ? { bestEpoch: episodeScore(infos, { select: 'best-epoch' }) } : {};
  return {
    episode,
    ...(envSeed !== undefined ? { seed: envSeed } : {}),
    return: transitions.reduce((sum, t) => sum + t.reward, 0),
    epochs: transitions.length,
    initialValAcc: initial.valAcc,
    valAcc: last.valAcc,
    valLoss: last.valLoss,
    testAcc: last.testAcc ?? Number.NaN,
    testLoss: last.testLoss ?? Number.NaN,
    diverged: last.diverged,
    schedule: transitions.map((t) => t.info.rates),
    ...selected,
    ...bestEpoch,
    episodeMs,
  };
}

export function run$(env: Env, agent: Agent, opts: RunOptions): Observable<LoopEvent> {
  return new Observable<LoopEvent>((subscriber) => {
    let stopRequested = false;
    const stopSub: Subscription | undefined = opts.stop$?.subscribe(() => {
      stopRequested = true;
    });
    const halted = () => stopRequested || subscriber.closed;
    const first = opts.firstEpisode ?? 1;

    (async () => {
      const seedOf = opts.envSeed ?? ((k: number) => episodeSeed(opts.seed, k));
      for (let episode = first; episode < first + opts.episodes && !halted(); episode++) {
        const started = performance.now();
        const resume = episode === first ? opts.resume : undefined;
        const reset = resume
          ? { ...resume.reset, type: 'reset' as const, episode }
          : await env.reset({ seed: seedOf(episode) });
        if (subscriber.closed) return;
        if (!resume) subscriber.next({ type: 'reset', episode, observation: reset.observation, info: reset.info });
        agent.beginEpisode?.(reset.observation, reset.info, episode);

        const transitions: Transition[] = [];
        let observation = reset.observation;
        let info = reset.info;
        for (const logged of resume?.transitions ?? []) {
          const action = await agent.act(observation, info);
          if (JSON.stringify(action) !== JSON.stringify(logged.action)) {
            throw new Error(
              `resume: the agent chose ${JSON.stringify(action)} at episode ${episode} epoch ${logged.epoch}, the log has ${JSON.stringify(logged.action)}: it does not replay deterministically`,
            );
          }
          await agent.learn?.(logged);
          transitions.push(logged);
          ({ nextObservation: observation, info } = logged);
        }
        for (let done = transitions.at(-1)?.terminated === true || transitions.at(-1)?.truncated === true; !done;) {
          // wasm kernels run synchronously and data() resolves as a microtask, so without this a run
          // never returns to the event loop: no Ctrl-C handler, timer or I/O callback would run.
          await new Promise((resolve) => setImmediate(resolve));
          // A stop that arrived during the epoch just trained takes effect here, before another one starts.
          if (halted()) break;
          const action = await agent.act(observation, info);
          const result = await env.step(action);
          const transition = transitionOf(episode, observation, action, result);
          await agent.learn?.(transition);
          transitions.push(transition);
          if (subscriber.closed) return;
          subscriber.next({ type: 'step', episode, transition });
          ({ observation, info } = result);
          done = result.terminated || result.truncated || halted();
        }
        // An episode cut short by a stop is logged by its steps but not learned from or recorded as finished.
        if (!transitions.at(-1)?.terminated && !transitions.at(-1)?.truncated) break;
        await agent.endEpisode?.(transitions);
        if (subscriber.closed) return;
        subscriber.next({
          type: 'episode',
          episode,
          record: episodeRecord(
            episode,
            reset.info,
            transitions,
            performance.now() - started,
            seedOf(episode),
            opts.select,
          ),
          transitions,
        });
      }
      subscriber.complete();
    })().catch((err: unknown) => subscriber.error(err));

    return () => stopSub?.unsubscribe();
  });
}
