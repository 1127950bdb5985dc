/**
 * Saving and loading agents. `saveState()` is plain JSON tagged with the agent's name; `loadState()`
 * reads what a user may hand over with --load-agent, so every shape check ends in a ConfigError that
 * says which field is wrong and how.
 *
 * `SavedRng` is a random stream whose position is saved with the agent (alea's four-number state), so
 * a loaded agent continues exactly where the saved one stopped (same state → same subsequent actions).
 */
import { ConfigError } from '../src/core/errors.js';
import { createRng, isRngState, restoreRng, type Rng, type RngState } from '../src/core/rng.js';

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
  if (record['version'] !== version)
    throw stateError(agent, `version must be ${version}, got ${show(record['version'])}`);
  return record;
}

/** A finite number. */
export function readNumber(agent: string, where: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw stateError(agent, `${where} must be a finite number, got ${show(value)}`);
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
      throw stateError(
        agent,
        `${path} must have ${want} entries for this run, got ${v.length} (was it saved with other options or another model?)`,
      );
    }
    v.forEach((x, i) => walk(x, depth + 1, `${path}[${i}]`));
  };
  walk(value, 0, where);
  return value as T;
}

// random stream with a saveable position

/** How a stream is saved: its alea state (older files: its seed and how many values it had drawn). */
export interface SavedRngState {
  seed: number;
  state: RngState;
}

/** Older agent.json files give a draw count to replay; beyond this many, replaying would stall the load. */
export const MAX_REPLAYED_DRAWS = 10_000_000;

/** An Rng seeded once from the agent's context stream, whose position is saved with the agent. */
export class SavedRng implements Rng {
  private constructor(
    private readonly seedValue: number,
    private inner: Rng,
  ) {}

  /** A stream seeded from the agent's context stream. */
  static from(parent: Rng): SavedRng {
    const seed = parent.seed();
    return new SavedRng(seed, createRng(seed));
  }

  /** Continues the saved stream: from its state in constant time, or by replaying an old file's draws. */
  static restore(agent: string, saved: unknown): SavedRng {
    if (typeof saved !== 'object' || saved === null)
      throw stateError(agent, `rng must be {seed, state}, got ${show(saved)}`);
    const { seed, state, draws } = saved as Record<string, unknown>;
    const seedValue = readInt(agent, 'rng.seed', seed);
    if (state !== undefined) {
      if (!isRngState(state))
        throw stateError(agent, `rng.state must be {c, s0, s1, s2} (finite numbers), got ${show(state)}`);
      return new SavedRng(seedValue, restoreRng(state));
    }
    const count = readInt(agent, 'rng.draws', draws);
    if (count > MAX_REPLAYED_DRAWS) {
      throw stateError(
        agent,
        `rng.draws must be at most ${MAX_REPLAYED_DRAWS} to replay, got ${count} (files saved by this version store rng.state instead)`,
      );
    }
    const inner = createRng(seedValue);
    for (let i = 0; i < count; i++) inner.next();
    return new SavedRng(seedValue, inner);
  }

  save(): SavedRngState {
    return { seed: this.seedValue, state: this.inner.state() };
  }

  next(): number {
    return this.inner.next();
  }
  int(n: number): number {
    return this.inner.int(n);
  }
  normal(): number {
    return this.inner.normal();
  }
  seed(): number {
    return this.inner.seed();
  }
  fork(): Rng {
    return this.inner.fork();
  }
  state(): RngState {
    return this.inner.state();
  }
}
