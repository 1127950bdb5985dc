/**
 * Saving and loading agents. `saveState()` is plain JSON tagged with the agent's name; `loadState()`
 * reads what a user may hand over with --load-agent, so every shape check ends in a ConfigError that
 * says which field is wrong and how.
 *
 * `SavedRng` is a random stream whose position can be saved: it is seeded once from `ctx.rng` and
 * counts its draws, and a loaded agent replays that many draws, so it continues exactly where the saved
 * one stopped (same state → same subsequent actions).
 */
import { ConfigError } from '../src/core/errors.js';
import { createRng, type Rng } from '../src/core/rng.js';

const show = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? text.slice(0, 57) + '...' : text;
};

/** A ConfigError about a loaded state: `--load-agent: ucb state: counts[0] must be …, got …`. */
export function stateError(agent: string, what: string): ConfigError {
  return new ConfigError(`--load-agent: ${agent} state: ${what}`);
}

/** Checks the envelope `{ agent, version, … }` and returns the object. */
export function readState(agent: string, state: unknown, version = 1): Record<string, unknown> {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw stateError(agent, `must be a JSON object, got ${show(state)}`);
  }
  const record = state as Record<string, unknown>;
  if (record['agent'] !== agent) throw stateError(agent, `was saved by agent ${show(record['agent'])}, not '${agent}'`);
  if (record['version'] !== version) throw stateError(agent, `version must be ${version}, got ${show(record['version'])}`);
  return record;
}

/** A finite number. */
export function readNumber(agent: string, where: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw stateError(agent, `${where} must be a finite number, got ${show(value)}`);
  return value;
}

export function readInt(agent: string, where: string, value: unknown, min = 0): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw stateError(agent, `${where} must be an integer >= ${min}, got ${show(value)}`);
  }
  return value;
}

/**
 * Nested arrays of finite numbers with the given shape (`undefined` = any length), e.g. `[2, 10, 3]`
 * for per-layer, per-epoch, per-arm counts. Returns the value, typed by the caller.
 */
export function readArray<T>(agent: string, where: string, value: unknown, shape: readonly (number | undefined)[]): T {
  const walk = (v: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      readNumber(agent, path, v);
      return;
    }
    if (!Array.isArray(v)) throw stateError(agent, `${path} must be an array, got ${show(v)}`);
    const want = shape[depth];
    if (want !== undefined && v.length !== want) {
      throw stateError(agent, `${path} must have ${want} entries for this run, got ${v.length} (was it saved with other options or another model?)`);
    }
    v.forEach((x, i) => walk(x, depth + 1, `${path}[${i}]`));
  };
  walk(value, 0, where);
  return value as T;
}

// random stream with a saveable position

export interface SavedRngState {
  seed: number;
  draws: number;
}

/**
 * An Rng that counts how many values it drew from its alea stream (next, int, seed and fork take one;
 * normal takes two, see src/core/rng.ts), so `restore` can fast-forward a fresh stream to the same place.
 */
export class SavedRng implements Rng {
  private inner: Rng;
  private draws = 0;

  private constructor(private readonly seedValue: number) {
    this.inner = createRng(seedValue);
  }

  /** A stream seeded from the agent's context stream. */
  static from(parent: Rng): SavedRng {
    return new SavedRng(parent.seed());
  }

  static restore(agent: string, saved: unknown): SavedRng {
    if (typeof saved !== 'object' || saved === null) throw stateError(agent, `rng must be {seed, draws}, got ${show(saved)}`);
    const { seed, draws } = saved as Record<string, unknown>;
    const rng = new SavedRng(readInt(agent, 'rng.seed', seed));
    const count = readInt(agent, 'rng.draws', draws);
    for (let i = 0; i < count; i++) rng.inner.next();
    rng.draws = count;
    return rng;
  }

  save(): SavedRngState {
    return { seed: this.seedValue, draws: this.draws };
  }

  next(): number {
    this.draws += 1;
    return this.inner.next();
  }
  int(n: number): number {
    this.draws += 1;
    return this.inner.int(n);
  }
  normal(): number {
    this.draws += 2;
    return this.inner.normal();
  }
  seed(): number {
    this.draws += 1;
    return this.inner.seed();
  }
  fork(): Rng {
    return createRng(this.seed());
  }
}
