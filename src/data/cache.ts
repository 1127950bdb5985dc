/**
 * The datasets a thread keeps loaded, keyed by their data config: consecutive jobs and PBT segments in a
 * thread mostly share one, and loading MNIST costs about a second. A csv: or idx: dataset's key holds its
 * absolute path (checkDataConfig makes it so) and each file's size and modification time, so a file
 * rewritten between two jobs is read again.
 */
import { statSync } from 'node:fs';
import { datasetFiles, loadDataset, type DataConfig, type Dataset } from './dataset.js';

/** Datasets kept per thread: the current seed's and the previous one's. */
const DATASETS_KEPT = 2;
const datasets = new Map<string, Dataset>();

/** What identifies the data a config loads. */
export function datasetKey(config: DataConfig): string {
  const files = datasetFiles(config).map((file) => {
    const stat = statSync(file);
    return [file, stat.size, stat.mtimeMs];
  });
  return JSON.stringify({ config, files });
}

export function datasetFor(config: DataConfig): Dataset {
  const key = datasetKey(config);
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
