// The page: a photo or the webcam through the model, with the model's styles as buttons and
// mixing sliders, on WASM or WebGPU. Query options: ?backend=wasm|webgpu&threads=N&maxsize=N.
// window.fststyle holds hooks for tests and scripts/bench_web.py (stylize, bench, pixels).

import * as model from "./model.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = {
  info: null, bytes: null, session: null, backend: "wasm", threads: 1,
  weights: [], strength: 1, identity: -1, source: null, stream: null, running: false, pending: false, frameMs: null,
};

function showNote(text) {
  $("note").textContent = text;
  $("note").hidden = !text;
}

/** A session on the wanted backend, or on WASM with a visible note saying why not. */
async function switchBackend(wanted) {
  const { backend, note } = await model.pickBackend(wanted);
  const old = state.session;
  try {
    state.session = await model.createSession(state.bytes, state.info, backend);
    state.backend = backend;
    showNote(note);
  } catch (e) {
    if (backend === "wasm") throw e;
    state.session = await model.createSession(state.bytes, state.info, "wasm");
    state.backend = "wasm";
    showNote(`WebGPU failed (${e.message}): running on WASM.`);
  }
  // Free the old session's memory (WASM heap or GPU buffers) unless a frame still uses it.
  if (old && !state.running) old.release();
  $("backend").value = state.backend;
  $("threads").textContent = state.backend === "wasm" ? `${state.threads} thread${state.threads > 1 ? "s" : ""}` +
    (crossOriginIsolated ? "" : " (not cross-origin isolated: no WASM threads)") : "";
  state.frameMs = null;
}

/** One button per style picks it; one slider per style mixes (weights normalised to sum 1). */
function buildStyles(info) {
  $("model-name").textContent = `${info.name} · ${info.styles.length} style(s)` +
    (info.baked ? " · baked" : info.spatial ? " · spatial" : "");
  for (const [i, name] of info.styles.entries()) {
    const button = Object.assign(document.createElement("button"), { type: "button" });
    button.textContent = name;
    button.dataset.style = name;
    button.addEventListener("click", () => setWeights(info.styles.map((_, j) => +(i === j))));
    $("styles").append(button);
    const label = document.createElement("label");
    label.innerHTML = `<span></span><output></output><input type="range" min="0" max="100">`;
    label.querySelector("span").textContent = name;
    label.querySelector("input").dataset.style = name;
    label.querySelector("input").addEventListener("input", () => setWeights(sliderValues()));
    $("mix").append(label);
  }
  // A baked export has its one style inside: nothing to choose or mix.
  $("mix").hidden = info.baked || info.styles.length < 2;
  // Strength mixes in the identity row (the shipped network has one): 0 photo ... 1 style.
  state.identity = info.baked ? -1 : info.styles.indexOf("identity");
  $("strength-label").hidden = state.identity < 0;
  $("strength").addEventListener("input", (e) => {
    state.strength = Number(e.target.value) / 100;
    $("strength-value").textContent = state.strength.toFixed(2);
    render();
  });
  setWeights(info.styles.map((_, i) => +(i === 0)), false);
}

function sliderValues() {
  return [...$("mix").querySelectorAll("input")].map((s) => Number(s.value));
}

/** Show `values` (one per style, any scale) on the controls and restylize. */
function setWeights(values, rerender = true) {
  let weights;
  try {
    weights = model.convexWeights(values);
  } catch (e) {
    showNote(`Mix: ${e.message}; move a slider up.`);
    return;
  }
  state.weights = Array.from(weights);
  const sliders = $("mix").querySelectorAll("input");
  const outputs = $("mix").querySelectorAll("output");
  weights.forEach((w, i) => {
    if (Number(sliders[i].value) !== values[i]) sliders[i].value = String(values[i] * 100 /
      Math.max(...values));
    outputs[i].textContent = w.toFixed(2);
  });
  for (const [i, button] of $("styles").querySelectorAll("button").entries()) {
    button.setAttribute("aria-pressed", String(weights[i] === 1));
  }
  if ($("note").textContent.startsWith("Mix:")) showNote("");
  if (rerender) render();
}

/** The current photo or video frame, downscaled to the max size (never up), on #input. */
function drawSource() {
  const src = state.source;
  const [w, h] = src instanceof HTMLVideoElement ? [src.videoWidth, src.videoHeight]
    : [src.width, src.height];
  const scale = Math.min(1, Number($("max-size").value || 512) / Math.max(w, h));
  const width = Math.max(1, Math.round(w * scale));
  const height = Math.max(1, Math.round(h * scale));
  const canvas = $("input");
  if (canvas.width !== width || canvas.height !== height) [canvas.width, canvas.height] =
    [width, height];
  const ctx = canvas.getContext("2d", { willReadFrequently: true });  // exact getImageData
  ctx.imageSmoothingQuality = "high";
  ctx.fillStyle = "#fff";  // transparent pixels on white, like the Python runtime
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(src, 0, 0, width, height);
  return { rgba: ctx.getImageData(0, 0, width, height).data, width, height };
}

function putOutput(rgba, width, height) {
  const canvas = $("output");
  [canvas.width, canvas.height] = [width, height];
  canvas.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
}

