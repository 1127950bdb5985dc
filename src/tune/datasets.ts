/**
 * The datasets a thread keeps loaded, keyed by their data config: consecutive jobs and PBT segments in a
 * thread mostly share one, and loading MNIST costs about a second.
 */
import { loadDataset, type DataConfig, type Dataset } from '../data/dataset.js';

/** Datasets kept per thread: the current seed's and the previous one's. */
const DATASETS_KEPT = 2;
const datasets = new Map<string, Dataset>();

export function datasetFor(config: DataConfig): Dataset {
  const key = JSON.stringify(config);
  let data = datasets.get(key);
  if (data) {
    datasets.delete(key); // re-inserted below: the map's order is the order of last use
  } else {
    data = loadDataset(config);
    if (datasets.size >= DATASETS_KEPT) datasets.delete(datasets.keys().next().value!);
  }
  datasets.set(key, data);
  return data;
}
