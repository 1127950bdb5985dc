/**
 * Child process of the backend test: trains nothing, just uses the cpu backend the way a run does (after
 * importing droptune's backend module), then provokes one genuine tfjs warning, so the parent can check
 * that the Node.js greeting is gone and real warnings are not.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/nn/backend.js';

await initBackend('cpu');
tf.tensor([1, 2, 3]).square().dataSync();
// a real warning, printed by tfjs unless IS_TEST or PROD silence every warning
tf.env().setPlatform('node', tf.env().platform);
