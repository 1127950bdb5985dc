/**
 * The tuned model out of a run (`tune({ final: true })`, `npm run agent -- --final`): the best episode
 * trained again under its own env seed with its own schedule, as `--replay` trains it, so the model is
 * the one that episode ended with. Saved as RUN/model/ with stock tfjs Dropout layers at the schedule's
 * last rates (toStockDropout): plain @tensorflow/tfjs loads it, no droptune needed.
 */
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { lastValueFrom, filter } from 'rxjs';
import { AGENTS } from '../../agents/index.js';
import { DropoutEnv } from '../../envs/dropout-env.js';
import { bestEpisode, type EpisodeRecord } from '../core/run-log.js';
import { loadDataset, type Dataset } from '../data/dataset.js';
import { episodeSeed, run$, type EpisodeEvent } from '../loop/loop.js';
import { toStockDropout } from '../nn/stock-dropout.js';
import { saveModelFile } from '../nn/model-file.js';
import { RUN_FILES } from '../store/run-writer.js';
import { agentContext, agentRng } from './make-agent.js';
import type { ResolvedRun } from './run.js';

/** The folder in a run folder that holds its final model. */
export const FINAL_MODEL_DIR = 'model';

export interface FinalModel {
  /** The trained model, stock Dropout layers at the last rates; not compiled. */
  model: tf.LayersModel;
  /** Its model.json (RUN/model/model.json). */
  file: string;
  /** The episode it trained again, and what training it again gave. */
  episode: number;
  valAcc: number;
  testAcc: number;
  /** Whether it ended with the accuracies the run logged for that episode (same backend: always). */
  reproduced: boolean;
}

/** Trains the best of `records` again and saves its model in `run.out`/model. */
export async function trainFinalModel(
  run: ResolvedRun,
  records: readonly EpisodeRecord[],
  opts: { dataset?: Dataset } = {},
): Promise<FinalModel> {
  const best = bestEpisode(records);
  if (!best) throw new Error('trainFinalModel: the run has no finished episode');
  // A concrete-dropout run learned its rates by gradient: its own agent under its seed repeats it.
  const concrete = run.envConfig.concreteDropout === true;
  const env = new DropoutEnv(opts.dataset ?? loadDataset(run.data), {
    ...run.env,
    ...(concrete ? {} : { actionMode: 'absolute' as const }),
  });
  const [name, options] = concrete
    ? [run.agent, run.agentOptions]
    : ['schedule', { schedule: `${path.join(run.out, RUN_FILES.episodes)}#${best.episode}` }];
  const agent = AGENTS[name]!.create(options, agentContext(env, agentRng(name, run.seed)));
  try {
    const envSeed = best.seed ?? episodeSeed(run.seed, best.episode);
    const done = await lastValueFrom(
      run$(env, agent, { episodes: 1, seed: run.seed, envSeed: () => envSeed }).pipe(
        // only the episode's end matters here
        filter((e): e is EpisodeEvent => e.type === 'episode'),
      ),
    );
    const model = await toStockDropout(env.model!);
    const file = await saveModelFile(model, path.join(run.out, FINAL_MODEL_DIR));
    const { valAcc, testAcc } = done.record;
    return {
      model,
      file,
      episode: best.episode,
      valAcc,
      testAcc,
      reproduced: valAcc === best.valAcc && testAcc === best.testAcc,
    };
  } finally {
    env.dispose();
    agent.dispose?.();
  }
}
