// The masks tinted in each object's colour (the server's, from core's palette): opaque edges, see-through inside.

const rgbOf = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

/** An offscreen canvas of the visible objects' masks, or null when there is nothing to draw. */
export function drawOverlay(objects, hidden, opacity, width, height) {
  const shown = objects.filter((o) => !hidden.has(o.id) && o.mask && o.mask.bbox);
  if (!shown.length) return null;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d');
  const image = context.createImageData(width, height);
  const px = image.data;
  const inside = Math.round(opacity * 255);
  for (const o of shown) {
    const m = o.mask.data;
    const [r, g, b] = rgbOf(o.colour);
    const [x0, y0, x1, y1] = o.mask.bbox;
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const i = y * width + x;
        if (!m[i]) continue;
        const edge = x === 0 || y === 0 || x === width - 1 || y === height - 1 || !m[i - 1] || !m[i + 1] || !m[i - width] || !m[i + width];
        const j = i * 4;
        px[j] = r; px[j + 1] = g; px[j + 2] = b; px[j + 3] = edge ? 255 : inside;
      }
    }
  }
  context.putImageData(image, 0, 0);
  return canvas;
}
