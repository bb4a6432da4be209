// What the user does to objects, as calls to the server whose answers go into the store: the server owns objects
// and clicks, the page sends only the new click.
import { can, onMedia, setObjects, setStatus } from './feedback.js';

export function createController(store, settings, loader) {
  let promptSeq = 0;
  let settle = 0;
  const get = () => store.get();
  const isVideo = () => !!get().media && get().media.kind === 'video';
  const status = (...args) => setStatus(store, ...args);

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
    const answer = await onMedia(store, (api) => api.segment(full), 'Segmentation failed');
    if (!answer || seq !== promptSeq || frame !== get().frame) return;
    const fresh = answer.filter((o) => !before.has(o.id)).map((o) => o.id);
    const clicked = !body.text;
    const next = clicked && editing == null && fresh.length ? Math.max(...fresh) : editing;
    store.set({ editing: next, marks: clicked && isVideo() ? [...(next === editing ? marks : []), ...(body.points || [])] : marks });
    setObjects(store, answer);
    const n = answer.length;
    status(n ? `${n} object${n === 1 ? '' : 's'} on frame ${frame}.` : 'No objects found. Try a lower threshold or other prompts.', n ? 'ok' : 'info');
  }

  const target = () => (get().editing == null ? {} : { obj_id: get().editing });

  return {
    find(text) {
      const concepts = text.split(',').map((s) => s.trim()).filter(Boolean).join(', ');
      if (!concepts) return status('Type one or more comma-separated concepts, e.g. “dog, red car”.', 'error');
      return send({ text: concepts }, `Finding “${concepts}”…`);
    },
    /** One new click: the server adds it to the object's own list. */
    point(p) {
      if (!can(get(), 'clicks')) return status(get().info.unavailable.clicks, 'error');
      return send({ points: [p], ...target() }, 'Segmenting…');
    },
    box(b) {
      if (!can(get(), 'clicks')) return status(get().info.unavailable.clicks, 'error');
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
      const ids = await onMedia(store, (api) => api.remove(id), `Could not remove object #${id}`);
      if (!ids) return;
      const { editing, objects } = get();
      store.set({ objects: objects.filter((o) => o.id !== id), ...(editing === id ? { editing: null, marks: [] } : {}) });
      status(`Removed object #${id}.`, 'ok');
      if (isVideo()) await loader.showFrame(get().frame, true);
    },
    async clear() {
      if (!(await onMedia(store, (api) => api.clear(), 'Could not clear'))) return;
      store.set({ objects: [], hidden: new Set(), editing: null, marks: [] });
      status('Cleared: every object is gone.');
    },
    async choose(id, index) {
      const answer = await onMedia(store, (api) => api.choose(id, index), 'Could not pick that candidate');
      if (answer) { setObjects(store, answer); status(`Object #${id} shows candidate ${index + 1}.`, 'ok'); }
    },
    async undo() {
      const id = get().editing;
      const answer = await onMedia(store, (api) => api.undo(id), 'Could not undo');
      if (!answer) return;
      const still = answer.some((o) => o.id === id);
      store.set({ editing: still ? id : null });
      setObjects(store, answer);
      status(still ? `Took back the last click of object #${id}.` : `Object #${id} had one click: it is gone.`, 'ok');
    },
    /** Image only: once the sliders rest, every prompt runs again with their values; a video never re-sends. */
    settingsChanged() {
      clearTimeout(settle);
      if (!get().media || isVideo()) return;
      settle = setTimeout(async () => {
        const seq = ++promptSeq;
        const answer = await onMedia(store, (api) => api.setOptions(settings()), 'Could not apply the settings');
        if (answer && seq === promptSeq) setObjects(store, answer);
      }, 150);
    },
  };
}
