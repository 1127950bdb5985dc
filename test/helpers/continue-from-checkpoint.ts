/**
 * Child process of the snapshot test: restores the env checkpoint in argv[2] and prints, as one JSON
 * line, everything the rest of the episode returns (the same actions as the parent would take).
 */
import { DropoutEnv, type EnvSnapshot } from '../../envs/dropout-env.js';
import { loadDataset } from '../../src/data/dataset.js';
import { initBackend } from '../../src/nn/backend.js';
import { readCheckpoint } from '../../src/store/checkpoint.js';

const [dir, configJson] = process.argv.slice(2) as [string, string];
await initBackend('wasm');
const data = loadDataset({ dataset: 'synthetic', trainSize: 192, valSize: 64, testSize: 64, seed: 3 });
const env = new DropoutEnv(data, JSON.parse(configJson) as object);
const snapshot = readCheckpoint(dir, 'env') as EnvSnapshot;
env.restore(snapshot);
const trace: unknown[] = [];
for (let t = snapshot.epoch; ; t++) {
  const r = await env.step(Array.from({ length: env.numLayers }, (_, i) => (t + i) % 3));
  const { stepMs: _drop, ...info } = r.info;
  trace.push(r.observation, r.reward, r.terminated, r.truncated, info);
  if (r.terminated || r.truncated) break;
}
process.stdout.write(JSON.stringify(trace) + '\n');
