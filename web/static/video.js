// The video bar: the frame scrubber, playback at the video's rate, and propagation with its progress and cancel.
import { errorText, setStatus } from './feedback.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function createVideo(store, loader) {
  let playToken = 0;
  const get = () => store.get();
  const status = (...args) => setStatus(store, ...args);

  function stop() {
    if (!get().playing) return;
    playToken++;
    store.set({ playing: false });
  }

  async function play() {
    const { media } = get();
    if (!media || media.kind !== 'video') return;
    if (get().playing) return stop();
    const token = ++playToken;
    store.set({ playing: true });
    if (get().frame >= media.frames - 1) await loader.showFrame(0);
    const interval = 1000 / media.fps;
    while (token === playToken && media === get().media && get().frame + 1 < media.frames) {
      const started = performance.now();
      if (!(await loader.showFrame(get().frame + 1))) break;
      await sleep(interval - (performance.now() - started));
    }
    if (token === playToken) stop();
  }

  async function propagate() {
    const { media } = get();
    if (!media || media.kind !== 'video' || get().propagating) return;
    stop();
    store.set({ propagating: true, progress: { value: 0, max: media.frames, text: '' } });
    status('Propagating through the video…');
    const onLine = (m) => {
      if (media !== get().media) return;
      store.set({ progress: { value: m.done, max: m.total > 0 ? m.total : get().progress.max, text: `${m.done} / ${m.total} (frame ${m.frame})` } });
    };
    let last, failure;
    try {
      last = await media.api.propagate(onLine);
    } catch (err) {
      failure = errorText(err);
    }
    if (media !== get().media) return;
    store.set({ propagating: false });
    if (failure || (last && last.error)) status('Propagation failed: ' + (failure || last.error), 'error');
    else if (!last) status('Propagation ended unexpectedly (no final message from server).', 'error');
    else if (last.cancelled) status(`Propagation cancelled after ${last.frames} frame(s).`, 'info');
    else {
      store.set({ progress: { ...get().progress, value: get().progress.max } });
      status(`Propagation finished: ${last.frames} frame(s). Scrub or press Play to review.`, 'ok');
    }
    await loader.showFrame(get().frame, true);
  }

  async function cancel() {
    const { media } = get();
    if (!media) return;
    try {
      const running = await media.api.cancel();
      status(running ? 'Cancelling propagation…' : 'Nothing was running.', 'info');
      if (!running) store.set({ propagating: false });
    } catch (err) {
      status('Cancel failed: ' + errorText(err), 'error');
    }
  }

  return {
    play,
    stop,
    propagate,
    cancel,
    seek(n) { stop(); return loader.showFrame(n); },
    step(delta) { if (get().media && get().media.kind === 'video') { stop(); loader.showFrame(get().frame + delta); } },
  };
}
