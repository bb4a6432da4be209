// SAM 3 interactive demo front end. Plain ES2020, no dependencies.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const el = {
    model: $('model'), capabilities: $('capabilities'), status: $('status'), file: $('file'), mediaInfo: $('media-info'),
    form: $('prompt-form'), prompts: $('prompts'), find: $('find'),
    clear: $('clear'), newObject: $('new-object'), editInfo: $('edit-info'),
    threshold: $('threshold'), thresholdValue: $('threshold-value'),
    fineness: $('fineness'), finenessValue: $('fineness-value'),
    videoControls: $('video-controls'), frame: $('frame'), frameValue: $('frame-value'),
    play: $('play'), propagate: $('propagate'), cancel: $('cancel'),
    progress: $('progress'), progressText: $('progress-text'),
    exportBox: $('export'), exportEmpty: $('export-empty'),
    exportJsonl: $('export-jsonl'), exportZip: $('export-zip'),
    exportPng: $('export-png'), exportMp4: $('export-mp4'),
    stage: $('stage'), canvas: $('canvas'), hover: $('hover-info'),
    objects: $('objects'), objectsEmpty: $('objects-empty'),
  };
  const ctx = el.canvas.getContext('2d');

  // ---------------------------------------------------------------- state
  const state = {
    media: null,          // { id, kind, width, height, frames, fps }
    frame: 0,
    bitmap: null,         // current frame image (ImageBitmap)
    objects: [],          // objects on the current frame, each with a decoded ._mask
    hidden: new Set(),    // object ids hidden by the user
    clicks: [],           // [{x, y, positive}] for the object being edited
    box: null,            // [x1, y1, x2, y2]
    editObjId: null,      // video: object the clicks refine (null = new object)
    lastRequest: null,    // { kind: 'text'|'clicks', frame, text? }
    overlay: null,        // offscreen canvas with tinted masks
    drag: null,           // { x0, y0, sx0, sy0, x, y, button, shift, moved }
    playing: false,
    playToken: 0,
    propagating: false,
    frameSeq: 0,
    segSeq: 0,
    modelReady: false,
    unavailable: {},      // capability -> why the model cannot do it (the server's message); empty until ready
    userStatus: false,    // a user action wrote the status line
  };

  // ---------------------------------------------------------------- helpers
  function setStatus(text, level = 'info', fromUser = true) {
    el.status.textContent = text;
    el.status.className = 'status' + (level === 'error' ? ' error' : level === 'ok' ? ' ok' : '');
    if (fromUser) state.userStatus = true;
  }

  function errorText(err) {
    if (!err) return 'Unknown error';
    if (err.name === 'TypeError' && /fetch/i.test(err.message || '')) return 'Cannot reach the server (' + err.message + ')';
    return err.message || String(err);
  }

  async function readError(res) {
    if (res.status === 401) {
      const e = new Error('Not authorised: open the URL that sam3 ui printed (the one with ?token=…)');
      e.status = 401;
      return e;
    }
    let msg = '';
    try {
      const text = await res.text();
      try { const j = JSON.parse(text); msg = (j && (j.error || j.message)) || text; } catch (_) { msg = text; }
    } catch (_) { /* ignore */ }
    msg = (msg || '').toString().trim() || res.statusText || 'request failed';
    const e = new Error(msg);
    e.status = res.status;
    return e;
  }

  async function api(path, opts = {}) {
    const res = await fetch(path, opts);
    if (!res.ok) throw await readError(res);
    const text = await res.text();
    if (!text) return {};
    try { return JSON.parse(text); } catch (_) { throw new Error('Invalid response from server for ' + path); }
  }

  function postJson(path, body) {
    return api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const mediaUrl = (p) => '/api/media/' + encodeURIComponent(state.media.id) + p;

  function hslToRgb(h, s, l) {
    h = ((h % 360) + 360) % 360;
    const c = (1 - Math.abs(2 * l - 1)) * s;
    const x = c * (1 - Math.abs(((h / 60) % 2) - 1));
    const m = l - c / 2;
    let r = 0, g = 0, b = 0;
    if (h < 60) [r, g, b] = [c, x, 0];
    else if (h < 120) [r, g, b] = [x, c, 0];
    else if (h < 180) [r, g, b] = [0, c, x];
    else if (h < 240) [r, g, b] = [0, x, c];
    else if (h < 300) [r, g, b] = [x, 0, c];
    else [r, g, b] = [c, 0, x];
    return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
  }
  const colorOf = (id) => hslToRgb(Number(id) * 137.508, 0.75, 0.5);
  const cssColor = (id) => { const [r, g, b] = colorOf(id); return `rgb(${r}, ${g}, ${b})`; };

  function describe(o) {
    const score = typeof o.score === 'number' ? o.score.toFixed(2) : '–';
    return `#${o.id}${o.label ? ' ' + o.label : ''} score ${score}`;
  }

  // ---------------------------------------------------------------- RLE
  // pycocotools rleFrString
  function rleCountsFromString(s) {
    const counts = [];
    let p = 0;
    while (p < s.length) {
      let x = 0, k = 0, more = 1;
      while (more) {
        if (p >= s.length) break;
        const c = s.charCodeAt(p) - 48;
        x |= (c & 0x1f) << (5 * k);
        more = c & 0x20;
        p++; k++;
        if (!more && (c & 0x10) && 5 * k < 32) x |= -1 << (5 * k);
      }
      if (counts.length > 2) x += counts[counts.length - 2];
      counts.push(x);
    }
    return counts;
  }

  // Returns { data: Uint8Array row-major W*H, bbox: [x0,y0,x1,y1] | null } at the target size.
  function decodeMask(rle, W, H) {
    const size = rle && rle.size;
    const h = size ? size[0] : H, w = size ? size[1] : W;
    const counts = typeof rle.counts === 'string' ? rleCountsFromString(rle.counts) : Array.from(rle.counts || []);
    const n = w * h;
    const m = new Uint8Array(n);
    let pos = 0, val = 0;
    let minX = w, minY = h, maxX = -1, maxY = -1;
    for (const c of counts) {
      if (val && c > 0) {
        const end = Math.min(pos + c, n);
        for (let i = pos; i < end; i++) {
          const x = (i / h) | 0, y = i - x * h;
          m[y * w + x] = 1;
          if (x < minX) minX = x; if (x > maxX) maxX = x;
          if (y < minY) minY = y; if (y > maxY) maxY = y;
        }
      }
      pos += c;
      val ^= 1;
      if (pos >= n) break;
    }
    if (w === W && h === H) return { data: m, bbox: maxX < 0 ? null : [minX, minY, maxX, maxY] };
    // Resample (nearest) to the image size.
    const out = new Uint8Array(W * H);
    let bx0 = W, by0 = H, bx1 = -1, by1 = -1;
    for (let y = 0; y < H; y++) {
      const sy = Math.min(h - 1, Math.floor((y + 0.5) * h / H));
      for (let x = 0; x < W; x++) {
        const sx = Math.min(w - 1, Math.floor((x + 0.5) * w / W));
        if (m[sy * w + sx]) {
          out[y * W + x] = 1;
          if (x < bx0) bx0 = x; if (x > bx1) bx1 = x;
          if (y < by0) by0 = y; if (y > by1) by1 = y;
        }
      }
    }
    return { data: out, bbox: bx1 < 0 ? null : [bx0, by0, bx1, by1] };
  }

  // ---------------------------------------------------------------- rendering
  function imageSize() {
    if (state.media) return [state.media.width, state.media.height];
    return [el.canvas.width, el.canvas.height];
  }

  function setObjects(list) {
    const [W, H] = imageSize();
    state.objects = (Array.isArray(list) ? list : []).map((o) => {
      let mask = null;
      try { if (o && o.rle) mask = decodeMask(o.rle, W, H); } catch (e) { console.warn('bad RLE for object', o && o.id, e); }
      return Object.assign({}, o, { _mask: mask });
    });
    buildOverlay();
    renderObjectList();
    render();
  }

  function buildOverlay() {
    const [W, H] = imageSize();
    if (!state.objects.length) { state.overlay = null; return; }
    const off = document.createElement('canvas');
    off.width = W; off.height = H;
    const octx = off.getContext('2d');
    const img = octx.createImageData(W, H);
    const px = img.data;
    for (const o of state.objects) {
      if (state.hidden.has(o.id) || !o._mask || !o._mask.bbox) continue;
      const m = o._mask.data;
      const [r, g, b] = colorOf(o.id);
      const [x0, y0, x1, y1] = o._mask.bbox;
      for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) {
          const i = y * W + x;
          if (!m[i]) continue;
          const edge = x === 0 || y === 0 || x === W - 1 || y === H - 1 ||
            !m[i - 1] || !m[i + 1] || !m[i - W] || !m[i + W];
          const j = i * 4;
          px[j] = r; px[j + 1] = g; px[j + 2] = b; px[j + 3] = edge ? 255 : 110;
        }
      }
    }
    octx.putImageData(img, 0, 0);
    state.overlay = off;
  }

  function screenScale() {
    const w = el.canvas.clientWidth || el.canvas.width;
    return el.canvas.width / w;
  }

  function render() {
    const c = el.canvas;
    const s = screenScale();
    ctx.clearRect(0, 0, c.width, c.height);
    if (!state.bitmap) {
      ctx.fillStyle = '#eef0f3';
      ctx.fillRect(0, 0, c.width, c.height);
      ctx.fillStyle = '#3a3f47';
      ctx.font = `${Math.round(18 * s)}px system-ui, sans-serif`;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText('Drop an image or video here, or use “Upload”.', c.width / 2, c.height / 2);
      ctx.textAlign = 'start';
      ctx.textBaseline = 'alphabetic';
      return;
    }
    ctx.drawImage(state.bitmap, 0, 0, c.width, c.height);
    if (state.overlay) ctx.drawImage(state.overlay, 0, 0);

    // object tags
    ctx.font = `bold ${Math.round(13 * s)}px system-ui, sans-serif`;
    ctx.textBaseline = 'top';
    for (const o of state.objects) {
      if (state.hidden.has(o.id)) continue;
      const b = Array.isArray(o.box) ? o.box : (o._mask && o._mask.bbox);
      if (!b) continue;
      const text = `#${o.id}${o.label ? ' ' + o.label : ''}`;
      const tw = ctx.measureText(text).width + 8 * s;
      const th = 18 * s;
      const x = Math.max(0, Math.min(c.width - tw, b[0]));
      const y = Math.max(0, b[1] - th >= 0 ? b[1] - th : b[1]);
      ctx.fillStyle = cssColor(o.id);
      ctx.fillRect(x, y, tw, th);
      ctx.fillStyle = '#000';
      ctx.fillText(text, x + 4 * s, y + 2 * s);
    }
    ctx.textBaseline = 'alphabetic';

    // prompt box
    const drawBox = (b, dashed) => {
      ctx.save();
      ctx.lineWidth = 2 * s;
      ctx.strokeStyle = '#ffffff';
      ctx.strokeRect(b[0], b[1], b[2] - b[0], b[3] - b[1]);
      ctx.setLineDash(dashed ? [6 * s, 4 * s] : []);
      ctx.strokeStyle = '#0b57d0';
      ctx.strokeRect(b[0], b[1], b[2] - b[0], b[3] - b[1]);
      ctx.restore();
    };
    if (state.box) drawBox(state.box, false);
    const d = state.drag;
    if (d && d.moved && d.button === 0) drawBox(normBox(d.x0, d.y0, d.x, d.y), true);

    // clicks
    for (const p of state.clicks) {
      ctx.beginPath();
      ctx.arc(p.x, p.y, 6 * s, 0, Math.PI * 2);
      ctx.fillStyle = p.positive ? '#1e8e3e' : '#d93025';
      ctx.fill();
      ctx.lineWidth = 2 * s;
      ctx.strokeStyle = '#ffffff';
      ctx.stroke();
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(p.x - 3.5 * s, p.y - 1 * s, 7 * s, 2 * s);
      if (p.positive) ctx.fillRect(p.x - 1 * s, p.y - 3.5 * s, 2 * s, 7 * s);
    }
  }

  function renderObjectList() {
    el.objects.textContent = '';
    const isVideo = state.media && state.media.kind === 'video';
    for (const o of state.objects) {
      const li = document.createElement('li');
      li.dataset.id = String(o.id);
      if (isVideo && o.id === state.editObjId) li.classList.add('editing');
      const label = document.createElement('label');
      const cb = document.createElement('input');
      cb.type = 'checkbox';
      cb.checked = !state.hidden.has(o.id);
      cb.addEventListener('change', () => {
        if (cb.checked) state.hidden.delete(o.id); else state.hidden.add(o.id);
        buildOverlay();
        render();
      });
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = cssColor(o.id);
      sw.setAttribute('aria-hidden', 'true');
      const txt = document.createElement('span');
      txt.textContent = describe(o);
      label.append(cb, sw, txt);
      li.append(label);
      if (isVideo) {
        const refine = document.createElement('button');
        refine.type = 'button';
        refine.className = 'secondary';
        refine.textContent = o.id === state.editObjId ? 'Editing' : 'Refine';
        refine.setAttribute('aria-label', `Refine object #${o.id} with clicks`);
        refine.addEventListener('click', () => {
          state.editObjId = o.id;
          state.clicks = []; state.box = null;
          updateEditInfo(); renderObjectList(); render();
          setStatus(`Clicks now refine object #${o.id}.`);
        });
        li.append(refine);
      }
      const rm = document.createElement('button');
      rm.type = 'button';
      rm.className = 'secondary';
      rm.textContent = 'Remove';
      rm.setAttribute('aria-label', `Remove object #${o.id}`);
      rm.addEventListener('click', () => removeObject(o.id));
      li.append(rm);
      el.objects.append(li);
    }
    el.objectsEmpty.hidden = state.objects.length > 0;
  }

  function updateEditInfo() {
    if (!state.media || state.media.kind !== 'video') { el.editInfo.textContent = ''; return; }
    el.editInfo.textContent = state.editObjId == null
      ? 'Clicks start a new object.'
      : `Clicks refine object #${state.editObjId}.`;
  }

  // ---------------------------------------------------------------- model info
  async function pollInfo() {
    let delay = 500;
    let lastError = null;
    for (;;) {
      try {
        const info = await api('/api/info');
        const name = info.model || 'model';
        const dev = info.device ? ` on ${info.device}` : '';
        if (info.error) {
          el.model.textContent = `Model: ${name}${dev} — error: ${info.error}`;
          if (info.error !== lastError) setStatus('Model failed to load: ' + info.error, 'error', false);
          lastError = info.error;
          delay = 2000;
        } else if (info.ready) {
          el.model.textContent = `Model: ${name}${dev} — ready${info.description ? ' · ' + info.description : ''}`;
          showCapabilities(info);
          state.modelReady = true;
          if (!state.userStatus) setStatus('Model ready. Upload an image or video to start.', 'ok', false);
          return;
        } else {
          el.model.textContent = `Model: ${name}${dev} — loading…`;
          if (!state.userStatus) setStatus('Model loading…', 'info', false);
          delay = 500;
        }
      } catch (err) {
        el.model.textContent = 'Model: server unreachable';
        if (!state.userStatus) setStatus('Cannot reach the server: ' + errorText(err), 'error', false);
        delay = 2000;
      }
      await sleep(delay);
    }
  }

  // ---------------------------------------------------------------- what the model can do
  function showCapabilities(info) {
    state.unavailable = info.unavailable || {};
    el.capabilities.textContent = info.can ? 'Can do: ' + info.can : '';
    el.capabilities.hidden = !info.can;
    const cannot = Object.values(state.unavailable);
    if (cannot.length) el.capabilities.title = cannot.join('\n'); else el.capabilities.removeAttribute('title');
    updateAbilities();
  }

  const can = (capability) => !state.unavailable[capability];
  // a text prompt on a video also needs the tracker to follow what the detector finds
  const textCapability = () => (state.media && state.media.kind === 'video' ? 'textVideo' : 'text');

  /** Disables what the model cannot do, its tooltip saying why (the message the server would answer with). */
  function updateAbilities() {
    const allow = (control, capability, busy = false) => {
      const why = state.unavailable[capability];
      control.disabled = busy || !!why;
      if (why) control.title = why; else control.removeAttribute('title');
    };
    allow(el.prompts, textCapability());
    allow(el.find, textCapability());
    // the detection threshold is the detector's
    allow(el.threshold, 'text');
    allow(el.clear, 'clicks');
    allow(el.newObject, 'clicks');
    allow(el.propagate, 'video', state.propagating);
    if (!can('clicks')) el.canvas.title = state.unavailable.clicks; else el.canvas.removeAttribute('title');
  }

  // ---------------------------------------------------------------- media
  async function upload(file) {
    if (!file) return;
    stopPlay();
    setStatus(`Uploading ${file.name} (${formatBytes(file.size)})…`);
    let media;
    try {
      media = await api('/api/media', {
        method: 'POST',
        // the server tells images from videos by their bytes; a fixed type also keeps form types (text/plain) out
        headers: { 'x-file-name': encodeURIComponent(file.name), 'content-type': 'application/octet-stream' },
        body: file,
      });
    } catch (err) {
      if (err.status === 413) setStatus('File too large: ' + errorText(err), 'error');
      else if (err.status === 429) setStatus('Too many uploads: ' + errorText(err), 'error');
      else if (err.status === 415) setStatus('Unsupported file: ' + errorText(err), 'error');
      else setStatus('Upload failed: ' + errorText(err), 'error');
      return;
    }
    if (!media || media.id == null || !media.width || !media.height) {
      setStatus('Upload failed: unexpected response from server.', 'error');
      return;
    }
    // the previous upload stays usable until this one is in; then it is closed (and its quota freed)
    await closeMedia();
    state.media = {
      id: media.id, kind: media.kind === 'video' ? 'video' : 'image',
      width: media.width, height: media.height,
      frames: Math.max(1, media.frames | 0 || 1), fps: media.fps > 0 ? media.fps : 10,
    };
    state.frame = 0;
    state.bitmap = null;
    state.hidden.clear();
    state.clicks = []; state.box = null;
    state.editObjId = null;
    state.lastRequest = null;
    state.propagating = false;
    el.canvas.width = state.media.width;
    el.canvas.height = state.media.height;
    setObjects([]);
    const isVideo = state.media.kind === 'video';
    el.videoControls.hidden = !isVideo;
    el.frame.max = String(state.media.frames - 1);
    el.frame.value = '0';
    el.progress.max = Math.max(1, state.media.frames);
    el.progress.value = 0;
    el.progressText.textContent = '';
    setPropagating(false);
    updateFrameLabel();
    updateEditInfo();
    updateExports();
    el.mediaInfo.textContent = isVideo
      ? `${file.name}: video ${media.width}×${media.height}, ${state.media.frames} frames @ ${round2(state.media.fps)} fps`
      : `${file.name}: image ${media.width}×${media.height}`;
    updateAbilities();
    const ok = await showFrame(0, true);
    // only the ways this model can segment are suggested
    const ways = [can(textCapability()) && 'type prompts and press Find', can('clicks') && `click on the ${isVideo ? 'frame' : 'image'}`].filter(Boolean).join(', or ');
    if (ok) setStatus(`Loaded ${file.name}.${ways ? ` ${ways[0].toUpperCase()}${ways.slice(1)}.` : ''}`, 'ok');
  }

  // the server keeps an upload until it is closed: free it (and its share of the quota) when it is replaced
  async function closeMedia() {
    const old = state.media;
    if (!old) return;
    state.media = null;
    updateExports();
    try { await api('/api/media/' + encodeURIComponent(old.id), { method: 'DELETE' }); } catch (_) { /* already gone */ }
  }

  function formatBytes(n) {
    if (!(n >= 0)) return '?';
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KB';
    return (n / 1048576).toFixed(1) + ' MB';
  }
  const round2 = (v) => Math.round(v * 100) / 100;

  function updateExports() {
    const m = state.media;
    el.exportEmpty.hidden = !!m;
    const set = (a, path, show) => {
      a.hidden = !show;
      if (show) a.href = mediaUrl(path); else a.removeAttribute('href');
    };
    set(el.exportJsonl, '/export/masks.jsonl', !!m);
    set(el.exportZip, '/export/masks.zip', !!m);
    set(el.exportPng, '/export/overlay.png', !!m && m.kind === 'image');
    set(el.exportMp4, '/export/overlay.mp4', !!m && m.kind === 'video');
  }

  function updateFrameLabel() {
    const total = state.media ? state.media.frames : 0;
    el.frameValue.textContent = `${state.frame} / ${Math.max(0, total - 1)}`;
  }

  async function loadBitmap(n) {
    const res = await fetch(mediaUrl('/frames/' + n));
    if (!res.ok) throw await readError(res);
    const blob = await res.blob();
    return createImageBitmap(blob);
  }

  // Load frame n (image + its objects for video). Returns true on success.
  async function showFrame(n, force = false) {
    if (!state.media) return false;
    n = Math.max(0, Math.min(state.media.frames - 1, n | 0));
    if (n === state.frame && !force && state.bitmap) return true;
    const seq = ++state.frameSeq;
    const media = state.media;
    const changed = n !== state.frame;
    state.frame = n;
    el.frame.value = String(n);
    updateFrameLabel();
    if (changed) { state.clicks = []; state.box = null; }
    try {
      const [bmp, objs] = await Promise.all([
        loadBitmap(n),
        media.kind === 'video' ? api(mediaUrl(`/frames/${n}/objects`)) : Promise.resolve(null),
      ]);
      if (seq !== state.frameSeq || media !== state.media) { if (bmp && bmp.close) bmp.close(); return false; }
      if (state.bitmap && state.bitmap.close) state.bitmap.close();
      state.bitmap = bmp;
      if (objs) setObjects(objs.objects); else render();
      return true;
    } catch (err) {
      if (seq === state.frameSeq) setStatus(`Could not load frame ${n}: ${errorText(err)}`, 'error');
      return false;
    }
  }

  // ---------------------------------------------------------------- segmentation
  function params() {
    return { threshold: Number(el.threshold.value), fineness: Number(el.fineness.value) };
  }

  function requireMedia() {
    if (state.media) return true;
    setStatus('Upload an image or video first.', 'error');
    return false;
  }

  async function runSegment(req) {
    if (!state.media) return;
    const media = state.media;
    const body = Object.assign({ frame: req.frame }, params());
    if (req.kind === 'text') {
      body.text = req.text;
    } else {
      if (req.points.length) body.points = req.points.map((p) => ({ x: p.x, y: p.y, positive: p.positive }));
      if (req.box) body.box = req.box.slice();
      if (media.kind === 'video' && state.editObjId != null) body.obj_id = state.editObjId;
    }
    const seq = ++state.segSeq;
    const prevIds = new Set(state.objects.map((o) => o.id));
    setStatus(req.kind === 'text' ? `Finding “${req.text}”…` : 'Segmenting…');
    try {
      const res = await postJson(mediaUrl('/segment'), body);
      if (seq !== state.segSeq || media !== state.media || req.frame !== state.frame) return;
      const objs = Array.isArray(res.objects) ? res.objects : [];
      if (req.kind === 'clicks' && media.kind === 'video' && state.editObjId == null) {
        const fresh = objs.filter((o) => !prevIds.has(o.id));
        if (fresh.length) state.editObjId = fresh.reduce((a, o) => (o.id > a ? o.id : a), fresh[0].id);
        updateEditInfo();
      }
      setObjects(objs);
      const n = objs.length;
      setStatus(n ? `${n} object${n === 1 ? '' : 's'} on frame ${req.frame}.` : 'No objects found. Try a lower threshold or other prompts.', n ? 'ok' : 'info');
    } catch (err) {
      if (seq === state.segSeq) setStatus('Segmentation failed: ' + errorText(err), 'error');
    }
  }

  function find() {
    if (!requireMedia()) return;
    const text = el.prompts.value.split(',').map((s) => s.trim()).filter(Boolean).join(', ');
    if (!text) { setStatus('Type one or more comma-separated concepts, e.g. “dog, red car”.', 'error'); el.prompts.focus(); return; }
    stopPlay();
    state.lastRequest = { kind: 'text', frame: state.frame, text };
    runSegment(state.lastRequest);
  }

  function segmentClicks() {
    if (!state.media) return;
    if (!state.clicks.length && !state.box) return;
    state.lastRequest = { kind: 'clicks', frame: state.frame, points: state.clicks.slice(), box: state.box ? state.box.slice() : null };
    runSegment(state.lastRequest);
  }

  let rerunTimer = 0;
  function onParamChange() {
    el.thresholdValue.textContent = Number(el.threshold.value).toFixed(2);
    el.finenessValue.textContent = Number(el.fineness.value).toFixed(2);
    clearTimeout(rerunTimer);
    rerunTimer = setTimeout(() => {
      const r = state.lastRequest;
      if (r && state.media && r.frame === state.frame) runSegment(r);
    }, 150);
  }

  async function removeObject(id) {
    if (!state.media) return;
    const media = state.media;
    try {
      await api(mediaUrl('/objects/' + encodeURIComponent(id)), { method: 'DELETE' });
      if (media !== state.media) return;
      state.hidden.delete(id);
      if (state.editObjId === id) { state.editObjId = null; state.clicks = []; state.box = null; updateEditInfo(); }
      if (state.lastRequest && state.lastRequest.kind === 'clicks') state.lastRequest = null;
      setObjects(state.objects.filter((o) => o.id !== id));
      setStatus(`Removed object #${id}.`, 'ok');
      if (media.kind === 'video') {
        const objs = await api(mediaUrl(`/frames/${state.frame}/objects`));
        if (media === state.media) setObjects(objs.objects);
      }
    } catch (err) {
      setStatus(`Could not remove object #${id}: ${errorText(err)}`, 'error');
    }
  }

  // ---------------------------------------------------------------- propagation
  function setPropagating(on) {
    state.propagating = on;
    el.cancel.disabled = !on;
    updateAbilities();
  }

  async function propagate() {
    if (!requireMedia()) return;
    if (state.media.kind !== 'video') { setStatus('Propagation is only for videos.', 'error'); return; }
    if (state.propagating) return;
    stopPlay();
    const media = state.media;
    setPropagating(true);
    el.progress.max = media.frames;
    el.progress.value = 0;
    el.progressText.textContent = '';
    setStatus('Propagating through the video…');
    let finished = null;
    let streamError = null;
    try {
      const res = await fetch(mediaUrl('/propagate'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      if (!res.ok) throw await readError(res);
      if (!res.body || !res.body.getReader) {
        const text = await res.text();
        text.split('\n').forEach((l) => { const m = handleLine(l); if (m) finished = m; });
      } else {
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += decoder.decode(value, { stream: true });
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            const m = handleLine(line);
            if (m) finished = m;
          }
        }
        buf += decoder.decode();
        const m = handleLine(buf);
        if (m) finished = m;
      }
    } catch (err) {
      streamError = err;
    }
    if (media !== state.media) return;
    setPropagating(false);
    if (streamError) {
      setStatus('Propagation failed: ' + errorText(streamError), 'error');
    } else if (finished && finished.error) {
      setStatus('Propagation failed: ' + finished.error, 'error');
    } else if (finished && finished.finished) {
      if (finished.cancelled) setStatus(`Propagation cancelled after ${finished.frames} frame(s).`, 'info');
      else {
        el.progress.value = el.progress.max;
        setStatus(`Propagation finished: ${finished.frames} frame(s). Scrub or press Play to review.`, 'ok');
      }
    } else {
      setStatus('Propagation ended unexpectedly (no final message from server).', 'error');
    }
    showFrame(state.frame, true);

    function handleLine(line) {
      line = line.trim();
      if (!line || media !== state.media) return null;
      let msg;
      try { msg = JSON.parse(line); } catch (_) { return null; }
      if (msg.error) return msg;
      if (msg.finished) return msg;
      if (typeof msg.total === 'number' && msg.total > 0) el.progress.max = msg.total;
      if (typeof msg.done === 'number') el.progress.value = msg.done;
      el.progressText.textContent = `${msg.done ?? '?'} / ${msg.total ?? '?'}${typeof msg.frame === 'number' ? ` (frame ${msg.frame})` : ''}`;
      return null;
    }
  }

  async function cancelPropagation() {
    if (!state.media) return;
    try {
      const r = await postJson(mediaUrl('/cancel'), {});
      setStatus(r.was_running ? 'Cancelling propagation…' : 'Nothing was running.', 'info');
      if (!r.was_running) setPropagating(false);
    } catch (err) {
      setStatus('Cancel failed: ' + errorText(err), 'error');
    }
  }

  // ---------------------------------------------------------------- playback
  function stopPlay() {
    if (!state.playing) return;
    state.playing = false;
    state.playToken++;
    el.play.textContent = 'Play';
    el.play.setAttribute('aria-pressed', 'false');
  }

  async function togglePlay() {
    if (!requireMedia()) return;
    if (state.media.kind !== 'video') return;
    if (state.playing) { stopPlay(); return; }
    state.playing = true;
    const token = ++state.playToken;
    el.play.textContent = 'Pause';
    el.play.setAttribute('aria-pressed', 'true');
    const media = state.media;
    if (state.frame >= media.frames - 1) await showFrame(0);
    const interval = 1000 / (media.fps || 10);
    while (state.playing && token === state.playToken && media === state.media) {
      const t0 = performance.now();
      const next = state.frame + 1;
      if (next >= media.frames) break;
      const ok = await showFrame(next);
      if (!ok && token === state.playToken) break;
      const wait = interval - (performance.now() - t0);
      if (wait > 0) await sleep(wait);
    }
    if (token === state.playToken) stopPlay();
  }

  // ---------------------------------------------------------------- canvas input
  function toImage(ev) {
    const r = el.canvas.getBoundingClientRect();
    const sx = el.canvas.width / (r.width || 1), sy = el.canvas.height / (r.height || 1);
    let x = (ev.clientX - r.left) * sx, y = (ev.clientY - r.top) * sy;
    x = Math.max(0, Math.min(el.canvas.width - 1, x));
    y = Math.max(0, Math.min(el.canvas.height - 1, y));
    return { x: Math.round(x * 10) / 10, y: Math.round(y * 10) / 10 };
  }

  function normBox(x0, y0, x1, y1) {
    return [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)];
  }

  el.canvas.addEventListener('contextmenu', (ev) => ev.preventDefault());

  el.canvas.addEventListener('pointerdown', (ev) => {
    if (ev.button !== 0 && ev.button !== 2) return;
    ev.preventDefault();
    el.canvas.focus({ preventScroll: true });
    const p = toImage(ev);
    state.drag = { x0: p.x, y0: p.y, sx0: ev.clientX, sy0: ev.clientY, x: p.x, y: p.y, button: ev.button, shift: ev.shiftKey, moved: false, pointerId: ev.pointerId };
    try { el.canvas.setPointerCapture(ev.pointerId); } catch (_) { /* ignore */ }
  });

  el.canvas.addEventListener('pointermove', (ev) => {
    const d = state.drag;
    if (d && d.pointerId === ev.pointerId) {
      const p = toImage(ev);
      d.x = p.x; d.y = p.y;
      if (Math.hypot(ev.clientX - d.sx0, ev.clientY - d.sy0) > 5) d.moved = true;
      if (d.moved) render();
      hideHover();
      return;
    }
    updateHover(ev);
  });

  el.canvas.addEventListener('pointerup', (ev) => {
    const d = state.drag;
    if (!d || d.pointerId !== ev.pointerId) return;
    state.drag = null;
    try { el.canvas.releasePointerCapture(ev.pointerId); } catch (_) { /* ignore */ }
    if (!requireMedia() || !state.bitmap) { render(); return; }
    if (!can('clicks')) { setStatus(state.unavailable.clicks, 'error'); render(); return; }
    stopPlay();
    const p = toImage(ev);
    if (d.moved && d.button === 0) {
      const b = normBox(d.x0, d.y0, p.x, p.y);
      if (b[2] - b[0] < 2 || b[3] - b[1] < 2) { render(); return; }
      state.box = b;
    } else {
      const positive = d.button === 0 && !d.shift && !ev.shiftKey;
      state.clicks.push({ x: d.x0, y: d.y0, positive });
    }
    render();
    segmentClicks();
  });

  el.canvas.addEventListener('pointercancel', () => { state.drag = null; render(); });
  el.canvas.addEventListener('pointerleave', () => { if (!state.drag) hideHover(); });

  el.canvas.addEventListener('keydown', (ev) => {
    if (!state.media || state.media.kind !== 'video') return;
    if (ev.key === 'ArrowLeft' || ev.key === 'ArrowRight') {
      ev.preventDefault();
      stopPlay();
      showFrame(state.frame + (ev.key === 'ArrowRight' ? 1 : -1));
    }
  });

  function hideHover() { el.hover.hidden = true; }

  function updateHover(ev) {
    if (!state.bitmap || !state.objects.length) { hideHover(); return; }
    const p = toImage(ev);
    const W = el.canvas.width;
    const idx = Math.floor(p.y) * W + Math.floor(p.x);
    let hit = null;
    for (let i = state.objects.length - 1; i >= 0; i--) {
      const o = state.objects[i];
      if (state.hidden.has(o.id) || !o._mask) continue;
      if (o._mask.data[idx]) { hit = o; break; }
    }
    if (!hit) { hideHover(); return; }
    el.hover.textContent = describe(hit);
    el.hover.hidden = false;
    const sr = el.stage.getBoundingClientRect();
    let left = ev.clientX - sr.left + 14;
    let top = ev.clientY - sr.top + 14;
    const w = el.hover.offsetWidth, h = el.hover.offsetHeight;
    if (left + w > sr.width) left = Math.max(0, ev.clientX - sr.left - w - 10);
    if (top + h > sr.height) top = Math.max(0, ev.clientY - sr.top - h - 10);
    el.hover.style.left = left + 'px';
    el.hover.style.top = top + 'px';
  }

  // ---------------------------------------------------------------- drag & drop
  ['dragenter', 'dragover'].forEach((t) => el.stage.addEventListener(t, (ev) => {
    ev.preventDefault();
    if (ev.dataTransfer) ev.dataTransfer.dropEffect = 'copy';
    el.stage.classList.add('dragover');
  }));
  el.stage.addEventListener('dragleave', (ev) => {
    if (!el.stage.contains(ev.relatedTarget)) el.stage.classList.remove('dragover');
  });
  el.stage.addEventListener('drop', (ev) => {
    ev.preventDefault();
    el.stage.classList.remove('dragover');
    const f = ev.dataTransfer && ev.dataTransfer.files && ev.dataTransfer.files[0];
    if (f) upload(f); else setStatus('Drop a file (image or video).', 'error');
  });
  // Avoid the browser navigating away when a file is dropped outside the stage.
  window.addEventListener('dragover', (ev) => ev.preventDefault());
  window.addEventListener('drop', (ev) => ev.preventDefault());

  // ---------------------------------------------------------------- controls
  el.file.addEventListener('change', () => {
    const f = el.file.files && el.file.files[0];
    if (f) upload(f);
    el.file.value = '';
  });
  el.form.addEventListener('submit', (ev) => { ev.preventDefault(); find(); });
  el.clear.addEventListener('click', () => {
    state.clicks = []; state.box = null;
    if (state.lastRequest && state.lastRequest.kind === 'clicks') state.lastRequest = null;
    render();
    setStatus('Clicks cleared.');
  });
  el.newObject.addEventListener('click', () => {
    state.clicks = []; state.box = null;
    state.editObjId = null;
    if (state.lastRequest && state.lastRequest.kind === 'clicks') state.lastRequest = null;
    updateEditInfo(); renderObjectList(); render();
    setStatus('Click or drag on the canvas to add a new object.');
  });
  el.threshold.addEventListener('input', onParamChange);
  el.fineness.addEventListener('input', onParamChange);
  el.frame.addEventListener('input', () => { stopPlay(); showFrame(Number(el.frame.value)); });
  el.play.addEventListener('click', togglePlay);
  el.propagate.addEventListener('click', propagate);
  el.cancel.addEventListener('click', cancelPropagation);
  window.addEventListener('resize', () => render());
  // leaving the page closes its upload on the server (keepalive lets the request outlive the page)
  window.addEventListener('pagehide', () => {
    if (state.media) fetch('/api/media/' + encodeURIComponent(state.media.id), { method: 'DELETE', keepalive: true }).catch(() => {});
  });

  // ---------------------------------------------------------------- start
  el.play.setAttribute('aria-pressed', 'false');
  onParamChange();
  updateExports();
  render();
  pollInfo();
})();
