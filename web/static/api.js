// The server's JSON API as functions: every failure becomes an Error carrying the server's message and status.

export async function readError(res) {
  if (res.status === 401) return Object.assign(new Error('Not authorised: open the URL that sam3 ui printed (the one with ?token=…)'), { status: 401 });
  let msg = '';
  try {
    const text = await res.text();
    try { msg = JSON.parse(text).error || text; } catch (_) { msg = text; }
  } catch (_) { /* the body is lost: the status text says enough */ }
  return Object.assign(new Error(String(msg || '').trim() || res.statusText || 'request failed'), { status: res.status });
}

async function request(path, options = {}) {
  const res = await fetch(path, options);
  if (!res.ok) throw await readError(res);
  const text = await res.text();
  try { return text ? JSON.parse(text) : {}; } catch (_) { throw new Error('Invalid response from server for ' + path); }
}

const sendJson = (method, body) => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

export const fetchInfo = () => request('/api/info');

// the server tells images from videos by their bytes; a fixed type also keeps form types (text/plain) out
export const uploadFile = (file) => request('/api/media', {
  method: 'POST',
  headers: { 'x-file-name': encodeURIComponent(file.name), 'content-type': 'application/octet-stream' },
  body: file,
});

/** The calls on one upload. */
export function mediaApi(id) {
  const base = '/api/media/' + encodeURIComponent(id);
  const objects = (path, options) => request(base + path, options).then((r) => r.objects);
  return {
    exportUrl: (file) => `${base}/export/${file}`,
    close: () => request(base, { method: 'DELETE' }),
    // keepalive lets the request outlive a page that is going away
    closeOnLeave: () => fetch(base, { method: 'DELETE', keepalive: true }).catch(() => {}),
    async frameBitmap(n) {
      const res = await fetch(`${base}/frames/${n}`);
      if (!res.ok) throw await readError(res);
      return createImageBitmap(await res.blob());
    },
    frameObjects: (n) => objects(`/frames/${n}/objects`),
    segment: (body) => objects('/segment', sendJson('POST', body)),
    setOptions: (options) => objects('/options', sendJson('POST', options)),
    choose: (objId, index) => objects(`/objects/${objId}/candidate`, sendJson('POST', { index })),
    undo: (objId) => objects(`/objects/${objId}/undo`, sendJson('POST', {})),
    remove: (objId) => objects(`/objects/${objId}`, { method: 'DELETE' }),
    clear: () => objects('/objects', { method: 'DELETE' }),
    cancel: () => request(`${base}/cancel`, sendJson('POST', {})).then((r) => r.was_running),
    /** Propagates forward, calling onLine with each JSON line of progress; answers the last line. */
    async propagate(onLine) {
      const res = await fetch(`${base}/propagate`, sendJson('POST', {}));
      if (!res.ok) throw await readError(res);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      let last = null;
      const take = (line) => {
        if (!line.trim()) return;
        const message = JSON.parse(line);
        if (message.finished || message.error) last = message; else onLine(message);
      };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        const lines = buffer.split('\n');
        buffer = lines.pop();
        lines.forEach(take);
      }
      take(buffer + decoder.decode());
      return last;
    },
  };
}
