// The page's one state, changed only through set(); the views subscribe and redraw what changed.

export function createStore() {
  let state = {
    info: null,             // /api/info once the model is ready: capabilities and why some are missing
    modelLine: 'Model: connecting…',
    status: { text: 'Model loading…', level: 'info' },
    userStatus: false,      // a user action wrote the status line: model polling leaves it alone
    media: null,            // { id, kind, width, height, frames, fps, name, api }
    frame: 0,
    bitmap: null,           // the frame's image
    objects: [],            // the server's objects on this frame, each with its decoded .mask
    hidden: new Set(),      // ids the user unticked
    editing: null,          // the object clicks refine; null: the next click starts a new one
    marks: [],              // video: the clicks sent for the edited object on this frame (the server keeps them)
    opacity: 0.45,
    propagating: false,
    progress: { value: 0, max: 1, text: '' },
    playing: false,
  };
  const listeners = new Set();
  return {
    get: () => state,
    set(patch) {
      state = { ...state, ...patch };
      for (const listener of listeners) listener(state, patch);
    },
    subscribe: (listener) => listeners.add(listener),
  };
}
