// The customer's signing page (/s/{token}, the link from the invitation
// mail; docs/signing.md). Steps: ask for a one-time code by SMS, enter it,
// read the document (page images the relay renders, fetched with the
// session and shown from blob: URLs, lazily as they scroll into view, with
// the signer's fields outlined on them; the PDF itself can be downloaded),
// fill the signer's text fields, sign on a canvas and submit the Pointer
// Events JSON of signpad/browser (docs/signpad.md).
//
// The link token is a secret: right after loading, the page moves it from
// the address bar into sessionStorage (this tab only) and shows /s/sign
// instead. The session from the verified code stays in memory only (no
// cookie, no storage): a reload asks for a new code. In a meeting or at a
// kiosk the relay hands the page a session in the URL fragment
// (#session=pss_…): the page takes it, removes the fragment from the
// address bar at once and skips the SMS step. Every request goes to this
// relay; every text from the relay is inserted with textContent.
//
// Embedded (in the join page's overlay during a call, window.top !==
// window): the page hides its own bar (brand, language switch: the call
// page's language is handed over as #…&lang=de|en),
// keeps the link token in memory only (the tab's sessionStorage belongs
// to the call page), and tells the parent — with postMessage to its own
// origin only — {type: 'parley-sign', state: 'signed'} once the signer's
// step is done, or {type: 'parley-sign', state: 'closed', reason} when it
// cannot go on (expired, cancelled, not this signer's turn) or Escape
// asks to close.
(function () {
  'use strict';

  var TEXTS = {
    de: {
      pageTitle: 'Dokument unterschreiben – Parley',
      loadingHeading: 'Einen Moment',
      signHeading: 'Dokument unterschreiben',
      codeHeading: 'Bestätigung per SMS',
      codeIntro: 'Damit nur Sie unterschreiben können, senden wir Ihnen einen Code per SMS an Ihre hinterlegte Handynummer.',
      sendCode: 'Code per SMS senden',
      sending: 'Wird gesendet…',
      codeSent: 'Wir haben Ihnen einen Code per SMS geschickt. Er gilt 10 Minuten.',
      codeLabel: 'Code aus der SMS (6 Ziffern)',
      verify: 'Bestätigen',
      resend: 'Neuen Code senden',
      resendIn: function (p) { return 'Neuen Code senden (in ' + p.s + ' s)'; },
      codeFormat: 'Bitte geben Sie die 6 Ziffern aus der SMS ein.',
      docHeading: 'Das Dokument',
      docHint: 'Bitte lesen Sie das Dokument. Ihre Felder sind darin markiert und darunter aufgeführt.',
      docLabel: 'Das zu unterschreibende Dokument, Seite für Seite',
      openDoc: 'Dokument als PDF herunterladen',
      docLoading: 'Das Dokument wird geladen…',
      docFailed: 'Das Dokument konnte nicht geladen werden. Bitte laden Sie die Seite neu.',
      pageAlt: function (p) { return 'Seite ' + p.n + ' von ' + p.of + ' des Dokuments'; },
      pageFailed: function (p) { return 'Seite ' + p.n + ' konnte nicht geladen werden.'; },
      fieldHere: function (p) { return p.name + ' (hier ' + (p.sig ? 'unterschreiben' : 'ausfüllen') + ')'; },
      fieldsHeading: 'Ihre Felder',
      page: function (p) { return 'Seite ' + p.n; },
      sigField: 'Unterschrift',
      textField: 'Textfeld',
      padLegend: 'Ihre Unterschrift',
      padLabel: 'Unterschriftsfeld: mit Stift, Finger oder Maus unterschreiben',
      padHint: function (p) { return 'Unterschreiben Sie im Feld mit Stift, Finger oder Maus. Die Unterschrift erscheint in ' + p.n + (p.n === 1 ? ' Feld' : ' Feldern') + ' des Dokuments.'; },
      clear: 'Löschen',
      sign: 'Unterschreiben',
      signing: 'Wird unterschrieben…',
      privacy: 'Ihre Unterschrift wird mit ihrem Verlauf (Richtung, Pausen, Geschwindigkeit, Druck, Zeitstempel) verschlüsselt gespeichert; öffnen kann sie nur ein Treuhänder.',
      padEmpty: 'Bitte unterschreiben Sie im Feld.',
      padTooLong: 'Die Unterschrift ist zu lang. Bitte löschen Sie sie und unterschreiben Sie erneut.',
      textTooLong: 'Der Text ist zu lang (höchstens 500 Zeichen).',
      signedHeading: 'Unterschrieben',
      signedText: 'Vielen Dank, Sie haben unterschrieben. Sobald alle unterschrieben haben, erhalten Sie das Dokument per E-Mail.',
      waitingHeading: 'Noch nicht an der Reihe',
      waitingText: 'Vor Ihnen unterschreibt noch jemand. Sie erhalten eine E-Mail, sobald Sie an der Reihe sind.',
      completedHeading: 'Fertig unterschrieben',
      completedText: 'Alle haben unterschrieben; das Dokument ist versiegelt.',
      download: 'Unterschriebenes Dokument herunterladen',
      expiredHeading: 'Dieser Link ist abgelaufen',
      expiredText: 'Der Link war 14 Tage gültig. Bitte bitten Sie Ihre Beratung, das Dokument erneut zu senden.',
      missingHeading: 'Dieser Link funktioniert nicht',
      missingText: 'Der Link ist ungültig, oder der Vorgang wurde abgebrochen. Bitte prüfen Sie, ob Sie den ganzen Link aus der E-Mail geöffnet haben.',
      errorHeading: 'Etwas ist schiefgegangen',
      errorText: 'Die Seite konnte nicht geladen werden. Bitte versuchen Sie es gleich noch einmal.',
      progressLabel: 'Wer unterschreibt',
      roleCustomer: function (p) { return 'Unterzeichner/in ' + p.n; },
      roleAdvisor: 'Ihre Beratung',
      you: ' (Sie)',
      stateSigned: 'hat unterschrieben',
      statePending: 'ist an der Reihe',
      stateWaiting: 'wartet',
      // The relay's error codes (relay/api/signing.go), in German.
      wrong_code: 'Der Code ist falsch.',
      code_expired: 'Es gibt keinen gültigen Code: Er ist abgelaufen oder wurde zu oft falsch eingegeben. Bitte fordern Sie einen neuen an.',
      throttled: function (p) { return 'Ein neuer Code kann in ' + p.s + ' s gesendet werden.'; },
      code_limit: 'Für diesen Link können keine Codes mehr gesendet werden: Bitte bitten Sie Ihre Beratung um einen neuen Link.',
      code_required: 'Bitte bestätigen Sie zuerst den Code aus der SMS (oder erneut: die Bestätigung ist abgelaufen).',
      rate_limited: 'Zu viele Versuche. Bitte versuchen Sie es gleich noch einmal.',
      failed: 'Das hat nicht geklappt. Bitte versuchen Sie es noch einmal.'
    },
    en: {
      pageTitle: 'Sign a document – Parley',
      loadingHeading: 'One moment',
      signHeading: 'Sign the document',
      codeHeading: 'Confirmation by SMS',
      codeIntro: 'So that only you can sign, we send a code by SMS to your mobile number on file.',
      sendCode: 'Send code by SMS',
      sending: 'Sending…',
      codeSent: 'We have sent you a code by SMS. It is valid for 10 minutes.',
      codeLabel: 'Code from the SMS (6 digits)',
      verify: 'Confirm',
      resend: 'Send a new code',
      resendIn: function (p) { return 'Send a new code (in ' + p.s + ' s)'; },
      codeFormat: 'Please enter the 6 digits from the SMS.',
      docHeading: 'The document',
      docHint: 'Please read the document. Your fields are marked in it and listed below it.',
      docLabel: 'The document to sign, page by page',
      openDoc: 'Download the document as PDF',
      docLoading: 'Loading the document…',
      docFailed: 'The document could not be loaded. Please reload the page.',
      pageAlt: function (p) { return 'Page ' + p.n + ' of ' + p.of + ' of the document'; },
      pageFailed: function (p) { return 'Page ' + p.n + ' could not be loaded.'; },
      fieldHere: function (p) { return p.name + ' (' + (p.sig ? 'sign' : 'fill in') + ' here)'; },
      fieldsHeading: 'Your fields',
      page: function (p) { return 'page ' + p.n; },
      sigField: 'Signature',
      textField: 'Text field',
      padLegend: 'Your signature',
      padLabel: 'Signature field: sign with a pen, your finger or the mouse',
      padHint: function (p) { return 'Sign in the box with a pen, your finger or the mouse. The signature appears in ' + p.n + (p.n === 1 ? ' field' : ' fields') + ' of the document.'; },
      clear: 'Clear',
      sign: 'Sign',
      signing: 'Signing…',
      privacy: 'Your signature is stored encrypted with its dynamics (direction, pauses, speed, pressure, timestamps); only a trustee can open it.',
      padEmpty: 'Please sign in the box.',
      padTooLong: 'The signature is too long. Please clear it and sign again.',
      textTooLong: 'The text is too long (500 characters at most).',
      signedHeading: 'Signed',
      signedText: 'Thank you, you have signed. When everyone has signed, you receive the document by e-mail.',
      waitingHeading: 'Not your turn yet',
      waitingText: 'Someone signs before you. You receive an e-mail when it is your turn.',
      completedHeading: 'Signed by everyone',
      completedText: 'Everyone has signed; the document is sealed.',
      download: 'Download the signed document',
      expiredHeading: 'This link has expired',
      expiredText: 'The link was valid for 14 days. Please ask your advisor to send the document again.',
      missingHeading: 'This link does not work',
      missingText: 'The link is not valid, or the process was cancelled. Please check that you opened the whole link from the e-mail.',
      errorHeading: 'Something went wrong',
      errorText: 'The page could not be loaded. Please try again in a moment.',
      progressLabel: 'Who signs',
      roleCustomer: function (p) { return 'Signer ' + p.n; },
      roleAdvisor: 'Your advisor',
      you: ' (you)',
      stateSigned: 'has signed',
      statePending: 'signs now',
      stateWaiting: 'waits',
      rate_limited: 'Too many attempts. Please try again in a moment.',
      failed: 'That did not work. Please try again.'
      // Other error codes show the relay's own (English) message.
    }
  };

  var MAX_TEXT = 500;
  // Bounds that keep the JSON under the relay's 8 MiB and 10-minute caps.
  var MAX_POINTS = 40000;
  var MAX_SPAN_MS = 9 * 60 * 1000;
  var MAX_HOVER = 200;

  var TOKEN_KEY = 'parley.sign.token';
  var PLACEHOLDER = 'sign';
  var embedded = (function () {
    try { return window.top !== window; } catch (e) { return true; }
  })();
  if (embedded) { document.documentElement.classList.add('embedded'); }
  // The language the call page hands over in the fragment (embedded only).
  var handedLang = (function () {
    var m = /(?:^#|&)lang=(de|en)(?:&|$)/.exec(location.hash || '');
    return embedded && m ? m[1] : '';
  })();
  // A session handed over in the fragment (#session=pss_…, in-meeting and
  // kiosk signing) is taken into memory and removed from the address bar
  // before anything else happens.
  var handedSession = (function () {
    var m = /(?:^#|&)session=(pss_[A-Za-z0-9_-]{16,128})(?:&|$)/.exec(location.hash || '');
    if (location.hash) {
      try { history.replaceState(null, '', location.pathname + location.search); } catch (e) { /* none */ }
    }
    return m ? m[1] : '';
  })();
  var token = (function () {
    var m = /^\/s\/([^/]+)\/?$/.exec(location.pathname);
    var fromPath = m ? decodeURIComponent(m[1]) : '';
    if (fromPath && fromPath !== PLACEHOLDER) {
      if (embedded) { return fromPath; } // memory only: the storage is the call page's
      try {
        sessionStorage.setItem(TOKEN_KEY, fromPath);
        history.replaceState(null, '', '/s/' + PLACEHOLDER);
      } catch (e) { /* storage off: the token stays in the address */ }
      return fromPath;
    }
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  })();
  var base = '/api/v1/sign/' + encodeURIComponent(token);

  var chosen = handedLang || null;
  if (!embedded) {
    try { chosen = sessionStorage.getItem('parley-lang'); } catch (e) { /* none */ }
  }
  var lang = chosen === 'en' || chosen === 'de' ? chosen :
    (/^de\b/i.test(navigator.language || '') ? 'de' : 'en');

  var info = null;       // the relay's signer view
  var session = handedSession; // the verified session (memory only)
  var view = 'loading';
  var docURL = '';       // blob URL of the document shown
  var resendAt = 0;      // Date.now() when a new code may be asked for
  var timer = 0;
  var noMoreCodes = false;

  function $(id) { return document.getElementById(id); }
  function t(key, p) {
    var v = TEXTS[lang][key];
    if (v === undefined) { v = TEXTS.de[key]; }
    return typeof v === 'function' ? v(p || {}) : v;
  }

  // message is the text for a relay error: the page's own words for the
  // codes it knows (German), else the relay's message.
  function message(r) {
    var e = (r.body && r.body.error) || {};
    var code = e.code || '';
    if (code === 'throttled') {
      return t('throttled', { s: retryAfter(r) });
    }
    if (lang === 'en' && e.message) { return e.message; }
    if (code && TEXTS[lang][code]) { return t(code); }
    if (r.status === 429) { return t('rate_limited'); }
    return e.message || t('failed');
  }
  function retryAfter(r) {
    var s = parseInt(r.retry || '', 10);
    if (!(s > 0) && r.body && r.body.error) { s = r.body.error.retry_after_seconds; }
    return s > 0 ? s : 60;
  }

  function request(method, path, body) {
    var opts = { method: method, headers: {} };
    if (session) { opts.headers.Authorization = 'Bearer ' + session; }
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch(base + path, opts).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (b) {
        return { status: res.status, body: b, retry: res.headers.get('Retry-After') };
      });
    });
  }

  function roleName(role) {
    var m = /^customer([0-9]+)$/.exec(role);
    return m ? t('roleCustomer', { n: Number(m[1]) }) : t('roleAdvisor');
  }

  // ---- rendering ----

  var HEADINGS = { loading: 'loadingHeading', code: 'signHeading', sign: 'signHeading', signed: 'signedHeading',
    waiting: 'waitingHeading', completed: 'completedHeading', expired: 'expiredHeading', missing: 'missingHeading', error: 'errorHeading' };
  var STATUS = { signed: 'signedText', waiting: 'waitingText', completed: 'completedText', expired: 'expiredText',
    missing: 'missingText', error: 'errorText' };

  function render() {
    document.documentElement.lang = lang;
    document.title = t('pageTitle');
    document.querySelectorAll('[data-t]').forEach(function (el) { el.textContent = t(el.getAttribute('data-t')); });
    document.querySelectorAll('[data-t-label]').forEach(function (el) { el.setAttribute('aria-label', t(el.getAttribute('data-t-label'))); });
    document.querySelectorAll('[data-lang]').forEach(function (b) {
      b.setAttribute('aria-pressed', String(b.getAttribute('data-lang') === lang));
    });
    var main = $('sign');
    main.setAttribute('data-view', view);
    main.classList.toggle('problem', view === 'expired' || view === 'missing' || view === 'error');
    main.classList.toggle('success', view === 'signed' || view === 'completed');
    $('heading').textContent = t(HEADINGS[view]);
    $('status').textContent = STATUS[view] ? t(STATUS[view]) : '';
    var title = info && info.title && view !== 'missing' ? info.title : '';
    $('doc-title').textContent = title;
    $('doc-title').hidden = !title;
    $('code-step').hidden = view !== 'code';
    $('sign-step').hidden = view !== 'sign';
    $('download-wrap').hidden = view !== 'completed';
    $('download').href = base + '/document?download=1';
    renderProgress();
    renderResend();
    if (view === 'sign') { renderFields(); }
  }

  function renderProgress() {
    var list = $('progress');
    var show = info && info.signers && info.signers.length > 1 && (view === 'waiting' || view === 'signed' || view === 'sign');
    list.hidden = !show;
    list.setAttribute('aria-label', t('progressLabel'));
    list.textContent = '';
    if (!show) { return; }
    info.signers.forEach(function (s) {
      var li = document.createElement('li');
      li.className = 'signer-step ' + s.state;
      var who = document.createElement('span');
      who.className = 'who';
      who.textContent = roleName(s.role) + (s.role === info.role ? t('you') : '');
      var st = document.createElement('span');
      st.className = 'state';
      st.textContent = t({ signed: 'stateSigned', pending: 'statePending' }[s.state] || 'stateWaiting');
      li.appendChild(who);
      li.appendChild(st);
      list.appendChild(li);
    });
  }

  function renderResend() {
    var btn = $('resend');
    var left = Math.ceil((resendAt - Date.now()) / 1000);
    btn.disabled = noMoreCodes || left > 0;
    btn.textContent = left > 0 ? t('resendIn', { s: left }) : t('resend');
    $('send-code').disabled = noMoreCodes || left > 0;
    if (left <= 0 && timer) {
      clearInterval(timer);
      timer = 0;
    }
  }

  function cooldown(secs) {
    resendAt = Date.now() + secs * 1000;
    if (!timer) { timer = setInterval(renderResend, 1000); }
    renderResend();
  }

  function show(v) {
    view = v;
    render();
    $('heading').focus();
    tellParent(v);
  }

  // tellParent tells the call page (embedded only) that this signer is
  // done, or that the page cannot go on. Only the relay's own origin
  // receives it.
  var FINAL = { signed: 'signed', completed: 'signed', expired: 'closed', missing: 'closed', waiting: 'closed' };
  function tellParent(v, reason) {
    var state = reason ? 'closed' : FINAL[v];
    if (!embedded || !state) { return; }
    try {
      window.parent.postMessage({ type: 'parley-sign', state: state, reason: reason || v }, location.origin);
    } catch (e) { /* no parent to tell */ }
  }

  function fail(el, text, code) {
    el.textContent = text || '';
    el.hidden = !text;
    if (code) { el.setAttribute('data-code', code); } else { el.removeAttribute('data-code'); }
  }

  // ---- loading the signer's view ----

  function load() {
    return request('GET', '').then(function (r) {
      if (r.status === 200 && r.body.signer) {
        info = r.body.signer;
        if (!chosen && (info.lang === 'de' || info.lang === 'en')) { lang = info.lang; }
        route();
        return;
      }
      show(r.status === 410 ? 'expired' : r.status === 404 ? 'missing' : 'error');
    }).catch(function () { show('error'); });
  }

  function route() {
    if (info.status === 'completed') { show('completed'); return; }
    if (info.status === 'expired') { show('expired'); return; }
    if (info.status === 'cancelled') { show('missing'); return; }
    if (info.state === 'signed') { show('signed'); return; }
    if (info.state === 'waiting') { show('waiting'); return; }
    if (!info.verified) {
      session = '';
      $('code-form').hidden = !info.code_sent;
      show('code');
      return;
    }
    show('sign');
    setUpSigning();
  }

  // ---- the one-time code ----

  function sendCode() {
    var btn = $('send-code');
    btn.disabled = true;
    btn.textContent = t('sending');
    fail($('send-error'), '');
    request('POST', '/code').then(function (r) {
      btn.textContent = t('sendCode');
      if (r.status === 202) {
        $('code-form').hidden = false;
        $('code-hint').textContent = t('codeSent');
        cooldown(60);
        $('code').focus();
        return;
      }
      var code = (r.body && r.body.error && r.body.error.code) || '';
      if (code === 'throttled') {
        cooldown(retryAfter(r));
        $('code-form').hidden = false;
      } else if (code === 'code_limit') {
        noMoreCodes = true;
      } else if (r.status === 404 || r.status === 410 || code === 'not_your_turn' || code === 'invalid_state') {
        load();
        return;
      }
      renderResend();
      var target = $('code-form').hidden ? $('send-error') : $('code-error');
      fail(target, message(r), code);
    }).catch(function () {
      btn.textContent = t('sendCode');
      renderResend();
      fail($('send-error'), t('failed'));
    });
  }

  function verify(ev) {
    ev.preventDefault();
    var input = $('code');
    var code = input.value.replace(/\s+/g, '');
    if (!/^[0-9]{6}$/.test(code)) {
      input.setAttribute('aria-invalid', 'true');
      fail($('code-error'), t('codeFormat'), 'format');
      input.focus();
      return;
    }
    var btn = $('verify');
    btn.disabled = true;
    request('POST', '/verify', { code: code }).then(function (r) {
      btn.disabled = false;
      if (r.status === 200 && r.body.session) {
        session = r.body.session;
        input.value = '';
        input.removeAttribute('aria-invalid');
        fail($('code-error'), '');
        load();
        return;
      }
      if (r.status === 404 || r.status === 410) { load(); return; }
      var ecode = (r.body && r.body.error && r.body.error.code) || '';
      input.setAttribute('aria-invalid', 'true');
      input.value = '';
      fail($('code-error'), message(r), ecode);
      input.focus();
    }).catch(function () {
      btn.disabled = false;
      fail($('code-error'), t('failed'));
    });
  }

  // ---- the document and the fields ----

  var fields = [];
  var sigFields = [];
  var textInputs = {};

  function setUpSigning() {
    fields = info.fields || [];
    sigFields = fields.filter(function (f) { return f.kind === 'signature'; });
    buildTextFields();
    buildPages();
    renderFields();
    pad.layout();
    if (!docURL) { loadDocument(); }
  }

  // loadDocument fetches the PDF (with the session) for the download link.
  function loadDocument() {
    var link = $('pdf-open');
    link.setAttribute('aria-disabled', 'true');
    $('form-error').hidden = true;
    var opts = { headers: { Authorization: 'Bearer ' + session } };
    fetch(base + '/document', opts).then(function (res) {
      if (!res.ok) { throw new Error('document ' + res.status); }
      return res.blob();
    }).then(function (blob) {
      docURL = URL.createObjectURL(new Blob([blob], { type: 'application/pdf' }));
      link.href = docURL;
      link.removeAttribute('aria-disabled');
      link.setAttribute('data-bytes', String(blob.size));
    }).catch(function () {
      fail($('form-error'), t('docFailed'));
    });
  }

  // ---- the pages: images the relay renders, fields outlined on them ----

  var pageURLs = [];     // blob URLs of the page images shown
  var pageObserver = null;

  function rect(r) {
    return { x0: Math.min(r.LLX, r.URX), y0: Math.min(r.LLY, r.URY), x1: Math.max(r.LLX, r.URX), y1: Math.max(r.LLY, r.URY) };
  }

  // view is what a viewer shows of page p: its crop box (within the media
  // box) turned by /Rotate, as the relay renders it.
  function pageView(p) {
    var m = rect(p.MediaBox || {});
    var c = p.CropBox ? rect(p.CropBox) : m;
    c = { x0: Math.max(c.x0, m.x0), y0: Math.max(c.y0, m.y0), x1: Math.min(c.x1, m.x1), y1: Math.min(c.y1, m.y1) };
    if (!(c.x1 > c.x0 && c.y1 > c.y0)) { c = m; }
    var rot = (((p.Rotate || 0) % 360) + 360) % 360;
    var w = c.x1 - c.x0, h = c.y1 - c.y0;
    var turned = rot === 90 || rot === 270;
    return { crop: c, rot: rot, w: w, h: h, dw: turned ? h : w, dh: turned ? w : h };
  }

  // toView maps a point of the page's user space to fractions (0..1) of
  // the shown page, from its top left corner.
  function toView(v, x, y) {
    var u = x - v.crop.x0, d = v.crop.y1 - y; // from the crop box's top left, unrotated
    var px, py;
    if (v.rot === 90) { px = v.h - d; py = u; } else if (v.rot === 180) { px = v.w - u; py = v.h - d; } else if (v.rot === 270) { px = d; py = v.w - u; } else { px = u; py = d; }
    return { x: px / v.dw, y: py / v.dh };
  }

  function pct(v) { return (Math.max(0, Math.min(1, v)) * 100).toFixed(3) + '%'; }

  function buildPages() {
    var box = $('pages');
    pageURLs.forEach(function (u) { URL.revokeObjectURL(u); });
    pageURLs = [];
    if (pageObserver) { pageObserver.disconnect(); }
    box.textContent = '';
    var pages = info.pages || [];
    var first = null;
    pages.forEach(function (p) {
      var v = pageView(p);
      var fig = document.createElement('figure');
      fig.className = 'page';
      fig.setAttribute('data-page', String(p.Number));
      var sheet = document.createElement('div');
      sheet.className = 'sheet';
      sheet.style.aspectRatio = v.dw.toFixed(3) + ' / ' + v.dh.toFixed(3);
      var img = document.createElement('img');
      img.className = 'page-img';
      img.decoding = 'async';
      img.setAttribute('data-page', String(p.Number));
      sheet.appendChild(img);
      fields.forEach(function (f) {
        if (f.page !== p.Number || !f.rect) { return; }
        var r = rect(f.rect);
        var a = toView(v, r.x0, r.y0), b = toView(v, r.x1, r.y1);
        var o = document.createElement('div');
        o.className = 'field-outline ' + (f.kind === 'signature' ? 'sig' : 'text');
        o.setAttribute('data-field', f.id);
        o.style.left = pct(Math.min(a.x, b.x));
        o.style.top = pct(Math.min(a.y, b.y));
        o.style.width = pct(Math.abs(b.x - a.x));
        o.style.height = pct(Math.abs(b.y - a.y));
        var tag = document.createElement('span');
        tag.className = 'field-tag';
        o.appendChild(tag);
        sheet.appendChild(o);
        if (!first) { first = o; }
      });
      var cap = document.createElement('figcaption');
      cap.className = 'page-note';
      fig.appendChild(sheet);
      fig.appendChild(cap);
      box.appendChild(fig);
    });
    renderPages();
    if ('IntersectionObserver' in window) {
      pageObserver = new IntersectionObserver(function (entries) {
        entries.forEach(function (e) {
          if (e.isIntersecting) {
            pageObserver.unobserve(e.target);
            loadPage(e.target);
          }
        });
      }, { root: box, rootMargin: '600px 0px' });
      box.querySelectorAll('figure.page').forEach(function (fig) { pageObserver.observe(fig); });
    } else {
      box.querySelectorAll('figure.page').forEach(loadPage);
    }
    if (first) { showField(first, false); }
  }

  // pageWidth is the pixel width to ask the relay for: the shown width at
  // the screen's density, in steps of 200 (fewer distinct renders).
  function pageWidth() {
    var css = $('pages').clientWidth || 600;
    var px = Math.ceil(css * (window.devicePixelRatio || 1) / 200) * 200;
    return Math.max(200, Math.min(2000, px));
  }

  function loadPage(fig) {
    var n = fig.getAttribute('data-page');
    var img = fig.querySelector('img');
    fig.setAttribute('aria-busy', 'true');
    fetch(base + '/pages/' + encodeURIComponent(n) + '?width=' + pageWidth(), { headers: { Authorization: 'Bearer ' + session } }).then(function (res) {
      if (!res.ok) { throw new Error('page ' + res.status); }
      return res.blob();
    }).then(function (blob) {
      var u = URL.createObjectURL(blob);
      pageURLs.push(u);
      img.onload = function () {
        fig.removeAttribute('aria-busy');
        fig.setAttribute('data-loaded', 'true');
      };
      img.onerror = function () { pageFailed(fig); };
      img.src = u;
    }).catch(function () { pageFailed(fig); });
  }

  function pageFailed(fig) {
    fig.removeAttribute('aria-busy');
    fig.classList.add('failed');
    fig.querySelector('.page-note').textContent = t('pageFailed', { n: Number(fig.getAttribute('data-page')) });
  }

  // renderPages sets the texts of the pages (alt texts, field tags) in
  // the page's language.
  function renderPages() {
    var figs = $('pages').querySelectorAll('figure.page');
    figs.forEach(function (fig) {
      var n = Number(fig.getAttribute('data-page'));
      fig.querySelector('img').alt = t('pageAlt', { n: n, of: figs.length });
      if (fig.classList.contains('failed')) { fig.querySelector('.page-note').textContent = t('pageFailed', { n: n }); }
    });
    fields.forEach(function (f) {
      var o = $('pages').querySelector('.field-outline[data-field="' + f.id + '"]');
      if (o) { o.querySelector('.field-tag').textContent = t('fieldHere', { name: fieldName(f), sig: f.kind === 'signature' }); }
    });
  }

  // showField scrolls the page list (not the whole page) to a field's
  // outline; with flash it is highlighted for a moment.
  function showField(o, flash) {
    var box = $('pages');
    var top = o.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
    box.scrollTop = Math.max(0, top - box.clientHeight / 3);
    if (flash) {
      o.classList.remove('flash');
      void o.offsetWidth; // restart the animation
      o.classList.add('flash');
    }
  }

  function fieldName(f) {
    return f.label || (f.kind === 'signature' ? t('sigField') : t('textField'));
  }

  function buildTextFields() {
    var box = $('text-fields');
    box.textContent = '';
    textInputs = {};
    fields.forEach(function (f) {
      if (f.kind !== 'text') { return; }
      var wrap = document.createElement('div');
      wrap.className = 'field';
      var label = document.createElement('label');
      var input = document.createElement('input');
      input.type = 'text';
      input.id = 'text-' + f.id;
      input.name = f.id;
      input.maxLength = MAX_TEXT;
      input.setAttribute('data-field', f.id);
      label.htmlFor = input.id;
      label.setAttribute('data-field-label', f.id);
      wrap.appendChild(label);
      wrap.appendChild(input);
      box.appendChild(wrap);
      textInputs[f.id] = input;
    });
  }

  function renderFields() {
    var list = $('field-list');
    list.textContent = '';
    fields.forEach(function (f) {
      var li = document.createElement('li');
      var btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'link-button';
      btn.setAttribute('data-show-field', f.id);
      btn.textContent = fieldName(f) + ' – ' + t('page', { n: f.page });
      btn.addEventListener('click', function () {
        var o = $('pages').querySelector('.field-outline[data-field="' + f.id + '"]');
        if (o) { showField(o, true); }
      });
      li.appendChild(btn);
      list.appendChild(li);
    });
    fields.forEach(function (f) {
      var label = document.querySelector('[data-field-label="' + f.id + '"]');
      if (label) { label.textContent = fieldName(f) + ' (' + t('page', { n: f.page }) + ')'; }
    });
    $('pad-hint').textContent = t('padHint', { n: sigFields.length });
    renderPages();
  }

  // ---- the signature pad: Pointer Events → signpad/browser JSON ----

  var pad = (function () {
    var canvas = $('pad');
    var ctx = canvas.getContext('2d');
    var size = { width: 0, height: 0 };
    var rec;

    function reset() {
      rec = { pointerType: '', pointerId: null, events: [], hover: [], down: false, lastT: 0, points: 0, t0: -1, full: false, last: null };
    }
    reset();

    function aspect() {
      var f = sigFields[0];
      if (!f || !f.rect) { return 3; }
      var w = Math.abs(f.rect.URX - f.rect.LLX), h = Math.abs(f.rect.URY - f.rect.LLY);
      return w > 0 && h > 0 ? w / h : 3;
    }

    function layout() {
      if (rec.events.length) { return; } // the recorded size stays fixed
      var avail = $('pad-wrap').clientWidth || 600;
      var w = Math.max(120, Math.min(600, Math.floor(avail)));
      var h = Math.round(w / aspect());
      h = Math.max(60, Math.min(400, h));
      size = { width: w, height: h };
      var dpr = window.devicePixelRatio || 1;
      canvas.style.width = w + 'px';
      canvas.style.height = h + 'px';
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.lineCap = 'round';
      ctx.lineJoin = 'round';
      ctx.strokeStyle = getComputedStyle(canvas).color || '#102030';
    }

    function round(v, d) { var k = Math.pow(10, d); return Math.round(v * k) / k; }
    function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }

    function point(e, rect) {
      var p = {
        t: round(e.timeStamp, 3),
        x: round(clamp(e.clientX - rect.left, 0, size.width), 2),
        y: round(clamp(e.clientY - rect.top, 0, size.height), 2)
      };
      if (isFinite(e.pressure)) { p.pressure = round(clamp(e.pressure, 0, 1), 4); }
      if (isFinite(e.tiltX) && isFinite(e.tiltY)) {
        p.tiltX = clamp(Math.round(e.tiltX), -90, 90);
        p.tiltY = clamp(Math.round(e.tiltY), -90, 90);
      }
      return p;
    }

    // monotonic keeps time from going back (the decoder refuses it).
    function monotonic(p) {
      if (p.t < rec.lastT) { p.t = rec.lastT; }
      rec.lastT = p.t;
      if (rec.t0 < 0) { rec.t0 = p.t; }
      return p;
    }

    function room(n) {
      if (rec.full) { return false; }
      if (rec.points + n > MAX_POINTS || (rec.t0 >= 0 && rec.lastT - rec.t0 > MAX_SPAN_MS)) {
        rec.full = true;
        fail($('pad-error'), t('padTooLong'), 'too_long');
        return false;
      }
      rec.points += n;
      return true;
    }

    function width(p) {
      var pr = typeof p.pressure === 'number' && rec.pointerType !== 'mouse' ? p.pressure : 0.5;
      return 0.8 + 3.6 * clamp(pr, 0.05, 1);
    }

    function ink(p) {
      if (rec.last) {
        ctx.lineWidth = (width(rec.last) + width(p)) / 2;
        ctx.beginPath();
        ctx.moveTo(rec.last.x, rec.last.y);
        ctx.lineTo(p.x, p.y);
        ctx.stroke();
      } else {
        ctx.beginPath();
        ctx.arc(p.x, p.y, width(p) / 2, 0, 2 * Math.PI);
        ctx.fillStyle = ctx.strokeStyle;
        ctx.fill();
      }
      rec.last = p;
    }

    function down(e) {
      if (e.pointerType === 'mouse' && e.button !== 0) { return; }
      if (rec.pointerId !== null && e.pointerId !== rec.pointerId) { return; }
      if (rec.down || rec.full) { return; }
      e.preventDefault();
      var rect = canvas.getBoundingClientRect();
      if (rec.pointerId === null) {
        rec.pointerType = e.pointerType === 'pen' || e.pointerType === 'touch' ? e.pointerType : 'mouse';
        rec.pointerId = e.pointerId;
        // Hover points of this pointer before its first contact.
        rec.hover.forEach(function (h) {
          if (h.id === e.pointerId && room(1)) { rec.events.push({ type: 'move', t: monotonic(h.p).t, x: h.p.x, y: h.p.y, pressure: h.p.pressure, tiltX: h.p.tiltX, tiltY: h.p.tiltY }); }
        });
        rec.hover = [];
      }
      if (!room(1)) { return; }
      try { canvas.setPointerCapture(e.pointerId); } catch (err) { /* not capturable */ }
      var p = monotonic(point(e, rect));
      rec.events.push(Object.assign({ type: 'down' }, p));
      rec.down = true;
      rec.last = null;
      ink(p);
      fail($('pad-error'), '');
      canvas.setAttribute('data-events', String(rec.events.length));
    }

    function move(e) {
      var rect = canvas.getBoundingClientRect();
      if (rec.pointerId === null) {
        if (e.pointerType === 'touch' || e.buttons) { return; }
        rec.hover.push({ id: e.pointerId, p: point(e, rect) });
        if (rec.hover.length > MAX_HOVER) { rec.hover.shift(); }
        return;
      }
      if (e.pointerId !== rec.pointerId || rec.full) { return; }
      if (rec.pointerType === 'touch' && !rec.down) { return; }
      var list = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
      var pts = list.map(function (c) { return point(c, rect); });
      var own = point(e, rect);
      if (pts.length > 1) {
        pts[pts.length - 1] = own;
      } else {
        pts = [own];
      }
      if (!room(pts.length)) { return; }
      pts.forEach(monotonic);
      var last = pts[pts.length - 1];
      var ev = Object.assign({ type: 'move' }, last);
      if (pts.length > 1) { ev.coalesced = pts; }
      rec.events.push(ev);
      if (rec.down) {
        e.preventDefault();
        pts.forEach(ink);
      }
      canvas.setAttribute('data-events', String(rec.events.length));
    }

    function up(e) {
      if (e.pointerId !== rec.pointerId || !rec.down) { return; }
      var rect = canvas.getBoundingClientRect();
      var p = monotonic(point(e, rect));
      if (e.type === 'pointercancel' && rec.last) { p.x = rec.last.x; p.y = rec.last.y; }
      rec.points++;
      rec.events.push(Object.assign({ type: 'up' }, p));
      rec.down = false;
      rec.last = null;
      canvas.setAttribute('data-events', String(rec.events.length));
    }

    canvas.addEventListener('pointerdown', down);
    canvas.addEventListener('pointermove', move);
    canvas.addEventListener('pointerup', up);
    canvas.addEventListener('pointercancel', up);
    window.addEventListener('resize', function () { if (view === 'sign') { layout(); } });

    return {
      layout: layout,
      clear: function () {
        reset();
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        canvas.removeAttribute('data-events');
        fail($('pad-error'), '');
        layout();
      },
      empty: function () {
        return !rec.events.some(function (ev) { return ev.type === 'down'; });
      },
      busy: function () { return rec.down; },
      full: function () { return rec.full; },
      // document is the JSON for signpad/browser.Decode.
      document: function () {
        return { v: 1, pointerType: rec.pointerType, pointerId: rec.pointerId, field: { width: size.width, height: size.height }, events: rec.events };
      }
    };
  })();

  // ---- submitting ----

  function submit(ev) {
    ev.preventDefault();
    fail($('form-error'), '');
    if (pad.empty() || pad.busy()) {
      fail($('pad-error'), t('padEmpty'), 'empty');
      $('pad').focus();
      return;
    }
    if (pad.full()) {
      fail($('pad-error'), t('padTooLong'), 'too_long');
      return;
    }
    var texts = {};
    var bad = null;
    Object.keys(textInputs).forEach(function (id) {
      var input = textInputs[id];
      var v = input.value.trim();
      input.removeAttribute('aria-invalid');
      if (Array.from(v).length > MAX_TEXT) { bad = bad || input; input.setAttribute('aria-invalid', 'true'); }
      if (v) { texts[id] = v; }
    });
    if (bad) {
      fail($('form-error'), t('textTooLong'), 'text');
      bad.focus();
      return;
    }
    var btn = $('submit');
    btn.disabled = true;
    btn.textContent = t('signing');
    request('POST', '/submit', { texts: texts, pointer: pad.document() }).then(function (r) {
      btn.disabled = false;
      btn.textContent = t('sign');
      if (r.status === 200 && r.body.signer) {
        info = r.body.signer;
        if (docURL) { URL.revokeObjectURL(docURL); docURL = ''; }
        pageURLs.forEach(function (u) { URL.revokeObjectURL(u); });
        pageURLs = [];
        route();
        return;
      }
      var e = (r.body && r.body.error) || {};
      if (e.code === 'code_required') {
        session = '';
        info.verified = false;
        $('code-form').hidden = true;
        show('code');
        fail($('send-error'), message(r), e.code);
        return;
      }
      if (r.status === 404 || r.status === 410 || e.code === 'not_your_turn' || e.code === 'invalid_state') { load(); return; }
      if (e.field === 'pointer' || r.status === 413) {
        fail($('pad-error'), message(r), e.code || 'too_large');
        return;
      }
      fail($('form-error'), message(r), e.code || 'failed');
    }).catch(function () {
      btn.disabled = false;
      btn.textContent = t('sign');
      fail($('form-error'), t('failed'), 'failed');
    });
  }

  // ---- wiring ----

  document.querySelectorAll('[data-lang]').forEach(function (b) {
    b.addEventListener('click', function () {
      lang = b.getAttribute('data-lang');
      chosen = lang;
      try { sessionStorage.setItem('parley-lang', lang); } catch (e) { /* none */ }
      render();
    });
  });
  $('send-code').addEventListener('click', sendCode);
  $('resend').addEventListener('click', sendCode);
  $('code-form').addEventListener('submit', verify);
  $('code').addEventListener('input', function () { $('code').removeAttribute('aria-invalid'); });
  $('clear').addEventListener('click', pad.clear);
  $('sign-form').addEventListener('submit', submit);
  if (embedded) {
    document.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && !e.defaultPrevented) { tellParent(view, 'escape'); }
    });
  }
  render();

  if (!/^psg_[A-Za-z0-9_-]{43}$/.test(token)) {
    show('missing');
    return;
  }
  load();
}());
