// Wires the page: one store, the views that draw it, and the controls that call the controller.
import { createCanvasView } from './canvas-view.js';
import { createController } from './controller.js';
import { setStatus } from './feedback.js';
import { attachInput } from './input.js';
import { createLoader } from './loader.js';
import { createObjectList } from './object-list.js';
import { createPanelView } from './panel-view.js';
import { createStore } from './store.js';
import { createVideo } from './video.js';

const $ = (id) => document.getElementById(id);
const el = Object.fromEntries([
  'model', 'capabilities', 'status', 'file', 'media-info', 'prompt-form', 'prompts', 'find', 'clear', 'new-object', 'undo', 'edit-info',
  'threshold', 'threshold-value', 'fineness', 'fineness-value', 'opacity', 'opacity-value',
  'video-controls', 'frame', 'frame-value', 'play', 'propagate', 'cancel', 'progress', 'progress-text',
  'export-empty', 'export-jsonl', 'export-zip', 'export-png', 'export-cutouts', 'export-mp4', 'stage', 'canvas', 'hover-info', 'objects', 'objects-empty',
].map((id) => [id.replace(/-(\w)/g, (_, c) => c.toUpperCase()), $(id)]));

const store = createStore();
const loader = createLoader(store);
const controller = createController(store, () => ({ threshold: Number(el.threshold.value), fineness: Number(el.fineness.value) }), loader);
const video = createVideo(store, loader);
const view = createCanvasView({ canvas: el.canvas, stage: el.stage, hover: el.hoverInfo }, store);
createObjectList({ list: el.objects, empty: el.objectsEmpty }, store, controller);
createPanelView(el, store);
attachInput(el.canvas, view, {
  onPoint: (p) => { video.stop(); controller.point(p); },
  onBox: (b) => { video.stop(); controller.box(b); },
  onStep: (delta) => video.step(delta),
});

store.subscribe((state, changed) => {
  if ('media' in changed) el.mediaInfo.textContent = !state.media ? '' : state.media.kind === 'video'
    ? `${state.media.name}: video ${state.media.width}×${state.media.height}, ${state.media.frames} frames @ ${Math.round(state.media.fps * 100) / 100} fps`
    : `${state.media.name}: image ${state.media.width}×${state.media.height}`;
});

const uploadFrom = (file) => { if (!file) return setStatus(store, 'Drop a file (image or video).', 'error'); video.stop(); loader.upload(file); };
el.file.addEventListener('change', () => { uploadFrom(el.file.files[0]); el.file.value = ''; });
['dragenter', 'dragover'].forEach((t) => el.stage.addEventListener(t, (ev) => { ev.preventDefault(); el.stage.classList.add('dragover'); }));
el.stage.addEventListener('dragleave', (ev) => { if (!el.stage.contains(ev.relatedTarget)) el.stage.classList.remove('dragover'); });
el.stage.addEventListener('drop', (ev) => { ev.preventDefault(); el.stage.classList.remove('dragover'); uploadFrom(ev.dataTransfer && ev.dataTransfer.files[0]); });
// a file dropped beside the stage must not navigate away
window.addEventListener('dragover', (ev) => ev.preventDefault());
window.addEventListener('drop', (ev) => ev.preventDefault());

el.promptForm.addEventListener('submit', (ev) => { ev.preventDefault(); video.stop(); controller.find(el.prompts.value); });
el.clear.addEventListener('click', () => controller.clear());
el.newObject.addEventListener('click', () => controller.newObject());
el.undo.addEventListener('click', () => controller.undo());
for (const slider of [el.threshold, el.fineness]) {
  slider.addEventListener('input', () => {
    store.set({});
    controller.settingsChanged();
  });
}
el.opacity.addEventListener('input', () => store.set({ opacity: Number(el.opacity.value) }));
el.frame.addEventListener('input', () => video.seek(Number(el.frame.value)));
el.play.addEventListener('click', () => video.play());
el.propagate.addEventListener('click', () => video.propagate());
el.cancel.addEventListener('click', () => video.cancel());
// leaving the page closes its upload on the server
window.addEventListener('pagehide', () => { if (store.get().media) store.get().media.api.closeOnLeave(); });

store.set({});
loader.pollInfo();