function showStats(frameMs, runMs) {
  // A moving average keeps the webcam's numbers readable; a photo shows its last frame.
  const smooth = state.stream && state.frameMs !== null;
  state.frameMs = smooth ? 0.8 * state.frameMs + 0.2 * frameMs : frameMs;
  $("stats").textContent = `${state.frameMs.toFixed(1)} ms/frame (model ${runMs.toFixed(1)} ms)` +
    ` · ${(1000 / state.frameMs).toFixed(1)} fps · ${state.backend}`;
}

/** Stylize the current source; calls made while a frame runs collapse into one more run. */
async function render() {
  if (!state.source || !state.session) return;
  if (state.running) {
    state.pending = true;
    return;
  }
  state.running = true;
  try {
    do {
      state.pending = false;
      const start = performance.now();
      const { rgba, width, height } = drawSource();
      const weights = model.withStrength(state.weights, state.strength, state.identity);
      const out = await model.stylize(state.session, state.info, rgba, width, height, weights);
      putOutput(out.rgba, width, height);
      showStats(performance.now() - start, out.ms);
      // Yield a task between frames: a single-threaded WASM run resolves in microtasks, so a
      // webcam loop without this would never let the page paint or take a click.
      if (state.stream) await new Promise((resolve) => setTimeout(resolve, 0));
    } while (state.pending || state.stream);  // the webcam: the next frame at once
  } catch (e) {
    showNote(`Stylizing failed: ${e.message}`);
  } finally {
    state.running = false;
  }
}

async function loadImage(blob) {
  try {
    // Pixels as stored (no colour management), like Pillow; EXIF orientation applied, like
    // fststyle.runtime.imagefiles.ensure_rgb.
    state.source = await createImageBitmap(blob, { colorSpaceConversion: "none",
                                                   imageOrientation: "from-image" });
  } catch (e) {
    showNote(`Not an image the browser can read: ${blob.name || "the file"}.`);
    return;
  }
  stopWebcam();
  return render();
}

async function startWebcam() {
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  } catch (e) {
    showNote(`No webcam: ${e.message}`);
    return;
  }
  const video = $("video");
  video.srcObject = state.stream;
  await video.play();
  state.source = video;
  $("webcam").setAttribute("aria-pressed", "true");
  render();
}

function stopWebcam() {
  if (!state.stream) return;
  state.stream.getTracks().forEach((t) => t.stop());
  state.stream = null;
  $("webcam").setAttribute("aria-pressed", "false");
}

function wireInputs() {
  $("default-photo").addEventListener("click", async () =>
    loadImage(await (await fetch("/photo")).blob()));
  $("file").addEventListener("change", (e) => e.target.files[0] && loadImage(e.target.files[0]));
  $("webcam").addEventListener("click", () => (state.stream ? stopWebcam() : startWebcam()));
  $("max-size").addEventListener("change", render);
  $("backend").addEventListener("change", async (e) => {
    await switchBackend(e.target.value);
    render();
  });
  document.addEventListener("dragover", (e) => {
    e.preventDefault();
    document.body.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    document.body.classList.remove("dragging");
    if (e.dataTransfer.files[0]) loadImage(e.dataTransfer.files[0]);
  });
}

const toBase64 = (bytes) => {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
};
const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const rgbOf = (rgba) => rgba.filter((_, i) => i % 4 !== 3);

/** Hooks for tests and benchmarks; pixels travel as base64 RGB bytes, row-major (H, W, 3). */
const hooks = {
  /** Stylize RGB bytes with slider-style `values` (one per style, normalised) at `strength`
   * (default: the slider's). */
  async stylize(rgbBase64, width, height, values, strength = state.strength) {
    const rgb = fromBase64(rgbBase64);
    const rgba = new Uint8ClampedArray(4 * width * height).fill(255);
    rgb.forEach((v, i) => { rgba[4 * Math.floor(i / 3) + (i % 3)] = v; });
    const mix = values ? model.convexWeights(values) : state.weights;
    const weights = model.withStrength(mix, strength, state.identity);
    const out = await model.stylize(state.session, state.info, rgba, width, height, weights);
    return { rgb: toBase64(rgbOf(out.rgba)), ms: out.ms };
  },
  /** What #output shows now. */
  outputPixels() {
    const canvas = $("output");
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    return { rgb: toBase64(rgbOf(data)), width: canvas.width, height: canvas.height };
  },
  bench: (size, runs, warmup) => model.bench(state.session, state.info, size, runs, warmup),
  state: () => ({ backend: state.backend, threads: state.threads, weights: state.weights,
                  strength: state.strength,
                  styles: state.info.styles, isolated: crossOriginIsolated,
                  busy: state.running, frameMs: state.frameMs }),
};

async function main() {
  state.threads = model.setThreads(Number(params.get("threads") || 0));
  if (params.get("maxsize")) $("max-size").value = params.get("maxsize");
  ({ info: state.info, bytes: state.bytes } = await model.fetchModel());
  buildStyles(state.info);
  wireInputs();
  const wanted = params.get("backend") || ("gpu" in navigator ? "webgpu" : "wasm");
  await switchBackend(wanted);
  await loadImage(await (await fetch("/photo")).blob());
}

window.fststyle = { ...hooks, ready: main() };
window.fststyle.ready.catch((e) => showNote(`The page could not start: ${e.message}`));
