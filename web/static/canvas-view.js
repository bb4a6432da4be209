// The canvas view: the frame, the tinted masks, the edited object's prompt, the dragged box, and hover.
import { drawBox, drawClick, drawPlaceholder, drawTags } from './draw.js';
import { drawOverlay } from './overlay.js';

export const describe = (o) => `#${o.id}${o.label ? ' ' + o.label : ''} score ${typeof o.score === 'number' ? o.score.toFixed(2) : '–'}`;

export function createCanvasView({ canvas, stage, hover }, store) {
  const ctx = canvas.getContext('2d');
  let overlay = null;
  let preview = null;   // the box being dragged

  store.subscribe((state, changed) => {
    if ('media' in changed && state.media) { canvas.width = state.media.width; canvas.height = state.media.height; }
    if ('objects' in changed || 'hidden' in changed || 'opacity' in changed || 'media' in changed) {
      overlay = drawOverlay(state.objects, state.hidden, state.opacity, canvas.width, canvas.height);
    }
    render();
  });
  window.addEventListener('resize', () => render());

  // canvas pixels per CSS pixel: marks and labels keep their on-screen size
  const scale = () => canvas.width / (canvas.clientWidth || canvas.width);

  function render() {
    const state = store.get();
    const s = scale();
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (!state.bitmap) return drawPlaceholder(ctx, canvas, s);
    ctx.drawImage(state.bitmap, 0, 0, canvas.width, canvas.height);
    if (overlay) ctx.drawImage(overlay, 0, 0);
    drawTags(ctx, canvas, state, s);
    const edited = state.objects.find((o) => o.id === state.editing);
    if (edited && edited.prompt_box) drawBox(ctx, edited.prompt_box, false, s);
    if (preview) drawBox(ctx, preview, true, s);
    for (const p of (edited && edited.points) || state.marks) drawClick(ctx, p, s);
  }

  /** The pointer's position in image pixels (one decimal), kept on the image. */
  function toImage(ev) {
    const r = canvas.getBoundingClientRect();
    const x = Math.max(0, Math.min(canvas.width - 1, (ev.clientX - r.left) * canvas.width / (r.width || 1)));
    const y = Math.max(0, Math.min(canvas.height - 1, (ev.clientY - r.top) * canvas.height / (r.height || 1)));
    return { x: Math.round(x * 10) / 10, y: Math.round(y * 10) / 10 };
  }

  /** Names the topmost visible object under the pointer. */
  function showHover(ev) {
    const { objects, hidden, bitmap } = store.get();
    const p = toImage(ev);
    const index = Math.floor(p.y) * canvas.width + Math.floor(p.x);
    const hit = bitmap && [...objects].reverse().find((o) => !hidden.has(o.id) && o.mask && o.mask.data[index]);
    if (!hit) return hideHover();
    hover.textContent = describe(hit);
    hover.hidden = false;
    const sr = stage.getBoundingClientRect();
    let left = ev.clientX - sr.left + 14, top = ev.clientY - sr.top + 14;
    if (left + hover.offsetWidth > sr.width) left = Math.max(0, ev.clientX - sr.left - hover.offsetWidth - 10);
    if (top + hover.offsetHeight > sr.height) top = Math.max(0, ev.clientY - sr.top - hover.offsetHeight - 10);
    hover.style.left = left + 'px';
    hover.style.top = top + 'px';
  }

  function hideHover() { hover.hidden = true; }

  return {
    render,
    toImage,
    showHover,
    hideHover,
    setPreview(box) { preview = box; render(); },
  };
}
