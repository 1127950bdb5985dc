/**
 * dropoutController in the browser: the same callback as in Node (src/integrations/fit-controller.ts),
 * its run log kept in memory rather than written to a run folder. The records are the ones a run folder
 * holds (config, steps, episodes, agent, summary): `onLog` receives each as it is made, `runLog` gives
 * them all, and `toBlob()` gives them as one JSON file to download.
 */
import * as tf from '@tensorflow/tfjs';
import { BROWSER_AGENTS } from '../../agents/browser-loaders.js';
import type { RunConfig } from '../core/run-log.js';
import { MemoryRunLog, type RunLogContents, type RunLogEntry, type RunLogSink } from '../store/memory-log.js';
import { FIT_CONTROLLER_KEYS, FitController, type FitAgentName, type FitControllerOptions } from './fit-controller.js';

export interface BrowserControllerOptions<A extends FitAgentName = FitAgentName> extends FitControllerOptions<A> {
  /** Receives every record of the run log as it is made (config first, then steps, episodes, agent, summary). */
  onLog?: (entry: RunLogEntry) => void;
}

const BROWSER_KEYS = [...Object.keys(FIT_CONTROLLER_KEYS), 'onLog'];

/** See the top of this file. Build one with `dropoutController(options)` from `droptune/browser`. */
export class BrowserDropoutController extends FitController {
  readonly out = null;
  private log: MemoryRunLog | null = null;

  constructor(options: BrowserControllerOptions = {}) {
    super(options, { agents: BROWSER_AGENTS, keys: BROWSER_KEYS });
  }

  /** The run log so far; null before the first fit. */
  get runLog(): RunLogContents | null {
    return this.log?.toJSON() ?? null;
  }

  /** The run log so far as a JSON Blob (`URL.createObjectURL(blob)` links to it); null before the first fit. */
  toBlob(): Blob | null {
    return this.log?.toBlob() ?? null;
  }

  protected openLog(config: RunConfig): RunLogSink {
    this.log = new MemoryRunLog(config, (this.options as BrowserControllerOptions).onLog);
    return this.log;
  }

  protected versions(): Record<string, string> {
    return { '@tensorflow/tfjs': tf.version.tfjs ?? tf.version_core, platform: 'browser' };
  }
}

/**
 * A callback for `model.fit` that tunes the model's TunableDropout layers after every epoch with an
 * agent, a schedule or the plateau rule, its run log kept in memory (see BrowserDropoutController).
 */
export function browserDropoutController<A extends FitAgentName = FitAgentName>(
  options: BrowserControllerOptions<A> = {},
): BrowserDropoutController {
  return new BrowserDropoutController(options as BrowserControllerOptions);
}
