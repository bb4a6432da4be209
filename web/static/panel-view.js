// The controls beside the canvas: status line, model header, what can be used now (and why not), exports, video bar.
import { refinable } from './object-list.js';

const VIDEO_SLIDERS = 'On a video the tracker keeps its own thresholds: these sliders act on images.';

export function createPanelView(el, store) {
  store.subscribe((state) => render(state));

  function render(state) {
    const { media, info, status } = state;
    const video = !!media && media.kind === 'video';
    el.status.textContent = status.text;
    el.status.className = 'status' + (status.level === 'error' ? ' error' : status.level === 'ok' ? ' ok' : '');
    el.model.textContent = state.modelLine;
    const can = info && info.can;
    el.capabilities.textContent = can ? 'Can do: ' + can : '';
    el.capabilities.hidden = !can;
    const cannot = Object.values((info && info.unavailable) || {});
    if (cannot.length) el.capabilities.title = cannot.join('\n'); else el.capabilities.removeAttribute('title');
    abilities(state, video);
    exports(media);
    el.thresholdValue.textContent = Number(el.threshold.value).toFixed(2);
    el.finenessValue.textContent = Number(el.fineness.value).toFixed(2);
    el.opacityValue.textContent = Number(state.opacity).toFixed(2);
    el.editInfo.textContent = !media ? '' : state.editing == null ? 'Clicks start a new object.' : `Clicks refine object #${state.editing}.`;
    el.videoControls.hidden = !video;
    if (!video) return;
    el.frame.max = String(media.frames - 1);
    el.frame.value = String(state.frame);
    el.frameValue.textContent = `${state.frame} / ${media.frames - 1}`;
    el.progress.max = state.progress.max;
    el.progress.value = state.progress.value;
    el.progressText.textContent = state.progress.text;
    el.play.textContent = state.playing ? 'Pause' : 'Play';
    el.play.setAttribute('aria-pressed', String(state.playing));
    el.cancel.disabled = !state.propagating;
  }

  /** Disables what cannot be used now, the tooltip saying why (for a missing capability, the server's message). */
  function abilities(state, video) {
    const unavailable = (state.info && state.info.unavailable) || {};
    const allow = (control, capability, otherwise) => {
      const why = unavailable[capability] || otherwise;
      control.disabled = !!why;
      if (typeof why === 'string') control.title = why; else control.removeAttribute('title');
    };
    // a text prompt on a video also needs the tracker to follow what the detector finds
    const text = video ? 'textVideo' : 'text';
    allow(el.prompts, text);
    allow(el.find, text);
    // the detection threshold is the detector's
    allow(el.threshold, 'text', video && VIDEO_SLIDERS);
    allow(el.fineness, undefined, video && VIDEO_SLIDERS);
    allow(el.clear, 'clicks');
    allow(el.newObject, 'clicks');
    const edited = state.objects.find((o) => o.id === state.editing);
    allow(el.undo, 'clicks', !(edited && !video && refinable(state.media, edited)));
    allow(el.propagate, 'video', state.propagating);
    if (unavailable.clicks) el.canvas.title = unavailable.clicks; else el.canvas.removeAttribute('title');
  }

  function exports(media) {
    el.exportEmpty.hidden = !!media;
    const set = (a, file, show) => {
      a.hidden = !show;
      if (show) a.href = media.api.exportUrl(file); else a.removeAttribute('href');
    };
    const image = !!media && media.kind === 'image';
    set(el.exportJsonl, 'masks.jsonl', !!media);
    set(el.exportZip, 'masks.zip', !!media);
    set(el.exportPng, 'overlay.png', image);
    set(el.exportCutouts, 'cutouts.zip', image);
    set(el.exportMp4, 'overlay.mp4', !!media && !image);
  }
}
