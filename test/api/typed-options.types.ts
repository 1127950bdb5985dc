/**
 * Compiled by the normal `tsc --noEmit -p .` (never run): each `@ts-expect-error` line must be an error
 * under strict, or tsc fails on the unused directive. The mistakes of issue 23, and the right forms beside them.
 */
import * as tf from '@tensorflow/tfjs';
import { dropoutController, tune } from '../../src/index.js';

export async function typedOptions(): Promise<void> {
  // @ts-expect-error an agent that does not exist
  dropoutController({ agent: 'ucbb' });
  // @ts-expect-error ucb's option is ucbC
  dropoutController({ agent: 'ucb', options: { ucbc: 1 } });
  // @ts-expect-error plateau's option is patience
  dropoutController({ plateau: { patiense: 2 } });
  // @ts-expect-error pbt trains a population, not one fit
  dropoutController({ agent: 'pbt' });
  // @ts-expect-error an option the controller does not have
  dropoutController({ agnet: 'ucb' });
  dropoutController({ agent: 'ucb', options: { ucbC: 1 } });
  dropoutController({ plateau: { patience: 2 }, verbose: true });
  dropoutController({ schedule: 'annealed', options: { annealEpochs: 3 } });

  // @ts-expect-error the option is episodes
  await tune({ episode: 3 });
  // @ts-expect-error rate is not an option of ucb
  await tune({ agent: 'ucb', rate: 0.3 });
  // @ts-expect-error agent names are a union
  await tune({ agent: 'ucbb' });
  // @ts-expect-error trainSize is a number
  await tune({ trainSize: '100' });
  const result = await tune({ agent: 'ucb', ucbC: 1, episodes: 3, final: true });
  const schedule: number[][] | undefined = result.bestSchedule;
  // @ts-expect-error summary is undefined when no episode finished
  const strictly: number = result.summary.best.valAcc;
  const model: tf.LayersModel | undefined = result.final?.model;
  void [schedule, strictly, model];

  const controller = dropoutController({ testData: [tf.zeros([1, 2]), tf.zeros([1, 2])] });
  // @ts-expect-error testAcc is null without testData
  const acc: number = controller.episodes[0]!.testAcc;
  void acc;
}
