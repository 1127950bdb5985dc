// The env and an agent by hand, in TypeScript: the loop the CLI runs, one event at a time.
//   tsc, then node examples/agent-loop.js
import { DropoutEnv, initBackend, loadDataset, makeAgent, run$, type LoopEvent } from 'droptune';
import { lastValueFrom, tap } from 'rxjs';

const backend = await initBackend();
const data = loadDataset({ dataset: 'synthetic', trainSize: 600, valSize: 300, testSize: 300, seed: 0 });
// Two hidden layers, a dropout layer after each: the action sets both rates.
const env = new DropoutEnv(data, { model: 'mlp:64,64', maxEpochs: 4, actionMode: 'absolute' });
const agent = makeAgent('thompson', env, {}, 0);

const events$ = run$(env, agent, { episodes: 2, seed: 0 }).pipe(
  // one line per finished epoch
  tap((event: LoopEvent) => {
    if (event.type === 'step')
      console.log(
        `episode ${event.episode} epoch ${event.transition.info.epoch}: rates ${event.transition.info.rates.map((r) => r.toFixed(2)).join('/')}, validation ${event.transition.info.valAcc.toFixed(3)}`,
      );
  }),
);
const last = await lastValueFrom(events$);
console.log(`${backend}: last event ${last.type}`);
env.dispose();
