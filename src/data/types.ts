/**
 * The data types every loader and the splitter share (their own module, so that the loaders need not
 * import dataset.ts, which imports them).
 */

/** Samples stored row-major: sample i is x[i*features … (i+1)*features). */
export interface Split {
  x: Float32Array;
  /** Class index of each sample. */
  y: Int32Array;
  n: number;
}

export interface Dataset {
  /** Any name: a built-in dataset's, `csv:FILE` / `idx:DIR`, or the one given to datasetFromArrays. */
  name: string;
  /** Shape of one sample as an image, NHWC without the batch: [height, width, channels]. */
  imageShape: [number, number, number];
  /** Values per sample (height × width × channels). */
  features: number;
  numClasses: number;
  /** The label of each class index as the source wrote it, when the source had its own labels (csv, idx). */
  classNames?: string[];
  train: Split;
  val: Split;
  test: Split;
}

/** All samples of a source before splitting. `test`, when given, is an official held-out set. */
export interface Pool {
  imageShape: [number, number, number];
  numClasses: number;
  classNames?: string[];
  x: Float32Array;
  y: Int32Array;
  test?: { x: Float32Array; y: Int32Array };
}
