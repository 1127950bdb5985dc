// Train a bandit that picks dropout rates, and get its run folder: plain Node, no TypeScript.
//   node examples/tune-a-run.mjs [out folder]
import { readRun, tune } from 'droptune';

const out = process.argv[2] ?? 'runs/example-ucb';
const result = await tune({
  agent: 'ucb', // any of: constant, schedule, plateau, random, epsilon-greedy, ucb, thompson, linucb, reinforce, policy, pbt
  dataset: 'synthetic', // or 'mnist', 'fashion-mnist'
  trainSize: 600,
  episodes: 3,
  epochs: 4,
  seed: 1,
  out,
});
console.log(`backend ${result.backend}; run folder ${result.out}`);
console.log(
  `best episode: validation ${result.summary.best.valAcc.toFixed(3)}, test ${result.summary.best.testAcc.toFixed(3)}, rates per epoch ${JSON.stringify(result.summary.best.schedule)}`,
);

// The same folder, read back as `npm run compare` reads it.
const { value: run, warnings } = readRun(result.out);
console.log(
  `read back: ${run.episodes.length} episodes, ${run.steps.length} epochs logged${warnings.length ? `; ${warnings.join('; ')}` : ''}`,
);
