// What the user does, as calls to the server whose answers go into the store: the server owns objects and clicks.
import { fetchInfo, mediaApi, uploadFile } from './api.js';
import { decodeRle } from './rle.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function errorText(err) {
  if (!err) return 'Unknown error';
  if (err.name === 'TypeError' && /fetch/i.test(err.message || '')) return 'Cannot reach the server (' + err.message + ')';
  return err.message || String(err);
}

const formatBytes = (n) => (!(n >= 0) ? '?' : n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KB' : (n / 1048576).toFixed(1) + ' MB');

export function createController(store, settings) {
  let promptSeq = 0;
  let frameSeq = 0;
  let settle = 0;
  const get = () => store.get();
  const can = (capability) => !((get().info && get().info.unavailable) || {})[capability];
  const isVideo = () => !!get().media && get().media.kind === 'video';

  function status(text, level = 'info', fromUser = true) {
    store.set({ status: { text, level }, ...(fromUser ? { userStatus: true } : {}) });
  }

  function setObjects(list) {
    store.set({ objects: list.map((o) => ({ ...o, mask: decodeRle(o.rle) })) });
  }

  /** Runs a call on the current upload; its answer is dropped if the upload changed meanwhile. */
  async function onMedia(call, failure) {
    const media = get().media;
    if (!media) { status('Upload an image or video first.', 'error'); return undefined; }
    try {
      const answer = await call(media.api);
      return media === get().media ? answer : undefined;
    } catch (err) {
      if (media === get().media) status(`${failure}: ${errorText(err)}`, 'error');
      return undefined;
    }
  }

  async function pollInfo() {
    for (let lastError = null; ;) {
      let delay = 2000;
      try {
        const info = await fetchInfo();
        const name = `Model: ${info.model || 'model'}${info.device ? ` on ${info.device}` : ''}`;
        if (info.error) {
          store.set({ modelLine: `${name} — error: ${info.error}` });
          if (info.error !== lastError) status('Model failed to load: ' + info.error, 'error', false);
          lastError = info.error;
        } else if (info.ready) {
          store.set({ info, modelLine: `${name} — ready${info.description ? ' · ' + info.description : ''}` });
          if (!get().userStatus) status('Model ready. Upload an image or video to start.', 'ok', false);
          return;
        } else {
          store.set({ modelLine: `${name} — loading…` });
          if (!get().userStatus) status('Model loading…', 'info', false);
          delay = 500;
        }
      } catch (err) {
        store.set({ modelLine: 'Model: server unreachable' });
        if (!get().userStatus) status('Cannot reach the server: ' + errorText(err), 'error', false);
      }
      await sleep(delay);
    }
  }

  async function upload(file) {
    status(`Uploading ${file.name} (${formatBytes(file.size)})…`);
    let answer;
    try {
      answer = await uploadFile(file);
    } catch (err) {
      const why = { 413: 'File too large', 429: 'Too many uploads', 415: 'Unsupported file' }[err.status] || 'Upload failed';
      return status(`${why}: ${errorText(err)}`, 'error');
    }
    // the previous upload stays usable until this one is in; then it is closed (and its quota freed)
    const old = get().media;
    if (old) await old.api.close().catch(() => {});
    const media = { ...answer, fps: answer.fps > 0 ? answer.fps : 10, name: file.name, api: mediaApi(answer.id) };
    store.set({ media, frame: 0, bitmap: null, objects: [], hidden: new Set(), editing: null, marks: [], propagating: false, playing: false, progress: { value: 0, max: media.frames, text: '' } });
    if (!(await showFrame(0, true))) return;
    // only the ways this model can segment are suggested
    const where = media.kind === 'video' ? 'frame' : 'image';
    const ways = [can(media.kind === 'video' ? 'textVideo' : 'text') && 'type prompts and press Find', can('clicks') && `click on the ${where}`].filter(Boolean).join(', or ');
    status(`Loaded ${file.name}.${ways ? ` ${ways[0].toUpperCase()}${ways.slice(1)}.` : ''}`, 'ok');
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
      if (objects) setObjects(objects);
      return true;
    } catch (err) {
      if (seq === frameSeq) status(`Could not load frame ${n}: ${errorText(err)}`, 'error');
      return false;
    }
  }

  /** Sends one prompt; the answer is every object of the frame. */
  async function send(body, working) {
    // the prompt carries the sliders' values: a re-run waiting for them is not needed
    clearTimeout(settle);
    const seq = ++promptSeq;
    const { frame, editing, objects, marks } = get();
    const before = new Set(objects.map((o) => o.id));
    status(working);
    // on a video the sliders do nothing: they are sent with image prompts only
    const full = { frame, ...body, ...(isVideo() ? {} : settings()) };
    const answer = await onMedia((api) => api.segment(full), 'Segmentation failed');
    if (!answer || seq !== promptSeq || frame !== get().frame) return;
    const fresh = answer.filter((o) => !before.has(o.id)).map((o) => o.id);
    const clicked = !body.text;
    const next = clicked && editing == null && fresh.length ? Math.max(...fresh) : editing;
    store.set({ editing: next, marks: clicked && isVideo() ? [...(next === editing ? marks : []), ...(body.points || [])] : marks });
    setObjects(answer);
    const n = answer.length;
    status(n ? `${n} object${n === 1 ? '' : 's'} on frame ${frame}.` : 'No objects found. Try a lower threshold or other prompts.', n ? 'ok' : 'info');
  }

  const target = () => (get().editing == null ? {} : { obj_id: get().editing });

  return {
    pollInfo,
    upload,
    showFrame,
    setObjects,
    status,
    find(text) {
      const concepts = text.split(',').map((s) => s.trim()).filter(Boolean).join(', ');
      if (!concepts) return status('Type one or more comma-separated concepts, e.g. “dog, red car”.', 'error');
      return send({ text: concepts }, `Finding “${concepts}”…`);
    },
    /** One new click: the server adds it to the object's own list. */
    point(p) {
      if (!can('clicks')) return status(get().info.unavailable.clicks, 'error');
      return send({ points: [p], ...target() }, 'Segmenting…');
    },
    box(b) {
      if (!can('clicks')) return status(get().info.unavailable.clicks, 'error');
      return send({ box: b, ...target() }, 'Segmenting…');
    },
    newObject() {
      store.set({ editing: null, marks: [] });
      status('Click or drag on the canvas to add a new object.');
    },
    edit(id) {
      store.set({ editing: id, marks: [] });
      status(`Clicks now refine object #${id}.`);
    },
    toggle(id, visible) {
      const hidden = new Set(get().hidden);
      if (visible) hidden.delete(id); else hidden.add(id);
      store.set({ hidden });
    },
    async remove(id) {
      const ids = await onMedia((api) => api.remove(id), `Could not remove object #${id}`);
      if (!ids) return;
      const { editing, objects } = get();
      store.set({ objects: objects.filter((o) => o.id !== id), ...(editing === id ? { editing: null, marks: [] } : {}) });
      status(`Removed object #${id}.`, 'ok');
      if (isVideo()) await showFrame(get().frame, true);
    },
    async clear() {
      if (!(await onMedia((api) => api.clear(), 'Could not clear'))) return;
      store.set({ objects: [], hidden: new Set(), editing: null, marks: [] });
      status('Cleared: every object is gone.');
    },
    async choose(id, index) {
      const answer = await onMedia((api) => api.choose(id, index), 'Could not pick that candidate');
      if (answer) { setObjects(answer); status(`Object #${id} shows candidate ${index + 1}.`, 'ok'); }
    },
    async undo() {
      const id = get().editing;
      const answer = await onMedia((api) => api.undo(id), 'Could not undo');
      if (!answer) return;
      const still = answer.some((o) => o.id === id);
      store.set({ editing: still ? id : null });
      setObjects(answer);
      status(still ? `Took back the last click of object #${id}.` : `Object #${id} had one click: it is gone.`, 'ok');
    },
    /** Image only: once the sliders rest, every prompt runs again with their values; a video never re-sends. */
    settingsChanged() {
      clearTimeout(settle);
      if (!get().media || isVideo()) return;
      settle = setTimeout(async () => {
        const seq = ++promptSeq;
        const answer = await onMedia((api) => api.setOptions(settings()), 'Could not apply the settings');
        if (answer && seq === promptSeq) setObjects(answer);
      }, 150);
    },
  };
}
