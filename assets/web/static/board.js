// The meeting's whiteboard on the customer's page (#board): a canvas the
// participants draw on together, kept in step with the relay over the
// call's signalling connection (docs/whiteboard.md).
//
// The board follows the relay's five replica rules: a stroke, shape or
// text is added on its page in seq order; erase, clear, undo and redo
// hide the ids in `hide` and add the objects in `show`; a background sets
// the page everyone sees; pointers are shown briefly and not kept. Own
// strokes, shapes and texts are drawn at once and confirmed (or taken
// back) when the relay answers.
//
// Coordinates are fractions of the page (16:9); widths and text sizes are
// fractions of the page's width, so every screen agrees. Nothing is stored
// in the browser.
(function () {
  'use strict';

  var TEXTS = {
    en: {
      boardToggle: 'Whiteboard',
      boardHeading: 'Whiteboard',
      boardTools: 'Whiteboard tools',
      boardCanvas: 'Shared whiteboard. Draw with the mouse, a finger or a pen.',
      toolPen: 'Pen',
      toolHighlighter: 'Highlighter',
      toolRect: 'Rectangle',
      toolEllipse: 'Ellipse',
      toolLine: 'Line',
      toolArrow: 'Arrow',
      toolText: 'Text',
      toolEraser: 'Eraser (removes what you click)',
      boardUndo: 'Undo (Ctrl+Z)',
      boardRedo: 'Redo (Ctrl+Y)',
      boardClear: 'Clear page',
      boardColors: 'Colours',
      colorBlack: 'Black', colorBlue: 'Blue', colorRed: 'Red', colorGreen: 'Green', colorOrange: 'Orange', colorYellow: 'Yellow', colorPurple: 'Purple',
      boardPage: function (p) { return 'Page ' + p.page; },
      boardDocPage: function (p) { return 'Document page ' + p.page + ' of ' + p.pages; },
      boardDocPlaceholder: function (p) { return 'Document shown by your advisor \u2013 page ' + p.page + ' of ' + p.pages; },
      boardTextLabel: 'Text for the whiteboard (Enter to place it, Escape to cancel)',
      boardRate: 'You are drawing too fast. Please wait a moment.',
      boardFull: 'The whiteboard is full.',
      boardRefused: 'The whiteboard did not accept that.',
      boardUnavailable: 'The whiteboard is not available right now.'
    },
    de: {
      boardToggle: 'Whiteboard',
      boardHeading: 'Whiteboard',
      boardTools: 'Whiteboard-Werkzeuge',
      boardCanvas: 'Gemeinsames Whiteboard. Zeichnen Sie mit Maus, Finger oder Stift.',
      toolPen: 'Stift',
      toolHighlighter: 'Textmarker',
      toolRect: 'Rechteck',
      toolEllipse: 'Ellipse',
      toolLine: 'Linie',
      toolArrow: 'Pfeil',
      toolText: 'Text',
      toolEraser: 'Radierer (entfernt, was Sie anklicken)',
      boardUndo: 'Rückgängig (Strg+Z)',
      boardRedo: 'Wiederholen (Strg+Y)',
      boardClear: 'Seite leeren',
      boardColors: 'Farben',
      colorBlack: 'Schwarz', colorBlue: 'Blau', colorRed: 'Rot', colorGreen: 'Grün', colorOrange: 'Orange', colorYellow: 'Gelb', colorPurple: 'Lila',
      boardPage: function (p) { return 'Seite ' + p.page; },
      boardDocPage: function (p) { return 'Dokumentseite ' + p.page + ' von ' + p.pages; },
      boardDocPlaceholder: function (p) { return 'Dokument Ihres Beraters \u2013 Seite ' + p.page + ' von ' + p.pages; },
      boardTextLabel: 'Text für das Whiteboard (Eingabe zum Platzieren, Escape zum Abbrechen)',
      boardRate: 'Sie zeichnen zu schnell. Bitte warten Sie einen Moment.',
      boardFull: 'Das Whiteboard ist voll.',
      boardRefused: 'Das Whiteboard hat das nicht angenommen.',
      boardUnavailable: 'Das Whiteboard ist gerade nicht verfügbar.'
    }
  };

  // The relay's limits (relay/whiteboard), mirrored.
  var MAX_POINTS = 2000;
  var MAX_TEXT = 1000;
  var WIDTH = { pen: 0.004, highlighter: 0.02, shape: 0.003 };
  var TEXT_SIZE = 0.03;
  var HIGHLIGHTER_ALPHA = 0.35;
  var POINTER_MS = 80;     // at most one pointer op per this many ms
  var POINTER_SHOW_MS = 2500;
  var ASPECT = 16 / 9;     // the page's width / height
  var SHAPES = { rect: 1, ellipse: 1, line: 1, arrow: 1 };

  function newID() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ('0' + x.toString(16)).slice(-2); }).join('');
  }

  function round(v) { return Math.round(Math.min(Math.max(v, 0), 1) * 10000) / 10000; }

  function pageKey(doc, page) { return (doc || '') + '|' + page; }

  // create builds the board. env gives it:
  //   t(key, params)   the page's texts
  //   send(m)          sends a signalling message; false when offline
  //   resync()         starts the signalling afresh (the relay then sends
  //                    the missing ops or the whole board)
  //   participantId()  this participant's id (the author of own ops)
  //   secret()         the participant secret (pmp_…) for the page images
  //                    of a presented document; without it the board
  //                    shows a label instead
  function create(env) {
    var $ = function (id) { return document.getElementById(id); };
    var el = {
      section: $('board'), toggle: $('btn-board'), canvas: $('board-canvas'), surface: $('board-surface'),
      page: $('board-page'), error: $('board-error'), text: $('board-text'),
      undo: $('board-undo'), redo: $('board-redo'), clear: $('board-clear')
    };
    if (!el.section || !el.canvas) return null;
    var ctx2d = el.canvas.getContext('2d');

    var model = {
      seq: 0, epoch: '',
      bg: { doc: '', page: 1, pages: 0 },
      pages: {},     // page key -> [op] in seq order
      where: {},     // object id -> page key
      pending: [],   // own ops sent, not confirmed: [{op}]
      pointers: {}   // author -> {x, y, key, at}
    };
    var ui = { open: false, tool: 'pen', color: '#1f4e79', errorKey: '', activity: false };
    var drawing = null; // the object being drawn: {op, pointerId}
    var lastPointer = 0;

    // ---- the model ----

    function insert(o) {
      var key = pageKey(o.doc, o.page);
      var list = model.pages[key] || (model.pages[key] = []);
      var i = list.length;
      while (i > 0 && list[i - 1].seq > o.seq) i--;
      list.splice(i, 0, o);
      model.where[o.id] = key;
      dropPending(o.id);
    }

    function remove(id) {
      var key = model.where[id];
      if (key === undefined) return;
      delete model.where[id];
      var list = model.pages[key] || [];
      for (var i = 0; i < list.length; i++) {
        if (list[i].id === id) { list.splice(i, 1); break; }
      }
      if (list.length === 0) delete model.pages[key];
    }

    function dropPending(id) {
      for (var i = 0; i < model.pending.length; i++) {
        if (model.pending[i].id === id) { model.pending.splice(i, 1); return true; }
      }
      return false;
    }

    // onState replaces the model with the relay's state.
    function onState(st, epoch) {
      if (!st || typeof st !== 'object') return;
      model.seq = st.seq || 0;
      model.epoch = epoch || '';
      var bg = st.background || {};
      model.bg = { doc: bg.doc || '', page: bg.page || 1, pages: bg.pages || 0 };
      model.pages = {};
      model.where = {};
      (st.pages || []).forEach(function (p) {
        (p.objects || []).forEach(insert);
      });
      activity();
      draw();
      renderPage();
    }

    // onOp applies an accepted op from the relay.
    function onOp(o) {
      if (!o || typeof o !== 'object') return;
      if (!o.seq) {
        if (o.kind === 'pointer' && o.points && o.author !== env.participantId()) {
          model.pointers[o.author] = { x: o.points[0], y: o.points[1], key: pageKey(o.doc, o.page), at: Date.now() };
          draw();
          setTimeout(draw, POINTER_SHOW_MS + 50);
        }
        return;
      }
      if (o.seq <= model.seq) {
        // Seen already (a resend's answer): only confirm our own.
        if (o.id && dropPending(o.id)) draw();
        return;
      }
      if (o.seq !== model.seq + 1) {
        env.resync();
        return;
      }
      model.seq = o.seq;
      switch (o.kind) {
        case 'stroke': case 'shape': case 'text':
          if (model.where[o.id] === undefined) insert(o); else dropPending(o.id);
          break;
        case 'background':
          model.bg = { doc: o.doc || '', page: o.page || 1, pages: o.doc ? (o.pages || 0) : 0 };
          renderPage();
          break;
        default:
          (o.hide || []).forEach(remove);
          (o.show || []).forEach(function (s) { if (model.where[s.id] === undefined) insert(s); });
      }
      if (o.author !== env.participantId()) activity();
      draw();
    }

    // onError handles the relay's board_* errors.
    function onError(m) {
      if (m.ref) { dropPending(m.ref); draw(); }
      var key = '';
      switch (m.code) {
        case 'board_nothing_to_undo': case 'board_nothing_to_redo': case 'board_no_change': break;
        case 'board_rate': key = 'boardRate'; break;
        case 'board_full': case 'board_page_full': key = 'boardFull'; break;
        case 'board_unavailable': key = 'boardUnavailable'; break;
        default: key = 'boardRefused';
      }
      showError(key);
    }

    // hello is what the relay needs to resume.
    function hello() {
      return model.epoch ? { board_since: model.seq, board_epoch: model.epoch } : {};
    }

    // connected resends the ops the relay has not confirmed (it answers a
    // resend with the op it accepted first).
    function connected() {
      model.pending.forEach(function (o) { env.send({ type: 'board', board: o }); });
    }

    function reset() {
      model.seq = 0; model.epoch = ''; model.pages = {}; model.where = {}; model.pending = []; model.pointers = {};
      model.bg = { doc: '', page: 1, pages: 0 };
      drawing = null;
      setOpen(false);
      draw();
    }

    // ---- sending ----

    function current() { return { doc: model.bg.doc, page: model.bg.page }; }

    function withPage(o) {
      var p = current();
      if (p.doc) o.doc = p.doc;
      o.page = p.page;
      return o;
    }

    function sendOp(o, optimistic) {
      if (optimistic) {
        model.pending.push(o);
        draw();
      }
      if (!env.send({ type: 'board', board: o }) && !optimistic) showError('boardUnavailable');
    }

    function sendPointer(x, y) {
      var now = Date.now();
      if (now - lastPointer < POINTER_MS) return;
      lastPointer = now;
      env.send({ type: 'board', board: withPage({ kind: 'pointer', points: [round(x), round(y)] }) });
    }

    function undo() { showError(''); sendOp({ kind: 'undo' }, false); }
    function redo() { showError(''); sendOp({ kind: 'redo' }, false); }
    function clearPage() {
      var list = model.pages[pageKey(model.bg.doc, model.bg.page)];
      if (!list || list.length === 0) return;
      showError('');
      sendOp(withPage({ kind: 'clear' }), false);
    }

    // ---- pointer input ----

    function pos(ev) {
      var r = el.canvas.getBoundingClientRect();
      return { x: (ev.clientX - r.left) / r.width, y: (ev.clientY - r.top) / r.height, p: ev.pointerType === 'pen' ? ev.pressure : -1 };
    }

    function onDown(ev) {
      if (ev.button !== 0 && ev.pointerType === 'mouse') return;
      if (!el.text.hidden) commitText();
      var q = pos(ev);
      var tool = ui.tool;
      if (tool === 'eraser') { eraseAt(q.x, q.y); ev.preventDefault(); return; }
      if (tool === 'text') { startText(q.x, q.y); ev.preventDefault(); return; }
      ev.preventDefault();
      try { el.canvas.setPointerCapture(ev.pointerId); } catch (e) { /* synthetic */ }
      showError('');
      var o;
      if (tool === 'pen' || tool === 'highlighter') {
        o = withPage({ kind: 'stroke', id: newID(), tool: tool, color: ui.color, width: WIDTH[tool], points: [round(q.x), round(q.y)] });
        if (q.p >= 0) o.pressure = [round(q.p)];
      } else {
        o = withPage({ kind: 'shape', id: newID(), shape: tool, color: ui.color, width: WIDTH.shape, points: [round(q.x), round(q.y), round(q.x), round(q.y)] });
      }
      drawing = { op: o, pointerId: ev.pointerId };
      draw();
    }

    function onMove(ev) {
      var q = pos(ev);
      if (!drawing || drawing.pointerId !== ev.pointerId) {
        if (ui.open && q.x >= 0 && q.x <= 1 && q.y >= 0 && q.y <= 1 && ev.pointerType !== 'touch') sendPointer(q.x, q.y);
        return;
      }
      ev.preventDefault();
      var o = drawing.op;
      if (o.kind === 'shape') {
        o.points[2] = round(q.x);
        o.points[3] = round(q.y);
      } else {
        var events = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [];
        if (!events || events.length === 0) events = [ev];
        events.forEach(function (ce) { addPoint(o, pos(ce)); });
      }
      sendPointer(q.x, q.y);
      draw();
    }

    function addPoint(o, q) {
      var n = o.points.length;
      var x = round(q.x), y = round(q.y);
      if (Math.abs(o.points[n - 2] - x) < 0.0005 && Math.abs(o.points[n - 1] - y) < 0.0005) return;
      if (n / 2 >= MAX_POINTS) {
        // A long stroke goes out in parts of at most MAX_POINTS points.
        finish();
        var next = withPage({ kind: 'stroke', id: newID(), tool: o.tool, color: o.color, width: o.width, points: [o.points[n - 2], o.points[n - 1]] });
        if (o.pressure) next.pressure = [o.pressure[o.pressure.length - 1]];
        drawing = { op: next, pointerId: drawing.pointerId };
        o = next;
      }
      o.points.push(x, y);
      if (o.pressure) o.pressure.push(round(q.p >= 0 ? q.p : 0.5));
    }

    function finish() {
      if (!drawing) return;
      var o = drawing.op;
      drawing = null;
      if (o.kind === 'shape' && o.points[0] === o.points[2] && o.points[1] === o.points[3]) { draw(); return; }
      sendOp(o, true);
    }

    function onUp(ev) {
      if (!drawing || drawing.pointerId !== ev.pointerId) return;
      finish();
    }

    function onCancel(ev) {
      if (!drawing || drawing.pointerId !== ev.pointerId) return;
      drawing = null;
      draw();
    }

    // eraseAt removes the topmost object under the point.
    function eraseAt(x, y) {
      var list = (model.pages[pageKey(model.bg.doc, model.bg.page)] || []);
      var tol = 0.012;
      for (var i = list.length - 1; i >= 0; i--) {
        if (hit(list[i], x, y, tol)) {
          showError('');
          sendOp({ kind: 'erase', ids: [list[i].id] }, false);
          return;
        }
      }
    }

    function segDist(px, py, ax, ay, bx, by) {
      // In page-width units: y scaled by the page's height.
      ay /= ASPECT; by /= ASPECT; py /= ASPECT;
      var dx = bx - ax, dy = by - ay;
      var l2 = dx * dx + dy * dy;
      var t = l2 > 0 ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / l2)) : 0;
      var cx = ax + t * dx - px, cy = ay + t * dy - py;
      return Math.sqrt(cx * cx + cy * cy);
    }

    function hit(o, x, y, tol) {
      var p = o.points || [];
      var reach = tol + (o.width || 0) / 2;
      if (o.kind === 'stroke') {
        if (p.length === 2) return segDist(x, y, p[0], p[1], p[0], p[1]) <= reach;
        for (var i = 0; i + 3 < p.length; i += 2) {
          if (segDist(x, y, p[i], p[i + 1], p[i + 2], p[i + 3]) <= reach) return true;
        }
        return false;
      }
      if (o.kind === 'shape') {
        var x1 = p[0], y1 = p[1], x2 = p[2], y2 = p[3];
        if (o.shape === 'line' || o.shape === 'arrow') return segDist(x, y, x1, y1, x2, y2) <= reach;
        if (o.shape === 'rect') {
          return segDist(x, y, x1, y1, x2, y1) <= reach || segDist(x, y, x2, y1, x2, y2) <= reach ||
            segDist(x, y, x2, y2, x1, y2) <= reach || segDist(x, y, x1, y2, x1, y1) <= reach;
        }
        var cx = (x1 + x2) / 2, cy = (y1 + y2) / 2, rx = Math.abs(x2 - x1) / 2, ry = Math.abs(y2 - y1) / 2;
        if (rx === 0 || ry === 0) return false;
        var d = Math.sqrt(Math.pow((x - cx) / rx, 2) + Math.pow((y - cy) / ry, 2));
        return Math.abs(d - 1) * Math.min(rx, ry) <= reach;
      }
      if (o.kind === 'text') {
        var lines = String(o.text || '').split('\n');
        var w = 0;
        lines.forEach(function (l) { w = Math.max(w, l.length * o.size * 0.6); });
        var h = lines.length * o.size * 1.2 * ASPECT;
        return x >= p[0] - tol && x <= p[0] + w + tol && y >= p[1] - tol && y <= p[1] + h + tol;
      }
      return false;
    }

    // ---- text ----

    function startText(x, y) {
      el.text.hidden = false;
      el.text.value = '';
      el.text.dataset.x = String(x);
      el.text.dataset.y = String(y);
      el.text.style.left = (x * 100) + '%';
      el.text.style.top = (y * 100) + '%';
      el.text.focus();
    }

    function commitText() {
      var s = el.text.value.replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, '').trim();
      el.text.hidden = true;
      if (!s) return;
      s = Array.from(s).slice(0, MAX_TEXT).join('');
      sendOp(withPage({ kind: 'text', id: newID(), color: ui.color, size: TEXT_SIZE,
        points: [round(Number(el.text.dataset.x)), round(Number(el.text.dataset.y))], text: s }), true);
    }

    el.text.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter') { ev.preventDefault(); commitText(); el.canvas.focus(); }
      if (ev.key === 'Escape') { ev.preventDefault(); el.text.hidden = true; el.canvas.focus(); }
    });
    el.text.addEventListener('blur', function () { if (!el.text.hidden) commitText(); });

    // ---- drawing ----

    function size() {
      var r = el.canvas.getBoundingClientRect();
      var dpr = window.devicePixelRatio || 1;
      var w = Math.max(1, Math.round(r.width * dpr)), h = Math.max(1, Math.round(r.height * dpr));
      if (el.canvas.width !== w || el.canvas.height !== h) {
        el.canvas.width = w;
        el.canvas.height = h;
      }
      return { w: w, h: h };
    }

    function draw() {
      if (!ui.open) return;
      var s = size();
      var c = ctx2d;
      c.setTransform(1, 0, 0, 1, 0, 0);
      c.globalAlpha = 1;
      c.fillStyle = '#ffffff';
      c.fillRect(0, 0, s.w, s.h);
      var bgImg = model.bg.doc ? backgroundImage(model.bg.doc, model.bg.page, s.w) : null;
      if (bgImg && bgImg.state === 'ok') {
        // The page image fills the board, as whiteboard.Render draws it
        // for the desktop and the archive: coordinates agree everywhere.
        c.imageSmoothingQuality = 'high';
        c.drawImage(bgImg.img, 0, 0, s.w, s.h);
        el.canvas.dataset.background = 'image';
      } else if (model.bg.doc) {
        // While the page image loads, or if it cannot be had, a label
        // stands in for the document's page.
        el.canvas.dataset.background = bgImg ? bgImg.state : 'label';
        c.fillStyle = '#8a99a3';
        c.font = Math.round(s.w * 0.022) + 'px system-ui, sans-serif';
        c.textAlign = 'center';
        c.textBaseline = 'middle';
        c.fillText(env.t('boardDocPlaceholder', { page: model.bg.page, pages: model.bg.pages }), s.w / 2, s.h / 2);
        c.textAlign = 'start';
      } else {
        delete el.canvas.dataset.background;
      }
      var key = pageKey(model.bg.doc, model.bg.page);
      (model.pages[key] || []).forEach(function (o) { drawObject(c, o, s); });
      model.pending.forEach(function (o) { if (pageKey(o.doc, o.page) === key) drawObject(c, o, s); });
      if (drawing) drawObject(c, drawing.op, s);
      var now = Date.now();
      Object.keys(model.pointers).forEach(function (a) {
        var p = model.pointers[a];
        if (now - p.at > POINTER_SHOW_MS) { delete model.pointers[a]; return; }
        if (p.key !== key) return;
        c.globalAlpha = 0.8;
        c.fillStyle = '#d0342c';
        c.beginPath();
        c.arc(p.x * s.w, p.y * s.h, Math.max(4, s.w * 0.006), 0, 2 * Math.PI);
        c.fill();
        c.globalAlpha = 1;
      });
    }

    // ---- page images of a presented document (docs/pdfrender.md) ----

    // The relay renders a page of a PDF or image shared in the meeting
    // (GET /api/v1/participant/files/{doc}/pages/{n}). Images are asked
    // for in widths of 400 px steps, kept as ImageBitmaps in memory only
    // (at most MAX_BG of them), and the next page is fetched ahead.
    var MAX_BG = 8;
    var BG_RETRY_MS = 10000;
    var bgCache = {};   // doc|page|width -> {state: loading|ok|error, img, at}
    var bgOrder = [];   // keys, oldest first

    function bgWidth(w) { return Math.max(400, Math.min(2000, Math.ceil(w / 400) * 400)); }

    function backgroundImage(doc, page, w) {
      var e = fetchPage(doc, page, bgWidth(w));
      if (e.state === 'ok' && page < model.bg.pages) fetchPage(doc, page + 1, bgWidth(w));
      return e;
    }

    function fetchPage(doc, page, width) {
      var key = doc + '|' + page + '|' + width;
      var e = bgCache[key];
      if (e && !(e.state === 'error' && Date.now() - e.at > BG_RETRY_MS)) return e;
      e = bgCache[key] = { state: 'loading', img: null, at: Date.now() };
      bgOrder = bgOrder.filter(function (k) { return k !== key; });
      bgOrder.push(key);
      while (bgOrder.length > MAX_BG) {
        var old = bgCache[bgOrder[0]];
        if (old && old.img && old.img.close) old.img.close();
        delete bgCache[bgOrder.shift()];
      }
      var secret = env.secret ? env.secret() : '';
      if (!secret || !window.fetch || !window.createImageBitmap) {
        e.state = 'error';
        return e;
      }
      fetch('/api/v1/participant/files/' + encodeURIComponent(doc) + '/pages/' + page + '?width=' + width,
        { headers: { 'Authorization': 'Bearer ' + secret } }).then(function (res) {
        if (!res.ok) throw new Error('page ' + res.status);
        return res.blob();
      }).then(function (b) {
        return createImageBitmap(b);
      }).then(function (bmp) {
        if (bgCache[key] !== e) { if (bmp.close) bmp.close(); return; }
        e.state = 'ok';
        e.img = bmp;
        draw();
      }).catch(function () {
        e.state = 'error';
        e.at = Date.now();
        draw();
      });
      return e;
    }

    function drawObject(c, o, s) {
      var p = o.points || [];
      c.strokeStyle = o.color || '#000000';
      c.fillStyle = o.color || '#000000';
      c.lineCap = 'round';
      c.lineJoin = 'round';
      var lw = (o.width || 0.003) * s.w;
      if (o.kind === 'stroke') {
        if (o.tool === 'highlighter' || !o.pressure) {
          // One path: a highlighter does not darken where it crosses itself.
          c.globalAlpha = o.tool === 'highlighter' ? HIGHLIGHTER_ALPHA : 1;
          c.lineWidth = lw;
          c.beginPath();
          c.moveTo(p[0] * s.w, p[1] * s.h);
          if (p.length === 2) c.lineTo(p[0] * s.w + 0.01, p[1] * s.h);
          for (var i = 2; i + 1 < p.length; i += 2) c.lineTo(p[i] * s.w, p[i + 1] * s.h);
          c.stroke();
          c.globalAlpha = 1;
          return;
        }
        // Pressure scales each segment's width from 25 % to 100 %.
        for (var j = 0; j + 1 < p.length; j += 2) {
          var k = Math.max(j - 2, 0);
          c.lineWidth = lw * (0.25 + 0.75 * (o.pressure[j / 2] || 0));
          c.beginPath();
          c.moveTo(p[k] * s.w, p[k + 1] * s.h);
          c.lineTo(p[j] * s.w + (j === k ? 0.01 : 0), p[j + 1] * s.h);
          c.stroke();
        }
        return;
      }
      if (o.kind === 'shape') {
        var x1 = p[0] * s.w, y1 = p[1] * s.h, x2 = p[2] * s.w, y2 = p[3] * s.h;
        c.lineWidth = lw;
        c.beginPath();
        if (o.shape === 'rect') {
          c.rect(Math.min(x1, x2), Math.min(y1, y2), Math.abs(x2 - x1), Math.abs(y2 - y1));
        } else if (o.shape === 'ellipse') {
          c.ellipse((x1 + x2) / 2, (y1 + y2) / 2, Math.abs(x2 - x1) / 2, Math.abs(y2 - y1) / 2, 0, 0, 2 * Math.PI);
        } else {
          c.moveTo(x1, y1);
          c.lineTo(x2, y2);
          if (o.shape === 'arrow') {
            var a = Math.atan2(y2 - y1, x2 - x1), head = Math.max(lw * 4, s.w * 0.015);
            c.moveTo(x2, y2);
            c.lineTo(x2 - head * Math.cos(a - 0.45), y2 - head * Math.sin(a - 0.45));
            c.moveTo(x2, y2);
            c.lineTo(x2 - head * Math.cos(a + 0.45), y2 - head * Math.sin(a + 0.45));
          }
        }
        c.stroke();
        return;
      }
      if (o.kind === 'text') {
        var px = (o.size || TEXT_SIZE) * s.w;
        c.font = px + 'px system-ui, sans-serif';
        c.textBaseline = 'top';
        String(o.text || '').split('\n').forEach(function (line, n) {
          c.fillText(line, p[0] * s.w, p[1] * s.h + n * px * 1.2);
        });
      }
    }

    // ---- the view ----

    function setOpen(open) {
      ui.open = open;
      el.section.hidden = !open;
      el.toggle.setAttribute('aria-pressed', String(open));
      if (open) { ui.activity = false; el.toggle.removeAttribute('data-activity'); }
      if (!open) el.text.hidden = true;
      draw();
    }

    function activity() {
      if (ui.open) return;
      ui.activity = true;
      el.toggle.dataset.activity = 'true';
    }

    function renderPage() {
      var text = model.bg.doc ? env.t('boardDocPage', { page: model.bg.page, pages: model.bg.pages }) : env.t('boardPage', { page: model.bg.page });
      if (el.page.textContent !== text) el.page.textContent = text;
    }

    function showError(key) {
      ui.errorKey = key;
      el.error.textContent = key ? env.t(key) : '';
      el.error.hidden = !key;
    }

    function selectTool(tool) {
      ui.tool = tool;
      el.section.querySelectorAll('[data-tool]').forEach(function (b) { b.setAttribute('aria-pressed', String(b.dataset.tool === tool)); });
      el.canvas.dataset.tool = tool;
    }

    function selectColor(color) {
      ui.color = color;
      el.section.querySelectorAll('[data-color]').forEach(function (b) { b.setAttribute('aria-pressed', String(b.dataset.color === color)); });
    }

    function render() {
      renderPage();
      el.canvas.setAttribute('aria-label', env.t('boardCanvas'));
      el.section.querySelectorAll('.board-btn[data-ta], .board-swatch').forEach(function (b) { b.title = env.t(b.dataset.ta); });
      showError(ui.errorKey);
      draw();
    }

    // ---- wiring ----

    el.toggle.addEventListener('click', function () { setOpen(!ui.open); });
    el.section.querySelectorAll('[data-tool]').forEach(function (b) {
      b.addEventListener('click', function () { selectTool(b.dataset.tool); });
    });
    el.section.querySelectorAll('[data-color]').forEach(function (b) {
      b.style.setProperty('--swatch', b.dataset.color);
      b.addEventListener('click', function () { selectColor(b.dataset.color); });
    });
    el.undo.addEventListener('click', undo);
    el.redo.addEventListener('click', redo);
    el.clear.addEventListener('click', clearPage);
    el.canvas.addEventListener('pointerdown', onDown);
    el.canvas.addEventListener('pointermove', onMove);
    el.canvas.addEventListener('pointerup', onUp);
    el.canvas.addEventListener('pointercancel', onCancel);
    el.canvas.addEventListener('lostpointercapture', onUp);
    document.addEventListener('keydown', function (ev) {
      if (!ui.open || !(ev.ctrlKey || ev.metaKey) || ev.altKey) return;
      var tg = ev.target;
      if (tg && (tg.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(tg.tagName))) return;
      var k = ev.key.toLowerCase();
      if (k === 'z' && !ev.shiftKey) { ev.preventDefault(); undo(); } else if (k === 'y' || (k === 'z' && ev.shiftKey)) { ev.preventDefault(); redo(); }
    });
    if (window.ResizeObserver) new ResizeObserver(function () { draw(); }).observe(el.surface);
    selectTool('pen');
    selectColor('#1f4e79');

    var api = {
      onState: onState, onOp: onOp, onError: onError, hello: hello, connected: connected,
      reset: reset, render: render
    };
    if (window.parleyTestHooks) {
      // Only when a test asked for them before the page loaded: the
      // visible objects of the page shown, and what is still pending.
      api.test = {
        objects: function () {
          return (model.pages[pageKey(model.bg.doc, model.bg.page)] || []).map(function (o) { return { id: o.id, kind: o.kind, author: o.author, seq: o.seq }; });
        },
        ready: function () { return model.epoch !== ''; },
        pending: function () { return model.pending.length; },
        seq: function () { return model.seq; },
        background: function () { return model.bg; },
        // backgroundImage is '' (no document), loading, ok or error.
        backgroundImage: function () {
          if (!model.bg.doc) return '';
          var s = size();
          var e = bgCache[model.bg.doc + '|' + model.bg.page + '|' + bgWidth(s.w)];
          return e ? e.state : 'loading';
        }
      };
    }
    return api;
  }

  window.ParleyBoard = { TEXTS: TEXTS, create: create };
})();
