// The model's readiness, uploads and frames: what the page shows before and under the objects.
import { fetchInfo, mediaApi, uploadFile } from './api.js';
import { can, errorText, setObjects, setStatus } from './feedback.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const formatBytes = (n) => (!(n >= 0) ? '?' : n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KB' : (n / 1048576).toFixed(1) + ' MB');

export function createLoader(store) {
  let frameSeq = 0;
  const get = () => store.get();

  async function pollInfo() {
    for (let lastError = null; ;) {
      let delay = 2000;
      try {
        const info = await fetchInfo();
        const where = info.remote ? `Triton ${info.remote}` : info.device;
        const name = `Model: ${info.model || 'model'}${where ? ` on ${where}` : ''}`;
        if (info.error) {
          store.set({ modelLine: `${name} — error: ${info.error}` });
          if (info.error !== lastError) setStatus(store, 'Model failed to load: ' + info.error, 'error', false);
          lastError = info.error;
        } else if (info.ready) {
          store.set({ info, modelLine: `${name} — ready${info.description ? ' · ' + info.description : ''}` });
          if (!get().userStatus) setStatus(store, 'Model ready. Upload an image or video to start.', 'ok', false);
          return;
        } else {
          store.set({ modelLine: `${name} — loading…` });
          if (!get().userStatus) setStatus(store, 'Model loading…', 'info', false);
          delay = 500;
        }
      } catch (err) {
        store.set({ modelLine: 'Model: server unreachable' });
        if (!get().userStatus) setStatus(store, 'Cannot reach the server: ' + errorText(err), 'error', false);
      }
      await sleep(delay);
    }
  }

  async function upload(file) {
    setStatus(store, `Uploading ${file.name} (${formatBytes(file.size)})…`);
    let answer;
    try {
      answer = await uploadFile(file);
    } catch (err) {
      const why = { 413: 'File too large', 429: 'Too many uploads', 415: 'Unsupported file' }[err.status] || 'Upload failed';
      return setStatus(store, `${why}: ${errorText(err)}`, 'error');
    }
    // the previous upload stays usable until this one is in; then it is closed (and its quota freed)
    const old = get().media;
    if (old) await old.api.close().catch(() => {});
    const media = { ...answer, fps: answer.fps > 0 ? answer.fps : 10, name: file.name, api: mediaApi(answer.id) };
    store.set({ media, frame: 0, bitmap: null, objects: [], hidden: new Set(), editing: null, marks: [], propagating: false, playing: false, progress: { value: 0, max: media.frames, text: '' } });
    if (!(await showFrame(0, true))) return;
    // only the ways this model can segment are suggested
    const where = media.kind === 'video' ? 'frame' : 'image';
    const ways = [can(get(), media.kind === 'video' ? 'textVideo' : 'text') && 'type prompts and press Find', can(get(), 'clicks') && `click on the ${where}`].filter(Boolean).join(', or ');
    setStatus(store, `Loaded ${file.name}.${ways ? ` ${ways[0].toUpperCase()}${ways.slice(1)}.` : ''}`, 'ok');
  }

  /** Shows frame n: its image, and on a video the objects the session has there. */
  async function showFrame(n, force = false) {
    const { media, frame, bitmap } = get();
    if (!media) return false;
    n = Math.max(0, Math.min(media.frames - 1, n | 0));
    if (n === frame && !force && bitmap) return true;
    const seq = ++frameSeq;
    if (n !== frame) store.set({ frame: n, marks: [] });
    try {
      const [image, objects] = await Promise.all([media.api.frameBitmap(n), media.kind === 'video' ? media.api.frameObjects(n) : null]);
      if (seq !== frameSeq || media !== get().media) { image.close(); return false; }
      if (get().bitmap) get().bitmap.close();
      store.set({ bitmap: image });
      if (objects) setObjects(store, objects);
      return true;
    } catch (err) {
      if (seq === frameSeq) setStatus(store, `Could not load frame ${n}: ${errorText(err)}`, 'error');
      return false;
    }
  }

  return { pollInfo, upload, showFrame };
}
