// COCO compressed RLE (column-major run lengths, as the server's core writes them) to a row-major mask.

/** The run lengths of pycocotools' string form. */
function runLengths(s) {
  const counts = [];
  for (let p = 0; p < s.length;) {
    let x = 0, k = 0, more = 1;
    while (more && p < s.length) {
      const c = s.charCodeAt(p++) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = c & 0x20;
      k++;
      if (!more && (c & 0x10) && 5 * k < 32) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}

/** { width, height, data (row-major 0/1), bbox [x0, y0, x1, y1] inclusive, or null when empty }. */
export function decodeRle(rle) {
  const [height, width] = rle.size;
  const counts = typeof rle.counts === 'string' ? runLengths(rle.counts) : Array.from(rle.counts);
  const n = width * height;
  const data = new Uint8Array(n);
  let minX = width, minY = height, maxX = -1, maxY = -1;
  let pos = 0;
  counts.forEach((run, i) => {
    const end = Math.min(pos + run, n);
    if (i % 2) {
      for (let j = pos; j < end; j++) {
        const x = (j / height) | 0, y = j - x * height;
        data[y * width + x] = 1;
        if (x < minX) minX = x; if (x > maxX) maxX = x;
        if (y < minY) minY = y; if (y > maxY) maxY = y;
      }
    }
    pos = end;
  });
  return { width, height, data, bbox: maxX < 0 ? null : [minX, minY, maxX, maxY] };
}
