/**
 * The house's import directions (../shared/STYLE.md, "The shape of the house"): each room may import only
 * the rooms below it, and no two files import each other, even through others. Read from the sources
 * with a regex over import/export specifiers: droptune's own imports are all relative.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** What each room may import (besides itself). A room is a folder of src/, or envs/ or agents/. */
const ALLOWED: Record<string, string[]> = {
  core: [],
  data: ['core'],
  nn: ['core'],
  loop: ['core'],
  store: ['core'],
  analysis: ['core', 'store'],
  envs: ['core', 'nn', 'data'],
  agents: ['core', 'nn'],
  run: ['core', 'data', 'nn', 'loop', 'store', 'envs', 'agents'],
  schedulers: ['core', 'data', 'nn', 'loop', 'store', 'envs', 'agents', 'run'],
  execution: ['core', 'data', 'nn', 'loop', 'store', 'envs', 'agents', 'run', 'schedulers'],
  experiment: ['core', 'data', 'nn', 'loop', 'store', 'analysis', 'envs', 'agents', 'run', 'schedulers', 'execution'],
  api: ['core', 'data', 'nn', 'loop', 'store', 'envs', 'agents', 'run', 'schedulers', 'execution'],
  integrations: ['core', 'data', 'nn', 'loop', 'store', 'envs', 'agents', 'run'],
  serve: ['core', 'store', 'analysis', 'experiment'],
};
/** Composition roots: they may import anything (the commands, and the package's entry points). */
const ROOTS = new Set(['cli', 'index.ts', 'internals.ts', 'browser.ts']);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return sources(file);
    return name.endsWith('.ts') ? [file] : [];
  });
}

function roomOf(file: string): string {
  const [top, second] = path.relative(REPO, file).split(path.sep);
  return top === 'src' ? second! : top!;
}

/** Every relative module a file imports or re-exports (type-only imports included), as absolute .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specs.map((spec) => path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts'));
}

const files = [
  ...sources(path.join(REPO, 'src')),
  ...sources(path.join(REPO, 'envs')),
  ...sources(path.join(REPO, 'agents')),
];
const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => t.endsWith('.ts'))]));

describe('import directions', () => {
  it('knows every room of src/', () => {
    const rooms = new Set(files.map(roomOf).filter((r) => !ROOTS.has(r)));
    expect([...rooms].filter((r) => !(r in ALLOWED))).to.deep.equal([]);
  });

  it('lets each room import only the rooms below it', () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const from = roomOf(file);
      if (ROOTS.has(from)) continue;
      for (const target of targets) {
        const to = roomOf(target);
        if (to !== from && !ALLOWED[from]!.includes(to))
          wrong.push(`${path.relative(REPO, file)} → ${path.relative(REPO, target)}`);
      }
    }
    expect(wrong).to.deep.equal([]);
  });

  it('has no import circle', () => {
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, trail: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        circles.push([...trail.slice(trail.indexOf(file)), file].map((f) => path.relative(REPO, f)).join(' → '));
        return;
      }
      state.set(file, 'open');
      for (const target of graph.get(file) ?? []) visit(target, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(circles).to.deep.equal([]);
  });

  it('finds a wrong import when there is one', () => {
    // The check itself: core importing the store would be caught.
    expect(ALLOWED.core).to.not.include('store');
    const core = files.filter((f) => roomOf(f) === 'core');
    expect(core.length).to.be.greaterThan(3);
    expect(importsOf(path.join(REPO, 'src/run/run.ts')).some((t) => roomOf(t) === 'envs')).to.equal(true);
  });
});
