// Pointer input on the canvas: a click is a point (Shift or right button: negative), a drag a box; arrows step frames.

const normBox = (a, b) => [Math.min(a.x, b.x), Math.min(a.y, b.y), Math.max(a.x, b.x), Math.max(a.y, b.y)];

export function attachInput(canvas, view, { onPoint, onBox, onStep }) {
  let drag = null;   // { start, screen, button, shift, moved, pointerId }

  canvas.addEventListener('contextmenu', (ev) => ev.preventDefault());

  canvas.addEventListener('pointerdown', (ev) => {
    if (ev.button !== 0 && ev.button !== 2) return;
    ev.preventDefault();
    canvas.focus({ preventScroll: true });
    drag = { start: view.toImage(ev), screen: [ev.clientX, ev.clientY], button: ev.button, shift: ev.shiftKey, moved: false, pointerId: ev.pointerId };
    try { canvas.setPointerCapture(ev.pointerId); } catch (_) { /* the pointer is already gone */ }
  });

  canvas.addEventListener('pointermove', (ev) => {
    if (!drag || drag.pointerId !== ev.pointerId) return view.showHover(ev);
    if (Math.hypot(ev.clientX - drag.screen[0], ev.clientY - drag.screen[1]) > 5) drag.moved = true;
    if (drag.moved && drag.button === 0) view.setPreview(normBox(drag.start, view.toImage(ev)));
    view.hideHover();
  });

  canvas.addEventListener('pointerup', (ev) => {
    const d = drag;
    if (!d || d.pointerId !== ev.pointerId) return;
    drag = null;
    view.setPreview(null);
    try { canvas.releasePointerCapture(ev.pointerId); } catch (_) { /* released already */ }
    if (!d.moved || d.button !== 0) return onPoint({ x: d.start.x, y: d.start.y, positive: d.button === 0 && !d.shift && !ev.shiftKey });
    const box = normBox(d.start, view.toImage(ev));
    if (box[2] - box[0] >= 2 && box[3] - box[1] >= 2) onBox(box);
  });

  canvas.addEventListener('pointercancel', () => { drag = null; view.setPreview(null); });
  canvas.addEventListener('pointerleave', () => { if (!drag) view.hideHover(); });

  canvas.addEventListener('keydown', (ev) => {
    if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight') return;
    ev.preventDefault();
    onStep(ev.key === 'ArrowRight' ? 1 : -1);
  });
}
