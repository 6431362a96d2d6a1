// An exported fststyle model on onnxruntime-web: load it, pick the backend, and run it with
// the pre- and post-processing of the Python runtime (fststyle.runtime.stylizer), bit for bit
// where floats allow: uint8 RGB / 255 as float32, NCHW, output clipped to [0, 1], x 255 in
// float32, rounded half to even (numpy's round), as uint8.

// The ESM build with external .wasm files: it holds both the WASM and the WebGPU (JSEP)
// execution providers, and loads ort-wasm-simd-threaded.jsep.{mjs,wasm} from wasmPaths.
import * as ort from "/ort/ort.min.mjs";

export { ort };

// Where the .wasm and its loader are served (fststyle.runtime.webserver's /ort/ route).
ort.env.wasm.wasmPaths = new URL("/ort/", location.href).href;

/** Set the WASM thread count; it takes effect only before the first session is created.
 * Threads need SharedArrayBuffer, which the browser grants only to a cross-origin isolated
 * page (the server's COOP/COEP headers); otherwise onnxruntime-web runs one thread. */
export function setThreads(threads) {
  // 0: every logical core, at most 4, not onnxruntime-web's half of them: on 2 cores the
  // real-time student ran 256² in 50 ms on 2 threads against 79 ms on 1 (docs/realtime.md).
  const fallback = Math.min(4, navigator.hardwareConcurrency || 1);
  ort.env.wasm.numThreads = threads > 0 ? threads : fallback;
  return crossOriginIsolated ? ort.env.wasm.numThreads : 1;
}

/** "webgpu" when asked for and the browser has an adapter, else "wasm" with a note saying why. */
export async function pickBackend(wanted) {
  if (wanted !== "webgpu") return { backend: "wasm", note: "" };
  if (!("gpu" in navigator)) {
    return { backend: "wasm", note: "WebGPU is not available in this browser: running on WASM." };
  }
  let adapter = null;
  try {
    adapter = await navigator.gpu.requestAdapter();
  } catch (e) {
    adapter = null;
  }
  if (!adapter) {
    return { backend: "wasm", note: "WebGPU has no adapter here (no GPU, or it is disabled): " +
                                    "running on WASM." };
  }
  return { backend: "webgpu", note: "" };
}

/** The model's bytes and /model.json (styles, inputs, metadata), fetched once. */
export async function fetchModel() {
  const [info, bytes] = await Promise.all([
    fetch("/model.json").then((r) => r.json()),
    fetch("/model.onnx").then((r) => r.arrayBuffer()),
  ]);
  return { info, bytes: new Uint8Array(bytes) };
}

/** A session on `backend`; the inputs must be the contract's (docs/onnx.md). */
export async function createSession(bytes, info, backend) {
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: [backend],
    graphOptimizationLevel: "all",  // what the Python runtime's default session does
  });
  const expected = info.baked ? ["image"] : ["image", "style_weights"];
  if (session.inputNames.join() !== expected.join()) {
    throw new Error(`model inputs ${session.inputNames} are not ${expected}`);
  }
  // One small untimed run: the first run compiles kernels and allocates, so without it the
  // first frame's ms would say little about the next ones.
  const pixels = new Uint8ClampedArray(4 * 32 * 32).fill(128);
  await stylize(session, info, pixels, 32, 32, info.styles.map((_, i) => +(i === 0)));
  return session;
}

/** Slider values -> convex float32 weights summing to 1, computed in float32 like
 * fststyle.runtime.styles.style_weights (Dumoulin et al. 2017 mix convex (gamma, beta)). */
export function convexWeights(values) {
  const weights = Float32Array.from(values);
  if (weights.some((w) => !(w >= 0))) throw new Error("style weights must be >= 0");
  let sum = 0;
  for (const w of weights) sum = Math.fround(sum + w);
  if (sum <= 0) throw new Error("the style weights sum to 0");
  return weights.map((w) => w / sum);  // a Float32Array: each quotient rounded to float32
}

/** RGBA bytes (canvas ImageData) -> the (1, 3, H, W) float32 "image" tensor in [0, 1]. */
export function toTensor(rgba, width, height) {
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    data[i] = rgba[4 * i] / 255;
    data[plane + i] = rgba[4 * i + 1] / 255;
    data[2 * plane + i] = rgba[4 * i + 2] / 255;
  }
  return new ort.Tensor("float32", data, [1, 3, height, width]);
}

// numpy rounds half to even; Math.round rounds half up. Ties do happen: x * 255 in float32.
function roundHalfEven(v) {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The (1, 3, H, W) float32 output -> RGBA bytes (alpha 255) for ImageData. */
export function toRGBA(data, width, height) {
  const plane = width * height;
  const rgba = new Uint8ClampedArray(4 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.min(Math.max(data[c * plane + i], 0), 1);
      rgba[4 * i + c] = roundHalfEven(Math.fround(v * 255));  // float32 product, as numpy
    }
    rgba[4 * i + 3] = 255;
  }
  return rgba;
}

/** The feed for one image: baked exports take the image only; spatial ones (B, N, H', W')
 * get a constant 1x1 map, which the network resizes to each layer like any mask. */
/** Convex `weights` at `strength` in [0, 1]: strength * weights, plus 1 - strength on the
 * identity row (index `identity`; -1: the model has none), as fststyle.runtime.stylizer.
 * with_strength: one network from the photo, as it renders it (0), to the full style (1). */
export function withStrength(weights, strength, identity) {
  if (identity < 0 || strength === 1) return Float32Array.from(weights);
  const out = Float32Array.from(weights, (w) => Math.fround(w * strength));
  out[identity] = Math.fround(out[identity] + Math.fround(1 - strength));
  return out;
}

export function makeFeed(info, image, weights) {
  if (info.baked) return { image };
  const n = info.styles.length;
  const shape = info.spatial ? [1, n, 1, 1] : [1, n];
  return { image, style_weights: new ort.Tensor("float32", Float32Array.from(weights), shape) };
}

/** Stylize RGBA bytes: returns the RGBA result and the milliseconds session.run took. */
export async function stylize(session, info, rgba, width, height, weights) {
  const feed = makeFeed(info, toTensor(rgba, width, height), weights);
  const start = performance.now();
  const { stylized } = await session.run(feed);
  const ms = performance.now() - start;
  const data = await stylized.getData();  // from the GPU for WebGPU outputs
  stylized.dispose();
  return { rgba: toRGBA(data, width, height), ms };
}

/** Median ms per frame of session.run at size x size (random pixels: the time does not
 * depend on them), after `warmup` untimed runs; what scripts/bench_web.py reports. */
export async function bench(session, info, size, runs = 10, warmup = 2) {
  const rgba = new Uint8ClampedArray(4 * size * size).map(() => Math.random() * 256);
  const weights = info.styles.map((_, i) => (i === 0 ? 1 : 0));
  const times = [];
  for (let i = 0; i < warmup + runs; i++) {
    const { ms } = await stylize(session, info, rgba, size, size, weights);
    if (i >= warmup) times.push(ms);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const ms = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  return { size, runs, ms, fps: 1000 / ms };
}
