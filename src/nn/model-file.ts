/**
 * Your own model on disk: `readModelFile` reads what `model.save('file://DIR')` (tfjs-node) writes,
 * model.json plus its weight files; `saveModelFile` writes the same two files without tfjs-node. Nothing
 * downloads. Node only (the rest of src/nn/user-model.ts has no node: import, for the browser entry).
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../core/errors.js';
import { userModelFrom, type Json, type UserModel } from './user-model.js';

/** model.json's fields that matter here (tf.io.ModelJSON). */
interface ModelJson {
  modelTopology?: Json;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** model.json and its weight files, read from disk into tfjs's in-memory form (tf.io.fromMemory takes it). */
export function readModelArtifacts(file: string, what = file): tf.io.ModelArtifacts {
  let json: ModelJson;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as ModelJson;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `${what}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder: give the model.json in it' : code ? `cannot read it (${code})` : 'not valid JSON (not a tfjs model.json)'}`,
    );
  }
  if (
    typeof json !== 'object' ||
    json === null ||
    typeof json.modelTopology !== 'object' ||
    json.modelTopology === null
  ) {
    throw new ConfigError(
      `${what}: not a tfjs model.json (no modelTopology); save the model with model.save('file://DIR') or droptune's saveModelFile`,
    );
  }
  const manifest = json.weightsManifest ?? [];
  const buffers: Uint8Array[] = [];
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  for (const group of manifest) {
    for (const p of group.paths) {
      // Weight files lie in the model's own folder: a path out of it (../, absolute, a symlink) is refused.
      const folder = realpathSync(path.dirname(path.resolve(file)));
      if (typeof p !== 'string' || path.isAbsolute(p))
        throw new ConfigError(`${what}: weight path ${JSON.stringify(p)} must be a file name in the model's folder`);
      const shard = path.resolve(folder, p);
      if (!existsSync(shard)) throw new ConfigError(`${what}: its weight file ${p} is missing (looked for ${shard})`);
      const real = realpathSync(shard);
      if (!real.startsWith(folder + path.sep) || !statSync(real).isFile())
        throw new ConfigError(`${what}: weight path ${p} lies outside the model's folder ${folder}`);
      buffers.push(readFileSync(real));
    }
    weightSpecs.push(...group.weights);
  }
  const weightData = new Uint8Array(buffers.reduce((n, b) => n + b.length, 0));
  let offset = 0;
  for (const b of buffers) {
    weightData.set(b, offset);
    offset += b.length;
  }
  return { modelTopology: json.modelTopology, weightSpecs, weightData: weightData.buffer };
}

/** A model.json saved by `model.save('file://DIR')` (or saveModelFile), its weights as saved. */
export function readModelFile(file: string, what = `file:${file}`): UserModel {
  const artifacts = readModelArtifacts(file, what);
  const bytes = artifacts.weightSpecs!.reduce(
    (n, spec) =>
      n +
      spec.shape.reduce((a, b) => a * b, 1) *
        (spec.quantization
          ? spec.quantization.dtype === 'float16' || spec.quantization.dtype === 'uint16'
            ? 2
            : 1
          : 4),
    0,
  );
  const size = (artifacts.weightData as ArrayBuffer).byteLength;
  if (bytes !== size)
    throw new ConfigError(`${what}: its weight files hold ${size} bytes, its manifest describes ${bytes}`);
  return userModelFrom(artifacts.modelTopology as Json, what, () => {
    const saved = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs!);
    return { weightOf: (v) => saved[v.originalName], dispose: () => tf.dispose(Object.values(saved)) };
  });
}

/**
 * Loads a model.json from disk as tfjs would load it (`tf.loadLayersModel('file://…')` needs
 * tfjs-node): through tf.io.fromMemory, its layers unchanged.
 */
export async function loadModelFile(file: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(tf.io.fromMemory(readModelArtifacts(file)));
}

/**
 * Writes `model` to DIR/model.json and DIR/weights.bin in the format `model.save('file://DIR')` writes
 * with tfjs-node, which plain @tensorflow/tfjs cannot do in Node.
 */
export async function saveModelFile(model: tf.LayersModel, dir: string): Promise<string> {
  const file = path.join(dir, 'model.json');
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      mkdirSync(dir, { recursive: true });
      const data =
        artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      writeFileSync(path.join(dir, 'weights.bin'), new Uint8Array(data));
      const json = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: ['./weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      writeFileSync(file, JSON.stringify(json));
      return {
        modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: data.byteLength },
      };
    }),
  );
  return file;
}
