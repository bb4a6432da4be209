// The SAM 3 viewer inside an MCP Apps host: draws a result's masks, and turns clicks into the server's tools.
import { App } from "@modelcontextprotocol/ext-apps";
import { drawOverlay } from "../../../web/static/overlay.js";
import { decodeRle } from "../../../web/static/rle.js";

const $ = (id) => document.getElementById(id);
const canvas = $("view");
const context = canvas.getContext("2d");
const MASK_OPACITY = 0.45;
const PLAY_FPS = 8;

/** What the view shows: an image (clicks run segment_image) or a session frame (clicks run add_prompt). */
const state = { mode: null, input: {}, source: null, sessionId: null, frames: 0, frame: 0, width: 0, height: 0, picture: null, objects: [], selected: null, clicks: new Map(), busy: false };

const app = new App({ name: "sam3-viewer", version: "1.0.0" });
app.ontoolinput = ({ arguments: args }) => {
  state.input = args ?? {};
  // what the model segmented: the viewer's own clicks run segment_image on the same image
  state.source = args?.image_path ? { image_path: args.image_path } : args?.image_base64 ? { image_base64: args.image_base64 } : null;
};
app.ontoolresult = (result) => void show(result).catch(report);

/** A tool result the host hands over: the model's call or the viewer's own. */
async function show(result) {
  const data = result.structuredContent;
  if (!data || result.isError) return status(textOf(result) || "The call failed.");
  // a new result from the model: the next click starts a new object
  state.selected = null;
  if (data.image && Array.isArray(data.objects)) return showImage(data);
  // segment_video and start_session name their session; add_prompt, propagate_in_video and remove_object were given one
  const sessionId = data.session_id ?? state.input.session_id;
  if (sessionId) return showSession(sessionId, data.frame_index ?? state.input.frame_index ?? 0);
}

async function showImage(data) {
  state.mode = "image";
  state.sessionId = null;
  let objects = data.objects;
  // masks beyond the inline ones come from the full result file, read as a resource
  if (data.masks_left_out > 0 && data.full_result) {
    const full = await app.readServerResource({ uri: data.full_result.uri });
    objects = JSON.parse(full.contents[0].text).objects;
  }
  state.objects = objects.map(withMask);
  state.clicks = new Map();
  if (state.source?.image_path) {
    await loadPicture(state.source);
  } else {
    state.width = data.image.width;
    state.height = data.image.height;
    state.picture = state.source?.image_base64 ? await pictureOf(asDataUrl(state.source.image_base64)) : null;
    render();
  }
  status(`${state.objects.length} object(s). Click to add one; shift-click or right-click to leave a part out.`);
}

async function showSession(sessionId, frame) {
  state.mode = "video";
  state.sessionId = sessionId;
  $("frames").classList.add("on");
  await seek(frame);
  status(`${state.frames} frame(s). Click to add or refine an object on this frame.`);
}

/** Fetches a picture (and a session frame's objects) through the app-only tool: pixels never reach the model. */
async function loadPicture(args) {
  const result = await app.callServerTool({ name: "viewer_frame", arguments: args });
  if (result.isError) throw new Error(textOf(result));
  const data = result.structuredContent;
  state.width = data.width;
  state.height = data.height;
  state.picture = await pictureOf(data.image);
  if (data.frames) state.frames = data.frames;
  if (data.objects) state.objects = data.objects.map(withMask);
  render();
}

async function seek(frame) {
  state.frame = frame;
  $("scrub").value = String(frame);
  await loadPicture({ session_id: state.sessionId, frame_index: frame });
  $("scrub").max = String(Math.max(0, state.frames - 1));
  $("frame-label").textContent = `frame ${frame + 1} / ${state.frames}`;
}

/** A base64 image as the model sent it, with or without its data: prefix (the browser sniffs the format). */
const asDataUrl = (data) => (data.startsWith("data:") ? data : `data:image/png;base64,${data}`);

const withMask = (o) => ({ ...o, mask: o.rle ? decodeRle(o.rle) : null });

function pictureOf(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("the frame could not be shown"));
    img.src = url;
  });
}

function render() {
  canvas.width = state.width;
  canvas.height = state.height;
  if (state.picture) context.drawImage(state.picture, 0, 0, state.width, state.height);
  const overlay = drawOverlay(state.objects, new Set(), MASK_OPACITY, state.width, state.height);
  if (overlay) context.drawImage(overlay, 0, 0);
  renderChips();
  document.body.dataset.objects = String(state.objects.length);
  document.body.dataset.frame = String(state.frame);
}

function renderChips() {
  const list = $("objects");
  list.replaceChildren(...state.objects.map((o) => {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "chip" + (o.id === state.selected ? " selected" : "");
    chip.style.borderColor = o.colour;
    if (o.id === state.selected) chip.style.background = o.colour;
    chip.textContent = `#${o.id}${o.label ? " " + o.label : ""}`;
    chip.onclick = () => select(o.id === state.selected ? null : o.id);
    return chip;
  }));
  $("remove").disabled = state.selected === null;
  $("remove").textContent = state.selected === null ? "Remove" : `Remove #${state.selected}`;
}

