/**
 * Random streams of a copied training state. A snapshot holds the env's shuffle stream and every
 * layer's mask stream; a trial restored from another's snapshot as is would train on the same batches
 * and drop (a superset of) the same units as its source: a clone, not a new trial. So a copy gets
 * streams of its own, derived from (run seed, generation, trial) (STYLE.md, Randomness).
 */
import { createRng } from '../core/rng.js';
import type { EnvSnapshot } from '../../envs/dropout-env.js';

/** `snapshot` with fresh shuffle and mask streams named by `key` (e.g. `pbt:<seed>:<generation>:<member>`). */
export function withFreshStreams(snapshot: EnvSnapshot, key: string): EnvSnapshot {
  return {
    ...snapshot,
    rng: createRng(`${key}:shuffle`).state(),
    dropouts: snapshot.dropouts.map((d, layer) => ({ ...d, stream: createRng(`${key}:mask:${layer}`).state() })),
  };
}
