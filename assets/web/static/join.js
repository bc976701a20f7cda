// The customer's join page (/j/{token}): resolves the link, takes a name
// and an optional phone number, waits in the waiting room (with camera
// and microphone set-up) until the advisor admits, then runs the meeting
// through call.js (ParleyCall) in #call.
//
// Privacy: the participant secret is kept in sessionStorage only (this
// tab, survives a reload, nothing else); no cookies, no localStorage, no
// requests anywhere but this relay. Camera and microphone are requested
// only once the customer is in the waiting room.
(function () {
  'use strict';

  // All texts of the page, by language. Keys used in the HTML carry
  // data-t="key"; functions take parameters.
  var TEXTS = {
    en: {
      pageTitle: 'Join your meeting – Parley',
      loadingHeading: 'One moment',
      loadingStatus: 'Checking your meeting link…',
      advisorLabel: 'Your advisor',
      advisorUnknown: 'Your advisor',
      formHeading: 'Join your meeting',
      formStatus: function (p) { return 'Meeting with ' + p.advisor + '. Enter your name to join.'; },
      nameLabel: 'Your name',
      nameHint: 'Your advisor sees this name.',
      phoneLabel: 'Phone number',
      optional: '(optional)',
      phoneHint: 'Only if your advisor should be able to call you back. With country code, e.g. +49\u00a0170\u00a01234567.',
      privacy: 'We use your name and, if you give it, your phone number only for this meeting. Meeting data is deleted 2 days after the meeting. This page sets no cookies and loads nothing from other websites.',
      joinButton: 'Join',
      joining: 'Joining…',
      leaveButton: 'Leave',
      retryButton: 'Try again',
      nameEmpty: 'Please enter your name.',
      nameLong: 'Your name can have at most 80 characters.',
      nameChars: 'Your name contains characters that are not allowed.',
      phoneFormat: 'Please enter the number with country code, starting with +, e.g. +49\u00a0170\u00a01234567.',
      phoneDigits: 'A phone number has 6 to 15 digits after the +.',
      serverRefused: function (p) { return 'The meeting did not accept this: ' + p.message; },
      offline: 'The meeting service cannot be reached. Check your connection and try again.',
      waitingHeading: 'You are in the waiting room',
      waitingStatus: 'Your advisor will admit you shortly.',
      waitingHint: 'Please keep this page open. You do not need to do anything else.',
      admittedHeading: 'You are in the meeting',
      admittedStatus: 'You have been admitted.',
      reconnecting: 'Connection interrupted. Trying again…',
      linkInvalidHeading: 'This link does not work',
      linkInvalid: 'This meeting link is not valid. Please ask your advisor for a new link.',
      notYetOpenHeading: 'Not open yet',
      notYetOpen: function (p) { return 'This meeting opens on ' + p.when + '. Please come back then — this page will also open by itself if you keep it open.'; },
      expiredHeading: 'This link has expired',
      expired: 'This meeting link has expired. Please ask your advisor for a new link.',
      endedHeading: 'The meeting has ended',
      ended: 'This meeting has ended. Thank you for your time. You can close this page.',
      fullHeading: 'The meeting is full',
      full: 'This meeting cannot take more participants right now. Please try again in a few minutes or contact your advisor.',
      rejectedHeading: 'You were not admitted',
      rejected: 'Your advisor did not admit you to this meeting. If you think this is a mistake, please contact your advisor.',
      removedHeading: 'You are no longer in the meeting',
      removed: 'Your advisor has removed you from the meeting.',
      goneHeading: 'This meeting is no longer available',
      gone: 'Your place in this meeting is no longer valid. Open the link from your advisor again to rejoin.',
      errorHeading: 'Something went wrong',
      error: 'The meeting service could not answer. Please try again.',
      leftHeading: 'Goodbye',
      left: 'You have left the meeting. Your details are no longer kept in this browser. You can close this page.',
      callLabel: 'Video call'
    },
    de: {
      pageTitle: 'Termin beitreten – Parley',
      loadingHeading: 'Einen Moment',
      loadingStatus: 'Ihr Termin-Link wird geprüft…',
      advisorLabel: 'Ihr Berater',
      advisorUnknown: 'Ihr Berater',
      formHeading: 'Ihrem Termin beitreten',
      formStatus: function (p) { return 'Termin mit ' + p.advisor + '. Geben Sie Ihren Namen ein, um beizutreten.'; },
      nameLabel: 'Ihr Name',
      nameHint: 'Diesen Namen sieht Ihr Berater.',
      phoneLabel: 'Telefonnummer',
      optional: '(freiwillig)',
      phoneHint: 'Nur falls Ihr Berater Sie zurückrufen soll. Mit Ländervorwahl, z. B. +49\u00a0170\u00a01234567.',
      privacy: 'Ihren Namen und, falls angegeben, Ihre Telefonnummer verwenden wir nur für diesen Termin. Die Daten des Termins werden 2 Tage nach dem Termin gelöscht. Diese Seite setzt keine Cookies und lädt nichts von anderen Websites.',
      joinButton: 'Beitreten',
      joining: 'Wird beigetreten…',
      leaveButton: 'Verlassen',
      retryButton: 'Erneut versuchen',
      nameEmpty: 'Bitte geben Sie Ihren Namen ein.',
      nameLong: 'Ihr Name darf höchstens 80 Zeichen haben.',
      nameChars: 'Ihr Name enthält Zeichen, die nicht erlaubt sind.',
      phoneFormat: 'Bitte geben Sie die Nummer mit Ländervorwahl ein, beginnend mit +, z. B. +49\u00a0170\u00a01234567.',
      phoneDigits: 'Eine Telefonnummer hat 6 bis 15 Ziffern nach dem +.',
      serverRefused: function (p) { return 'Der Termin hat die Angaben nicht angenommen: ' + p.message; },
      offline: 'Der Termindienst ist nicht erreichbar. Bitte prüfen Sie Ihre Verbindung und versuchen Sie es erneut.',
      waitingHeading: 'Sie sind im Warteraum',
      waitingStatus: 'Ihr Berater lässt Sie gleich eintreten.',
      waitingHint: 'Bitte lassen Sie diese Seite geöffnet. Sie müssen sonst nichts tun.',
      admittedHeading: 'Sie sind im Termin',
      admittedStatus: 'Sie wurden eingelassen.',
      reconnecting: 'Verbindung unterbrochen. Neuer Versuch…',
      linkInvalidHeading: 'Dieser Link funktioniert nicht',
      linkInvalid: 'Dieser Termin-Link ist ungültig. Bitte fragen Sie Ihren Berater nach einem neuen Link.',
      notYetOpenHeading: 'Noch nicht geöffnet',
      notYetOpen: function (p) { return 'Dieser Termin öffnet am ' + p.when + '. Bitte kommen Sie dann wieder — wenn Sie diese Seite geöffnet lassen, öffnet sie sich von selbst.'; },
      expiredHeading: 'Dieser Link ist abgelaufen',
      expired: 'Dieser Termin-Link ist abgelaufen. Bitte fragen Sie Ihren Berater nach einem neuen Link.',
      endedHeading: 'Der Termin ist beendet',
      ended: 'Dieser Termin ist beendet. Vielen Dank für Ihre Zeit. Sie können diese Seite schließen.',
      fullHeading: 'Der Termin ist voll',
      full: 'Dieser Termin kann gerade keine weiteren Teilnehmer aufnehmen. Bitte versuchen Sie es in einigen Minuten erneut oder wenden Sie sich an Ihren Berater.',
      rejectedHeading: 'Sie wurden nicht eingelassen',
      rejected: 'Ihr Berater hat Sie nicht in diesen Termin eingelassen. Wenn Sie das für einen Irrtum halten, wenden Sie sich bitte an Ihren Berater.',
      removedHeading: 'Sie sind nicht mehr im Termin',
      removed: 'Ihr Berater hat Sie aus dem Termin entfernt.',
      goneHeading: 'Dieser Termin ist nicht mehr verfügbar',
      gone: 'Ihr Platz in diesem Termin ist nicht mehr gültig. Öffnen Sie den Link Ihres Beraters erneut, um wieder beizutreten.',
      errorHeading: 'Etwas ist schiefgegangen',
      error: 'Der Termindienst konnte nicht antworten. Bitte versuchen Sie es erneut.',
      leftHeading: 'Auf Wiedersehen',
      left: 'Sie haben den Termin verlassen. Ihre Angaben sind in diesem Browser nicht mehr gespeichert. Sie können diese Seite schließen.',
      callLabel: 'Videogespräch'
    }
  };

  // The meeting's own texts (call.js) join the page's.
  var CALL = window.ParleyCall;
  ['en', 'de'].forEach(function (l) {
    var extra = CALL.TEXTS[l];
    Object.keys(extra).forEach(function (k) { TEXTS[l][k] = extra[k]; });
  });

  // The server's limits (relay/meeting/validate.go), mirrored.
  var MAX_NAME = 80;
  var MIN_PHONE_DIGITS = 6;
  var MAX_PHONE_DIGITS = 15;
  var FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069\ufffd]/;

  // The relay holds a waiting customer's state request up to WAIT_S seconds
  // (long poll) and answers at once when the advisor decides; the page asks
  // again POLL_MS after each answer.
  var WAIT_S = 25;
  var POLL_MS = 250;
  var MAX_BACKOFF_MS = 30000;
  var SECRET_KEY = 'parley.join.participant';
  var LANG_KEY = 'parley.join.lang';

  // Views: the heading key, the status key, and what is shown.
  var VIEWS = {
    loading: { heading: 'loadingHeading', status: 'loadingStatus' },
    form: { heading: 'formHeading', status: 'formStatus', meeting: true, form: true },
    waiting: { heading: 'waitingHeading', status: 'waitingStatus', meeting: true, waiting: true, setup: true, leave: true },
    admitted: { heading: 'admittedHeading', status: 'admittedStatus', call: true },
    replaced: { heading: 'replacedHeading', status: 'replaced', meeting: true, retry: true, retryKey: 'continueHere' },
    link_invalid: { heading: 'linkInvalidHeading', status: 'linkInvalid', problem: true },
    link_not_yet_open: { heading: 'notYetOpenHeading', status: 'notYetOpen', early: true },
    link_expired: { heading: 'expiredHeading', status: 'expired', problem: true },
    meeting_ended: { heading: 'endedHeading', status: 'ended', meeting: true },
    meeting_full: { heading: 'fullHeading', status: 'full', problem: true, retry: true },
    rejected: { heading: 'rejectedHeading', status: 'rejected', meeting: true, problem: true },
    removed: { heading: 'removedHeading', status: 'removed', meeting: true },
    gone: { heading: 'goneHeading', status: 'gone', problem: true },
    error: { heading: 'errorHeading', status: 'error', problem: true, retry: true },
    left: { heading: 'leftHeading', status: 'left' }
  };

  var $ = function (id) { return document.getElementById(id); };
  var el = {
    main: $('join'), heading: $('heading'), status: $('status'), meeting: $('meeting'),
    advisorName: $('advisor-name'), initials: $('advisor-initials'), title: $('meeting-title'),
    form: $('join-form'), name: $('name'), phone: $('phone'), nameError: $('name-error'),
    phoneError: $('phone-error'), formError: $('form-error'), joinButton: $('join-button'),
    waiting: $('waiting'), setup: $('setup'), call: $('call'), conn: $('conn'), leave: $('leave'), retry: $('retry'),
    callLeave: $('btn-leave')
  };

  var token = (function () {
    var m = /^\/j\/([^/]+)\/?$/.exec(location.pathname);
    return m ? decodeURIComponent(m[1]) : '';
  })();

  var state = {
    lang: pickLanguage(),
    view: 'loading',
    info: null,        // the resolved link: {title, advisor_name, status}
    opensAt: null,     // Date, for link_not_yet_open
    formErrors: {},    // field -> text key, or {key, params}
    formError: null,   // {key, params}
    busy: false,
    reconnecting: false,
    pollTimer: 0,
    pollDelay: POLL_MS,
    openTimer: 0,
    secret: '',        // the participant secret, also kept in sessionStorage
    participantId: ''
  };

  function pickLanguage() {
    var saved = null;
    try { saved = sessionStorage.getItem(LANG_KEY); } catch (e) { /* storage off */ }
    if (saved === 'de' || saved === 'en') return saved;
    var langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
    for (var i = 0; i < langs.length; i++) {
      var l = String(langs[i]).toLowerCase();
      if (l.indexOf('de') === 0) return 'de';
      if (l.indexOf('en') === 0) return 'en';
    }
    return 'en';
  }

  function t(key, params) {
    var v = TEXTS[state.lang][key];
    if (v === undefined) v = TEXTS.en[key];
    return typeof v === 'function' ? v(params || {}) : v;
  }

  // ---- sessionStorage: the participant secret of this tab ----

  function loadSecret() {
    try {
      var raw = sessionStorage.getItem(SECRET_KEY);
      if (!raw) return null;
      var s = JSON.parse(raw);
      return s && s.token === token && typeof s.secret === 'string' ? s : null;
    } catch (e) {
      return null;
    }
  }

  function saveSecret(secret, participantID) {
    state.secret = secret;
    state.participantId = participantID || '';
    try {
      sessionStorage.setItem(SECRET_KEY, JSON.stringify({ token: token, secret: secret, participant_id: participantID }));
    } catch (e) { /* without storage a reload starts over */ }
  }

  function clearSecret() {
    state.secret = '';
    state.participantId = '';
    try { sessionStorage.removeItem(SECRET_KEY); } catch (e) { /* nothing kept */ }
  }

  // ---- rendering ----

  function show(node, on) { node.hidden = !on; }

  function statusParams() {
    var advisor = state.info && state.info.advisor_name ? state.info.advisor_name : t('advisorUnknown');
    var when = '';
    if (state.opensAt) {
      when = new Intl.DateTimeFormat(state.lang === 'de' ? 'de-DE' : 'en-GB',
        { dateStyle: 'full', timeStyle: 'short' }).format(state.opensAt);
    }
    return { advisor: advisor, when: when };
  }

  function initials(name) {
    var parts = name.trim().split(/\s+/).filter(Boolean);
    var s = parts.length ? Array.from(parts[0])[0] : '';
    if (parts.length > 1) s += Array.from(parts[parts.length - 1])[0];
    return s.toUpperCase();
  }

  function renderFieldError(node, input, err) {
    if (err) {
      node.textContent = t(err);
      input.setAttribute('aria-invalid', 'true');
    } else {
      node.textContent = '';
      input.removeAttribute('aria-invalid');
    }
    show(node, !!err);
  }

  function render() {
    var v = VIEWS[state.view];
    document.documentElement.lang = state.lang;
    document.title = t('pageTitle');
    document.querySelectorAll('[data-t]').forEach(function (n) {
      var text = t(n.dataset.t, n.dataset);
      if (n.textContent !== text) n.textContent = text;
    });
    document.querySelectorAll('[data-ta]').forEach(function (n) { n.setAttribute('aria-label', t(n.dataset.ta, n.dataset)); });
    document.querySelectorAll('[data-tp]').forEach(function (n) { n.setAttribute('placeholder', t(n.dataset.tp, n.dataset)); });
    document.querySelectorAll('.lang-switch button').forEach(function (b) {
      b.setAttribute('aria-pressed', String(b.dataset.lang === state.lang));
    });
    el.call.setAttribute('aria-label', t('callLabel'));

    el.main.dataset.view = state.view;
    el.main.classList.toggle('problem', !!v.problem);
    el.main.classList.toggle('early', !!v.early);
    el.heading.textContent = t(v.heading);
    var text = t(v.status, statusParams());
    if (el.status.textContent !== text) el.status.textContent = text;
    el.status.dataset.code = state.view;

    var info = state.info;
    show(el.meeting, !!(v.meeting && info));
    if (info) {
      var advisor = info.advisor_name || t('advisorUnknown');
      el.advisorName.textContent = advisor;
      el.initials.textContent = initials(advisor);
      el.title.textContent = info.title || '';
      show(el.title, !!info.title);
    }

    show(el.form, !!v.form);
    renderFieldError(el.nameError, el.name, state.formErrors.name);
    renderFieldError(el.phoneError, el.phone, state.formErrors.phone);
    el.formError.textContent = state.formError ? t(state.formError.key, state.formError.params) : '';
    show(el.formError, !!state.formError);
    el.joinButton.disabled = state.busy;
    el.joinButton.textContent = state.busy ? t('joining') : t('joinButton');

    show(el.waiting, !!v.waiting);
    show(el.setup, !!v.setup);
    show(el.call, !!v.call);
    document.body.classList.toggle('in-call', !!v.call);
    show(el.leave, !!v.leave);
    show(el.retry, !!v.retry);
    el.retry.textContent = t(v.retryKey || 'retryButton');
    if (call) call.render();
    el.conn.textContent = state.reconnecting && (v.waiting || v.call) ? t('reconnecting') : '';
  }

  function go(view) {
    var changed = state.view !== view;
    state.view = view;
    render();
    if (changed && view !== 'form') {
      // Move focus to the new heading so keyboard and screen reader users
      // land on what changed; the status region announces it as well.
      el.heading.focus({ preventScroll: true });
    }
  }

  // ---- the API ----

  // api returns a promise of {status, body}; it rejects only when the
  // relay cannot be reached.
  function api(method, path, body, secret) {
    var headers = { 'Accept': 'application/json' };
    if (body) headers['Content-Type'] = 'application/json';
    if (secret) headers['Authorization'] = 'Bearer ' + secret;
    return fetch(path, {
      method: method, headers: headers, body: body ? JSON.stringify(body) : undefined,
      cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer'
    }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (b) {
        return { status: res.status, body: b || {} };
      });
    });
  }

  function errorCode(r) {
    return r.body && r.body.error ? r.body.error.code : '';
  }

  // showLinkError shows the view for a link error; it returns false when
  // the answer is not one.
  function showLinkError(r) {
    var code = errorCode(r);
    switch (code) {
      case 'link_not_yet_open':
        state.opensAt = r.body.error.opens_at ? new Date(r.body.error.opens_at) : null;
        scheduleOpen();
        go(code);
        return true;
      case 'link_invalid': case 'link_expired': case 'meeting_ended': case 'meeting_full':
        go(code);
        return true;
    }
    return false;
  }

  function scheduleOpen() {
    clearTimeout(state.openTimer);
    if (!state.opensAt) return;
    var ms = state.opensAt.getTime() - Date.now();
    if (ms < 20 * 24 * 3600 * 1000) { // setTimeout's limit is about 24.8 days
      state.openTimer = setTimeout(resolve, Math.max(ms, 0) + 1000);
    }
  }

  function resolve() {
    if (!token) { go('link_invalid'); return; }
    api('GET', '/api/v1/join/' + encodeURIComponent(token)).then(function (r) {
      if (r.status === 200) {
        state.info = r.body;
        go('form');
        return;
      }
      if (!showLinkError(r)) go('error');
    }, function () {
      go('error');
    });
  }

  // ---- joining ----

  function checkName(name) {
    if (name === '') return 'nameEmpty';
    if (Array.from(name).length > MAX_NAME) return 'nameLong';
    if (FORBIDDEN.test(name)) return 'nameChars';
    return null;
  }

  function checkPhone(phone) {
    if (phone === '') return null;
    if (phone.charAt(0) !== '+' || !/^\+[0-9 ]*$/.test(phone)) return 'phoneFormat';
    var digits = phone.replace(/[^0-9]/g, '').length;
    if (digits < MIN_PHONE_DIGITS || digits > MAX_PHONE_DIGITS) return 'phoneDigits';
    return null;
  }

  function onSubmit(ev) {
    ev.preventDefault();
    if (state.busy) return;
    var name = el.name.value.trim();
    var phone = el.phone.value.trim();
    state.formErrors = { name: checkName(name), phone: checkPhone(phone) };
    state.formError = null;
    render();
    if (state.formErrors.name) { el.name.focus(); return; }
    if (state.formErrors.phone) { el.phone.focus(); return; }

    state.busy = true;
    render();
    var body = { name: name };
    if (phone) body.phone = phone;
    api('POST', '/api/v1/join/' + encodeURIComponent(token), body).then(function (r) {
      state.busy = false;
      if (r.status === 201 && r.body.secret) {
        saveSecret(r.body.secret, r.body.participant_id);
        el.form.reset();
        wait(r.body.secret);
        return;
      }
      if (showLinkError(r)) return;
      var msg = r.body && r.body.error && r.body.error.message ? r.body.error.message : '';
      if (errorCode(r) === 'bad_request' && /"name"/.test(msg)) {
        state.formErrors.name = /long/.test(msg) ? 'nameLong' : /empty|required/.test(msg) ? 'nameEmpty' : 'nameChars';
      } else if (errorCode(r) === 'bad_request' && /"phone"/.test(msg)) {
        state.formErrors.phone = /digits to|6 to 15/.test(msg) ? 'phoneDigits' : 'phoneFormat';
      }
      state.formError = msg ? { key: 'serverRefused', params: { message: msg } } : { key: 'error' };
      render();
      (state.formErrors.name ? el.name : state.formErrors.phone ? el.phone : el.joinButton).focus();
    }, function () {
      state.busy = false;
      state.formError = { key: 'offline' };
      render();
    });
  }

  // ---- waiting and admitted: poll the participant's state ----

  function startPolling(secret, delay) {
    clearTimeout(state.pollTimer);
    state.pollDelay = POLL_MS;
    state.pollTimer = setTimeout(function () { poll(secret); }, delay);
  }

  function stopPolling() {
    clearTimeout(state.pollTimer);
    state.pollTimer = 0;
  }

  function finish(view) {
    stopPolling();
    closeSigning(''); // the meeting is over: so is signing in it
    call.stop();
    clearSecret();
    state.reconnecting = false;
    go(view);
  }

  // wait shows the waiting room and opens camera and microphone for the
  // preview.
  function wait(secret) {
    go('waiting');
    call.prepare();
    startPolling(secret, 0);
  }

  // enterCall starts the meeting: from here on the signalling connection
  // says what happens (admitted, ended, removed), not the polling.
  function enterCall() {
    stopPolling();
    state.reconnecting = false;
    go('admitted');
    call.join();
  }

  function poll(secret) {
    api('GET', '/api/v1/participant?wait=' + WAIT_S, null, secret).then(function (r) {
      if (!loadSecret() && !state.secret) return; // left meanwhile
      if (state.view !== 'waiting') return;
      if (r.status === 200) {
        state.reconnecting = false;
        state.pollDelay = POLL_MS;
        switch (r.body.state) {
          case 'waiting': go('waiting'); break;
          case 'admitted': enterCall(); return;
          case 'rejected': finish('rejected'); return;
          case 'removed': finish('removed'); return;
          case 'left': finish('left'); return;
          case 'ended': finish('meeting_ended'); return;
        }
      } else if (r.status === 401 || r.status === 404 || r.status === 410) {
        finish(errorCode(r) === 'meeting_ended' ? 'meeting_ended' : 'gone');
        return;
      } else {
        backOff();
      }
      state.pollTimer = setTimeout(function () { poll(secret); }, state.pollDelay);
    }, function () {
      if (!loadSecret() && !state.secret) return;
      if (state.view !== 'waiting') return;
      backOff();
      state.pollTimer = setTimeout(function () { poll(secret); }, state.pollDelay);
    });
  }

  function backOff() {
    state.reconnecting = true;
    state.pollDelay = Math.min(state.pollDelay * 2, MAX_BACKOFF_MS);
    render();
  }

  // onLeave tells the relay (so the advisor sees the customer gone), then
  // forgets the secret whatever the answer: leaving never waits on the
  // network.
  function onLeave() {
    var secret = state.secret;
    call.leave();
    if (secret) {
      api('POST', '/api/v1/participant/leave', null, secret).then(function () {}, function () {});
    }
    finish('left');
  }

  // onCallEnded: the relay ended the meeting's connection.
  function onCallEnded(reason) {
    switch (reason) {
      case 'meeting_ended': finish('meeting_ended'); break;
      case 'removed': finish('removed'); break;
      case 'left': finish('left'); break;
      case 'replaced':
        // Another tab of this browser took over; the secret stays so that
        // "Continue here" can take the meeting back.
        call.stop();
        go('replaced');
        break;
      case 'not_admitted':
        // Not (or no longer) admitted: the waiting room finds out what
        // happened.
        if (state.secret) wait(state.secret); else finish('gone');
        break;
      default: finish('gone');
    }
  }

  // ---- signing in the meeting (docs/signing.md, "Synchronous signing") ----

  // The advisor presents a document: the relay sends this participant a
  // sign_request with the signing page's URL (/s/<link>#session=<pss>).
  // The dialog offers to open it in an overlay over the call (the call's
  // audio and video keep running underneath; the own camera stays visible
  // as a small tile); a link opens it in a new tab instead. The framed
  // page (sign.js, embedded mode) tells this page by postMessage when the
  // signer is done ('signed') or it cannot go on ('closed'); as a
  // fallback (the new tab sends no message) the link's public state is
  // polled every 3 s until this signer has signed.
  var SIGN_TEXTS = {
    en: { ask: function (title) { return 'Your advisor asks you to sign “' + title + '”.'; }, open: 'Open', later: 'Not now',
      close: 'Close', done: 'Thank you, your signature has been recorded.', heading: 'Sign the document', headingShort: 'Sign',
      callGoesOn: 'Your call continues in the background.', newTab: 'Open in a new tab', frame: 'Signing page',
      closeLabel: 'Close the signing page (Escape)', you: 'You', notPossible: 'This document cannot be signed here right now. Please talk to your advisor.' },
    de: { ask: function (title) { return 'Ihr Berater bittet Sie, „' + title + '“ zu unterschreiben.'; }, open: 'Öffnen', later: 'Jetzt nicht',
      close: 'Schließen', done: 'Vielen Dank, Ihre Unterschrift wurde erfasst.', heading: 'Dokument unterschreiben', headingShort: 'Unterschreiben',
      callGoesOn: 'Ihr Gespräch läuft im Hintergrund weiter.', newTab: 'In neuem Tab öffnen', frame: 'Unterschriftsseite',
      closeLabel: 'Unterschriftsseite schließen (Escape)', you: 'Sie', notPossible: 'Dieses Dokument kann hier gerade nicht unterschrieben werden. Bitte sprechen Sie mit Ihrem Berater.' }
  };
  // box: the request dialog; overlay: the framed signing page; back: where
  // focus returns when everything is closed.
  var signing = { box: null, open: null, overlay: null, frame: null, timer: null, selfTimer: 0, url: '', back: null, inerted: [] };

  function signText(key) { return (SIGN_TEXTS[state.lang] || SIGN_TEXTS.en)[key]; }

  // signURL is the signing page's URL with this page's language added to
  // the fragment (sign.js reads it when embedded).
  function signURL() {
    return signing.url + (signing.url.indexOf('#') >= 0 ? '&' : '#') + 'lang=' + state.lang;
  }

  function closeOverlay() {
    if (!signing.overlay) return;
    clearInterval(signing.selfTimer);
    signing.selfTimer = 0;
    signing.overlay.remove();
    signing.overlay = null;
    signing.frame = null;
    signing.inerted.forEach(function (n) { n.inert = false; });
    signing.inerted = [];
  }

  function restoreFocus() {
    var back = signing.back;
    signing.back = null;
    if (back && back !== document.body && back.isConnected && !back.closest('[hidden]')) back.focus();
    else el.heading.focus({ preventScroll: true });
  }

  // closeSigning ends the whole request: overlay, dialog and polling.
  function closeSigning(message) {
    clearInterval(signing.timer);
    signing.timer = null;
    var had = !!(signing.box || signing.overlay);
    closeOverlay();
    if (signing.box) signing.box.remove();
    signing.box = null;
    signing.open = null;
    if (message) {
      var note = document.createElement('p');
      note.className = 'sign-note';
      note.setAttribute('role', 'status');
      note.textContent = message;
      document.body.appendChild(note);
      setTimeout(function () { note.remove(); }, 6000);
    }
    if (had) restoreFocus();
  }

  // backToDialog closes the overlay only (Escape, the close button): the
  // dialog offers to open it again.
  function backToDialog() {
    closeOverlay();
    if (!signing.box) { restoreFocus(); return; }
    signing.box.hidden = false;
    signing.open.focus();
  }

  function watchSigning(token) {
    clearInterval(signing.timer);
    signing.timer = setInterval(function () {
      api('GET', '/api/v1/sign/' + encodeURIComponent(token)).then(function (r) {
        if (!signing.timer) return; // closed meanwhile
        var v = r.body && r.body.signer;
        if (r.status === 200 && v && (v.state === 'signed' || v.status === 'completed')) closeSigning(signText('done'));
        else if (r.status === 404 || r.status === 410) closeSigning('');
      }, function () { /* try again */ });
    }, 3000);
  }

  // onSignMessage takes the framed signing page's word: only from this
  // relay's origin and from the frame shown.
  function onSignMessage(ev) {
    if (ev.origin !== location.origin || !signing.frame || ev.source !== signing.frame.contentWindow) return;
    var d = ev.data;
    if (!d || d.type !== 'parley-sign') return;
    if (d.state === 'signed') closeSigning(signText('done'));
    else if (d.state === 'closed' && d.reason === 'escape') backToDialog();
    else if (d.state === 'closed') closeSigning(signText('notPossible'));
  }

  // selfTile is a small copy of the own camera (the same stream, a second
  // video element: the call's own tile stays where it is). It follows the
  // camera being switched on or off while the overlay is open.
  function selfTile() {
    var fig = document.createElement('figure');
    fig.className = 'sign-self';
    var v = document.createElement('video');
    v.autoplay = true;
    v.muted = true;
    v.playsInline = true;
    v.setAttribute('aria-hidden', 'true');
    var cap = document.createElement('figcaption');
    cap.textContent = signText('you');
    fig.append(v, cap);
    function follow() {
      var src = document.getElementById('self-video');
      var stream = src && src.srcObject;
      if (stream && !stream.getVideoTracks().some(function (tr) { return tr.readyState === 'live'; })) stream = null;
      fig.hidden = !stream;
      if (v.srcObject === stream) return;
      v.srcObject = stream;
      if (!stream) return;
      var p = v.play();
      if (p && p.catch) p.catch(function () { /* autoplay refused: a still tile */ });
    }
    follow();
    clearInterval(signing.selfTimer);
    signing.selfTimer = setInterval(follow, 1000);
    return fig;
  }

  function openOverlay() {
    if (signing.overlay) return;
    var ov = document.createElement('div');
    ov.className = 'sign-overlay';
    var panel = document.createElement('section');
    panel.className = 'sign-panel';
    panel.setAttribute('role', 'dialog');
    panel.setAttribute('aria-modal', 'true');
    panel.setAttribute('aria-labelledby', 'sign-overlay-heading');
    panel.setAttribute('aria-describedby', 'sign-overlay-note');
    var bar = document.createElement('div');
    bar.className = 'sign-bar';
    var titles = document.createElement('div');
    titles.className = 'sign-titles';
    var h = document.createElement('h2');
    h.id = 'sign-overlay-heading';
    // The long heading, and a short one for narrow screens (CSS shows one).
    var long = document.createElement('span');
    long.className = 'long';
    long.textContent = signText('heading');
    var short = document.createElement('span');
    short.className = 'short';
    short.textContent = signText('headingShort');
    h.append(long, short);
    var note = document.createElement('p');
    note.id = 'sign-overlay-note';
    note.className = 'hint';
    note.textContent = signText('callGoesOn');
    titles.append(h, note);
    var tab = document.createElement('a');
    tab.className = 'sign-newtab';
    tab.href = signing.url;
    tab.target = '_blank';
    tab.rel = 'noopener noreferrer';
    tab.textContent = signText('newTab');
    var close = document.createElement('button');
    close.type = 'button';
    close.className = 'sign-close';
    close.setAttribute('aria-label', signText('closeLabel'));
    close.title = signText('closeLabel');
    close.textContent = '×';
    close.addEventListener('click', backToDialog);
    bar.append(selfTile(), titles, tab, close);
    var frame = document.createElement('iframe');
    frame.className = 'sign-frame';
    frame.title = signText('frame');
    frame.setAttribute('referrerpolicy', 'no-referrer');
    frame.src = signURL();
    frame.addEventListener('load', function () {
      if (signing.frame === frame && panel.contains(document.activeElement)) frame.focus();
    });
    panel.append(bar, frame);
    ov.appendChild(panel);
    ov.addEventListener('keydown', function (e) {
      if (e.key === 'Escape') { e.preventDefault(); backToDialog(); }
    });
    // Everything else on the page is inert while the overlay is open:
    // focus stays in it (the call keeps playing).
    Array.prototype.forEach.call(document.body.children, function (n) {
      if (!n.inert && n.tagName !== 'SCRIPT') { n.inert = true; signing.inerted.push(n); }
    });
    document.body.appendChild(ov);
    signing.overlay = ov;
    signing.frame = frame;
    if (signing.box) signing.box.hidden = true;
    close.focus();
  }

  function onSignRequest(sign) {
    if (typeof sign.url !== 'string' || sign.url.indexOf('/s/') !== 0) return;
    var token = sign.url.slice(3).split('#')[0];
    var back = signing.back;
    closeSigning('');
    signing.back = back && back.isConnected ? back : document.activeElement;
    signing.url = sign.url;
    var box = document.createElement('section');
    box.className = 'sign-request';
    box.setAttribute('role', 'alertdialog');
    box.setAttribute('aria-modal', 'false');
    var text = document.createElement('p');
    text.id = 'sign-request-text';
    text.textContent = signText('ask')(String(sign.title || ''));
    box.setAttribute('aria-labelledby', text.id);
    var open = document.createElement('button');
    open.type = 'button';
    open.className = 'primary';
    open.textContent = signText('open');
    var later = document.createElement('button');
    later.type = 'button';
    later.textContent = signText('later');
    later.addEventListener('click', function () { closeSigning(''); });
    open.addEventListener('click', openOverlay);
    var tab = document.createElement('a');
    tab.className = 'sign-newtab';
    tab.href = sign.url;
    tab.target = '_blank';
    tab.rel = 'noopener noreferrer';
    tab.textContent = signText('newTab');
    box.append(text, open, later, tab);
    box.addEventListener('keydown', function (e) {
      if (e.key === 'Escape') { e.preventDefault(); closeSigning(''); }
    });
    document.body.appendChild(box);
    signing.box = box;
    signing.open = open;
    open.focus();
    watchSigning(token);
  }

  // ---- start ----

  var call = CALL.create({
    t: t,
    lang: function () { return state.lang; },
    secret: function () { return state.secret; },
    participantId: function () { return state.participantId; },
    ended: onCallEnded,
    signRequest: onSignRequest
  });

  document.querySelectorAll('.lang-switch button').forEach(function (b) {
    b.addEventListener('click', function () {
      state.lang = b.dataset.lang;
      try { sessionStorage.setItem(LANG_KEY, state.lang); } catch (e) { /* not kept */ }
      render();
    });
  });
  window.addEventListener('message', onSignMessage);
  el.form.addEventListener('submit', onSubmit);
  el.leave.addEventListener('click', onLeave);
  el.callLeave.addEventListener('click', onLeave);
  el.retry.addEventListener('click', function () {
    if (state.view === 'replaced' && state.secret) { enterCall(); return; }
    var saved = loadSecret();
    if (saved) { wait(saved.secret); } else { go('loading'); resolve(); }
  });

  render();
  var saved = loadSecret();
  if (saved) {
    // A reload of this tab: go straight back to the waiting room (which
    // moves on to the meeting if already admitted); the link is resolved
    // only for the advisor's name.
    state.secret = saved.secret;
    state.participantId = saved.participant_id || '';
    wait(saved.secret);
    api('GET', '/api/v1/join/' + encodeURIComponent(token)).then(function (r) {
      if (r.status === 200) { state.info = r.body; render(); }
    }, function () { /* the name is a nicety */ });
  } else {
    resolve();
  }
})();