function select(id) {
  state.selected = id;
  renderChips();
}

/** The picture's pixel under a mouse event. */
function pixelAt(event) {
  const r = canvas.getBoundingClientRect();
  const at = (offset, size, pixels) => Math.min(pixels - 1, Math.max(0, Math.floor((offset / size) * pixels)));
  return { x: at(event.clientX - r.left, r.width, state.width), y: at(event.clientY - r.top, r.height, state.height) };
}

const objectAt = ({ x, y }) => [...state.objects].reverse().find((o) => o.mask?.data[y * state.width + x]);

canvas.addEventListener("contextmenu", (e) => e.preventDefault());
canvas.addEventListener("mousedown", (e) => {
  if (!state.mode || state.busy || (e.button !== 0 && e.button !== 2)) return;
  const positive = e.button === 0 && !e.shiftKey;
  void act(() => click({ ...pixelAt(e), positive }));
});
canvas.addEventListener("mousemove", (e) => {
  const p = pixelAt(e);
  const o = objectAt(p);
  const tip = $("tip");
  tip.style.display = o ? "block" : "none";
  if (!o) return;
  tip.textContent = `#${o.id}${o.label ? " " + o.label : ""}  score ${o.score.toFixed(3)}`;
  tip.style.left = `${e.offsetX + 12}px`;
  tip.style.top = `${e.offsetY + 12}px`;
});
canvas.addEventListener("mouseleave", () => ($("tip").style.display = "none"));
$("new-object").onclick = () => select(null);
$("remove").onclick = () => void act(remove);
$("scrub").oninput = () => void act(() => seek(Number($("scrub").value)));
$("play").onclick = togglePlay;

/** One click: a new object (none selected) or a refinement of the selected one. */
async function click(point) {
  const id = state.selected ?? Math.max(0, ...state.objects.map((o) => o.id)) + 1;
  if (state.mode === "video") {
    const result = await app.callServerTool({ name: "add_prompt", arguments: { session_id: state.sessionId, frame_index: state.frame, points: [point], obj_id: id } });
    if (result.isError) throw new Error(textOf(result));
    state.objects = result.structuredContent.objects.map(withMask);
    return finish(id, result);
  }
  const clicks = [...(state.clicks.get(id) ?? []), point];
  const result = await app.callServerTool({ name: "segment_image", arguments: { ...state.source, points: clicks, multimask: false, overlay: false } });
  if (result.isError) throw new Error(textOf(result));
  const found = result.structuredContent.objects[0];
  state.clicks.set(id, clicks);
  if (found) state.objects = [...state.objects.filter((o) => o.id !== id), withMask({ ...found, id, colour: SAM3_COLOURS[id] ?? found.colour, label: "clicked" })];
  return finish(id, result);
}

async function finish(id, result) {
  state.selected = id;
  render();
  await tellModel(`The user clicked object #${id} in the viewer. ${textOf(result)}`);
  status(`Object #${id} updated.`);
}

async function remove() {
  const id = state.selected;
  if (id === null) return;
  if (state.mode === "video") {
    const result = await app.callServerTool({ name: "remove_object", arguments: { session_id: state.sessionId, obj_id: id } });
    if (result.isError) throw new Error(textOf(result));
    await tellModel(`The user removed object #${id} in the viewer. ${textOf(result)}`);
  } else {
    state.clicks.delete(id);
    await tellModel(`The user removed object #${id} from the image result in the viewer.`);
  }
  state.objects = state.objects.filter((o) => o.id !== id);
  state.selected = null;
  render();
  status(`Object #${id} removed.`);
}

/** The model's view of what the user changed, so the conversation and the viewer agree. */
async function tellModel(text) {
  await app.updateModelContext({ content: [{ type: "text", text }] }).catch(() => undefined);
}

let playing = null;
function togglePlay() {
  if (playing) {
    clearInterval(playing);
    playing = null;
    $("play").textContent = "Play";
    return;
  }
  $("play").textContent = "Pause";
  playing = setInterval(() => {
    if (state.busy) return;
    if (state.frame + 1 >= state.frames) return togglePlay();
    void act(() => seek(state.frame + 1));
  }, 1000 / PLAY_FPS);
}

/** One action at a time; its failure shown in the status line. */
async function act(step) {
  state.busy = true;
  document.body.dataset.busy = "1";
  try {
    await step();
  } catch (e) {
    report(e);
  } finally {
    state.busy = false;
    delete document.body.dataset.busy;
  }
}

const textOf = (result) => (result.content ?? []).filter((c) => c.type === "text").map((c) => c.text).join("\n");
const status = (text) => ($("status").textContent = text);
const report = (e) => status(`Error: ${e?.message ?? e}`);

void app.connect().catch(report);
