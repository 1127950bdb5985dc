/**
 * dropoutController in Node: a tfjs callback that tunes the dropout of your own model inside your own
 * `model.fit`, with any droptune agent, and writes the same run folder as `npm run agent`.
 *
 *   const model = makeDropoutTunable(myModel);          // Dropout layers → TunableDropout, weights kept
 *   model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
 *   await model.fit(x, y, { epochs: 10, validationData: [xVal, yVal], callbacks: [dropoutController({ agent: 'plateau' })] });
 *
 * What the callback does (episodes, restored starting points, the observation) is described at the top
 * of src/integrations/fit-controller.ts, which the browser entry shares (its log in memory:
 * src/integrations/browser-fit.ts). This file adds Node's side: the registry that reads schedule and
 * policy files, the run folder (`out`, `overwrite`) and the versions of the installed packages.
 */
import { AGENTS } from '../../agents/index.js';
import type { RunConfig } from '../core/run-log.js';
import { ConfigError } from '../core/errors.js';
import type { RunLogSink } from '../store/memory-log.js';
import { defaultRunFolder } from '../store/run-folder.js';
import { RunWriter, clearRunDir } from '../store/run-writer.js';
import { packageVersions } from '../run/run.js';
import { FIT_CONTROLLER_KEYS, FitController, type FitAgentName, type FitControllerOptions } from './fit-controller.js';

export { FEW_BATCHES, type FitAgentName, type FitEpisodeRecord } from './fit-controller.js';

export interface DropoutControllerOptions<A extends FitAgentName = FitAgentName> extends FitControllerOptions<A> {
  /** The run folder. @default runs/<date>-fit-<agent>-s<seed> */
  out?: string;
  /** Replace the run folder `out` when it holds an earlier run (only a run folder is ever removed). @default false */
  overwrite?: boolean;
}

/** Every option, so a misspelt one is refused with the nearest (`agnet` → `agent`): the shared ones and the run folder's. */
const NODE_KEYS: Record<keyof DropoutControllerOptions, true> = { ...FIT_CONTROLLER_KEYS, out: true, overwrite: true };

const defaultOut = (agent: string, seed: number): string => defaultRunFolder(`fit-${agent}-s${seed}`);

/** See the top of this file. Build one with `dropoutController(options)`. */
export class DropoutController extends FitController {
  readonly out: string;

  constructor(options: DropoutControllerOptions = {}) {
    super(options, { agents: AGENTS, keys: Object.keys(NODE_KEYS) });
    if (options.overwrite === true && options.out === undefined)
      throw new ConfigError('dropoutController: overwrite needs an explicit out (a default folder is always new)');
    this.out = options.out ?? defaultOut(this.agentName, this.seed);
  }

  protected override prepareLog(): void {
    if ((this.options as DropoutControllerOptions).overwrite === true) clearRunDir(this.out, 'dropoutController: out');
  }

  protected openLog(config: RunConfig): RunLogSink {
    return RunWriter.create(this.out, config);
  }

  protected versions(): Record<string, string> {
    return packageVersions();
  }
}

/**
 * A callback for `model.fit` that tunes the model's TunableDropout layers after every epoch with an
 * agent, a schedule, the plateau rule or a saved policy, and writes a run folder compare reads.
 */
export function dropoutController<A extends FitAgentName = FitAgentName>(
  options: DropoutControllerOptions<A> = {},
): DropoutController {
  return new DropoutController(options as DropoutControllerOptions);
}
