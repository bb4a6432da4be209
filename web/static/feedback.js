// What every action shares: the status line, the server's objects put in the store, calls on the current upload.
import { decodeRle } from './rle.js';

export function errorText(err) {
  if (!err) return 'Unknown error';
  if (err.name === 'TypeError' && /fetch/i.test(err.message || '')) return 'Cannot reach the server (' + err.message + ')';
  return err.message || String(err);
}

/** Writes the status line; a user's action marks it theirs, so model polling leaves it alone. */
export function setStatus(store, text, level = 'info', fromUser = true) {
  store.set({ status: { text, level }, ...(fromUser ? { userStatus: true } : {}) });
}

/** The server's objects, each with its mask decoded once. */
export function setObjects(store, list) {
  store.set({ objects: list.map((o) => ({ ...o, mask: decodeRle(o.rle) })) });
}

/** Whether the model can do `capability` (unknown until it is ready: then nothing is refused here). */
export const can = (state, capability) => !((state.info && state.info.unavailable) || {})[capability];

/** Runs a call on the current upload; its answer is dropped if the upload changed meanwhile, a failure shown. */
export async function onMedia(store, call, failure) {
  const media = store.get().media;
  if (!media) { setStatus(store, 'Upload an image or video first.', 'error'); return undefined; }
  try {
    const answer = await call(media.api);
    return media === store.get().media ? answer : undefined;
  } catch (err) {
    if (media === store.get().media) setStatus(store, `${failure}: ${errorText(err)}`, 'error');
    return undefined;
  }
}
