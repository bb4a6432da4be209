// The canvas: the frame, the tinted masks, object tags, the clicks and box of the object being edited, and hover.
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
    if (!state.bitmap) return placeholder(s);
    ctx.drawImage(state.bitmap, 0, 0, canvas.width, canvas.height);
    if (overlay) ctx.drawImage(overlay, 0, 0);
    tags(state, s);
    const edited = state.objects.find((o) => o.id === state.editing);
    if (edited && edited.prompt_box) drawBox(edited.prompt_box, false, s);
    if (preview) drawBox(preview, true, s);
    for (const p of (edited && edited.points) || state.marks) drawClick(p, s);
  }

  function placeholder(s) {
    ctx.fillStyle = '#eef0f3';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = '#3a3f47';
    ctx.font = `${Math.round(18 * s)}px system-ui, sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText('Drop an image or video here, or use “Upload”.', canvas.width / 2, canvas.height / 2);
    ctx.textAlign = 'start';
    ctx.textBaseline = 'alphabetic';
  }

  function tags(state, s) {
    ctx.font = `bold ${Math.round(13 * s)}px system-ui, sans-serif`;
    ctx.textBaseline = 'top';
    for (const o of state.objects) {
      const b = o.box;
      if (state.hidden.has(o.id) || !b) continue;
      const text = `#${o.id}${o.label ? ' ' + o.label : ''}`;
      const w = ctx.measureText(text).width + 8 * s, h = 18 * s;
      const x = Math.max(0, Math.min(canvas.width - w, b[0]));
      const y = b[1] - h >= 0 ? b[1] - h : b[1];
      ctx.fillStyle = o.colour;
      ctx.fillRect(x, y, w, h);
      ctx.fillStyle = '#000';
      ctx.fillText(text, x + 4 * s, y + 2 * s);
    }
    ctx.textBaseline = 'alphabetic';
  }

  function drawBox(b, dashed, s) {
    ctx.save();
    ctx.lineWidth = 2 * s;
    ctx.strokeStyle = '#ffffff';
    ctx.strokeRect(b[0], b[1], b[2] - b[0], b[3] - b[1]);
    ctx.setLineDash(dashed ? [6 * s, 4 * s] : []);
    ctx.strokeStyle = '#0b57d0';
    ctx.strokeRect(b[0], b[1], b[2] - b[0], b[3] - b[1]);
    ctx.restore();
  }

  function drawClick(p, s) {
    const positive = p.positive !== false;
    ctx.beginPath();
    ctx.arc(p.x, p.y, 6 * s, 0, Math.PI * 2);
    ctx.fillStyle = positive ? '#1e8e3e' : '#d93025';
    ctx.fill();
    ctx.lineWidth = 2 * s;
    ctx.strokeStyle = '#ffffff';
    ctx.stroke();
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(p.x - 3.5 * s, p.y - 1 * s, 7 * s, 2 * s);
    if (positive) ctx.fillRect(p.x - 1 * s, p.y - 3.5 * s, 2 * s, 7 * s);
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
