// Drawing on the canvas beside the masks: the empty stage, object tags in their colours, the prompt box, the clicks.
// `s` is canvas pixels per CSS pixel, so marks keep their on-screen size.

export function drawPlaceholder(ctx, canvas, s) {
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

/** Each visible object's id and label on its colour, above its box. */
export function drawTags(ctx, canvas, state, s) {
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

export function drawBox(ctx, b, dashed, s) {
  ctx.save();
  ctx.lineWidth = 2 * s;
  ctx.strokeStyle = '#ffffff';
  ctx.strokeRect(b[0], b[1], b[2] - b[0], b[3] - b[1]);
  ctx.setLineDash(dashed ? [6 * s, 4 * s] : []);
  ctx.strokeStyle = '#0b57d0';
  ctx.strokeRect(b[0], b[1], b[2] - b[0], b[3] - b[1]);
  ctx.restore();
}

/** A click: green with a plus (positive) or red with a minus (negative). */
export function drawClick(ctx, p, s) {
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
