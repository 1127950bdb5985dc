/**
 * The library's one call for a whole run: `await tune({ agent: 'ucb', dataset: 'synthetic', … })`
 * trains it and returns where its run folder is, as `npm run agent` would have written it.
 */
import type { Observable } from 'rxjs';
import { AGENTS } from '../../agents/index.js';
import type { PbtConfig } from '../../agents/pbt.js';
import { ConfigError } from '../core/errors.js';
import { flagOf, nearestFlag } from '../core/options.js';
import type { Dataset } from '../data/dataset.js';
import type { LoopEvent } from '../loop/loop.js';
import { initBackend } from '../nn/backend.js';
import { createExecutor } from '../execution/executor.js';
import { runPbt, type GenerationEvent } from '../schedulers/pbt/run-pbt.js';
import { allRunSpecs, executeRun, resolveRun, type RunResult } from '../run/run.js';
import { StopFlag } from '../core/stop-flag.js';

export interface TuneOptions {
  /**
   * Any option of `npm run agent`, keyed as in code rather than as a flag: `agent`, `episodes`,
   * `epochs`, `dataset`, `trainSize`, `model`, `seed`, `out`, `label`, an agent's own (`rate`,
   * `epsilon`, `population`, …). Unset options take the CLI's defaults.
   */
  [option: string]: unknown;
  /**
   * A built-in dataset's name (`'mnist'`), `'csv:FILE'`, `'idx:DIR'`, or a Dataset already split in
   * memory (`datasetFromArrays(...)`, `loadDataset(...)`): its own sizes are used, and config.json
   * records it as `memory:<name>` (such a run cannot be resumed from the command line). @default 'mnist'
   */
  dataset?: string | Dataset;
  /** Sees every reset, step and episode as it happens (a single run, not a population). */
  onEvent?: (event: LoopEvent) => void;
  /** Sees each generation of a population (`agent: 'pbt'`). */
  onGeneration?: (event: GenerationEvent) => void;
  /** Emitting stops the run after the epoch in progress; it can be continued with `--resume`. */
  stop$?: Observable<unknown>;
  /** A dataset loaded already (shared by several runs): must be the one `dataset` & co. name. */
  data?: Dataset;
}

export interface TuneResult extends RunResult {
  /** The tfjs backend it trained on. */
  backend: string;
}

/** The CLI's options that name a whole other way to run: not for tune(). */
const NOT_HERE: Record<string, string> = {
  resume: 'tune() starts a new run: continue one with `droptune agent --resume DIR`',
  replay: 'tune() starts a new run: replay an episode with `droptune agent --replay RUN#N`',
  config: 'tune() takes the options themselves: spread the JSON file in (`{ ...JSON.parse(text), … }`)',
};

/** Every key is a run option (as `npm run agent` takes it); a misspelt one is refused, not ignored. */
function checkKeys(given: Record<string, unknown>): void {
  const known = allRunSpecs()
    .map((s) => s.key)
    .filter((k) => !(k in NOT_HERE));
  for (const key of Object.keys(given)) {
    if (key in NOT_HERE) throw new ConfigError(`tune(): '${key}' is not an option here: ${NOT_HERE[key]}`);
    if (known.includes(key)) continue;
    const near = nearestFlag(key, known);
    throw new ConfigError(
      `tune(): unknown option '${key}'${near ? `: did you mean '${near}'?` : ''} (the options of npm run agent, keyed as in code: trainSize for --train-size)`,
    );
  }
}

/**
 * Resolves the options exactly as the CLI does (a bad one throws a ConfigError naming it), picks the
 * backend (tensorflow → wasm → cpu, or `backend`), trains, and returns the run folder (`out`) with
 * every episode record and the summary.
 */
export async function tune(options: TuneOptions): Promise<TuneResult> {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new ConfigError(`tune() takes an object of options, got ${options === null ? 'null' : typeof options}`);
  const { onEvent, onGeneration, stop$, dataset, ...given } = options;
  // Checked before anything is written: a bad one would fail once the run folder exists.
  for (const [key, value] of Object.entries({ onEvent, onGeneration }))
    if (value !== undefined && typeof value !== 'function')
      throw new ConfigError(`tune(): ${key} must be a function, got ${JSON.stringify(value)}`);
  if (stop$ !== undefined && typeof (stop$ as { subscribe?: unknown } | null)?.subscribe !== 'function')
    throw new ConfigError(
      `tune(): stop$ must be an Observable (anything with subscribe), got ${JSON.stringify(stop$)}`,
    );
  for (const [key, value] of Object.entries(given)) if (value === undefined) delete given[key];
  checkKeys(given);
  const data = typeof dataset === 'object' && dataset !== null ? dataset : undefined;
  if (data === undefined && dataset !== undefined) given['dataset'] = dataset;
  if (data !== undefined) {
    for (const key of ['trainSize', 'valSize', 'testSize']) {
      if (key in given)
        throw new ConfigError(
          `${flagOf(key)} does not apply to a dataset given in memory: it is already split (${data.train.n}/${data.val.n}/${data.test.n})`,
        );
    }
    // Resolved as a dataset that needs no file, then recorded as what it is.
    Object.assign(given, { dataset: 'synthetic', trainSize: data.train.n, valSize: data.val.n, testSize: data.test.n });
  }
  const run = resolveRun(given);
  if (data !== undefined) {
    if (AGENTS[run.agent]!.population)
      throw new ConfigError(
        `--agent ${run.agent} trains its members from a dataset they load by name: write the data to a CSV file and give dataset: 'csv:FILE'`,
      );
    run.data = { ...run.data, dataset: `memory:${data.name}` };
    run.options['dataset'] = run.data.dataset;
  }
  const backend = await initBackend(run.backend);
  if (!AGENTS[run.agent]!.population) {
    return { ...(await executeRun(run, { backendInUse: backend, dataset: data, onEvent, stop$ })), backend };
  }
  const { workers, population } = run.agentOptions as unknown as PbtConfig;
  const executor = createExecutor(Math.min(workers, population));
  const stop = new StopFlag();
  const subscription = stop$?.subscribe(() => stop.request());
  try {
    const result = await runPbt(run, {
      runSegment: (segment) => executor.runSegment(segment, { stop }),
      backendInUse: backend,
      dataset: data,
      stopRequested: () => stop.requested,
      onGeneration,
    });
    return { ...result, backend };
  } finally {
    subscription?.unsubscribe();
    await executor.close();
  }
}
