/** Mocha root hooks: every test file runs on the backend the suite was started with (auto unless forced). */
import { initBackend, requestedBackend } from '../../src/nn/backend.js';

export const mochaHooks = {
  async beforeAll(): Promise<void> {
    const backend = await initBackend(requestedBackend());
    console.log(`  (tfjs backend: ${backend})`);
  },
};
