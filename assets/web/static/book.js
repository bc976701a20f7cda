// The customer's booking pages. This file holds what the booking page
// (/b/{page}, book.html) and the manage page (/m/{token}, manage.html,
// manage.js) share — texts in German and English, the API client, date
// formatting in the customer's time zone, the week-by-week slot picker —
// as window.ParleyBooking, and runs the booking page when the body says
// data-page="book".
//
// Privacy: nothing is kept in cookies or localStorage; the chosen language
// and (on the manage page) the manage token live in sessionStorage only.
// Every request goes to this relay; every text from the relay is inserted
// with textContent.
(function () {
  'use strict';

  var TEXTS = {
    en: {
      pageTitle: 'Book an appointment – Parley',
      loadingHeading: 'One moment',
      loadingStatus: 'Loading the booking page…',
      advisorLabel: 'Your advisor',
      chooseHeading: function (p) { return 'Book an appointment with ' + p.advisor; },
      chooseStatus: 'Choose the kind of appointment, then a free time.',
      noTypes: 'There are no appointments to book at the moment. Please try again later or contact your advisor.',
      typeHeading: 'What would you like to book?',
      kind_video: 'Video call',
      kind_phone: 'Phone call',
      kind_onsite: 'Visit at your address',
      minutes: function (p) { return p.n + ' min'; },
      changeType: 'Change',
      slotHeading: 'Choose a time',
      slotStatus: 'Pick a free time. We hold it for you while you enter your details.',
      zoneSame: function (p) { return 'Times are shown in your time zone: ' + p.zone + '.'; },
      zoneDiffers: function (p) { return 'Times are shown in your time zone: ' + p.zone + '. Your advisor works in another time zone (' + p.advisor + ').'; },
      prevWeek: 'Previous week',
      nextWeek: 'Next week',
      weekOf: function (p) { return p.range; },
      slotsLoading: 'Looking for free times…',
      noSlotsWeek: 'No free times this week. Please look at the next week.',
      noSlotsLast: 'No free times this week, and appointments cannot be booked further ahead.',
      slotsCount: function (p) { return p.n === 1 ? '1 free time this week.' : p.n + ' free times this week.'; },
      slotLabel: function (p) { return p.date + ', ' + p.time; },
      holding: 'Reserving this time…',
      changeSlot: 'Choose another time',
      formHeading: 'Your details',
      formStatus: 'Almost done: enter your details and confirm.',
      heldUntil: function (p) { return 'This time is held for you until ' + p.time + '.'; },
      holdExpired: 'Your reservation has run out. When you book, we check again whether this time is still free.',
      firstName: 'First name',
      lastName: 'Last name',
      email: 'E-mail address',
      emailHint: 'We send the confirmation and a link to change or cancel the appointment to this address.',
      phone: 'Phone number',
      phoneHint: 'Your advisor calls you on this number. With country code, e.g. +49 170 1234567.',
      address: 'Your address',
      addressHint: 'Your advisor visits you at this address.',
      street: 'Street and number',
      postalCode: 'Postal code',
      city: 'City',
      message: 'Message to your advisor',
      optional: '(optional)',
      counter: function (p) { return p.n + ' of ' + p.max + ' characters'; },
      privacyText: 'We use your details only to arrange and hold this appointment. They are deleted 42 days after the appointment. This page sets no cookies and loads nothing from other websites.',
      privacyLink: 'Privacy notice',
      submit: 'Book appointment',
      submitting: 'Booking…',
      doneHeading: 'Your appointment is booked',
      doneStatus: 'Thank you. Your appointment is confirmed.',
      whenLabel: 'When',
      kindLabel: 'How',
      withLabel: 'With',
      mailOnItsWay: 'A confirmation e-mail is on its way to you. It also holds the link to change or cancel the appointment.',
      manageLink: 'Change or cancel this appointment',
      retry: 'Try again',
      // Field checks, in the page and from the relay.
      need_first_name: 'Please enter your first name.',
      need_last_name: 'Please enter your last name.',
      need_email: 'Please enter your e-mail address.',
      bad_email: 'Please enter a valid e-mail address, e.g. name@example.com.',
      need_phone: 'Please enter the phone number your advisor should call.',
      bad_phone: 'Please enter a valid phone number with country code, e.g. +49 170 1234567.',
      need_street: 'Please enter your street and house number.',
      need_postal_code: 'Please enter your postal code.',
      need_city: 'Please enter your city.',
      bad_address: 'Please check your address.',
      bad_first_name: 'Please check your first name: it can have at most 100 characters, and no < or >.',
      bad_last_name: 'Please check your last name: it can have at most 100 characters, and no < or >.',
      bad_text: 'Your message is too long or contains characters that are not allowed (at most 2000 characters).',
      fixFields: 'Please correct the marked fields.',
      // Errors by the relay's error code.
      err_slot_taken: 'Sorry, this time has just been taken. Please choose another time.',
      err_outside_availability: 'This time is no longer available. Please choose another time.',
      err_too_soon: 'This time is too soon to be booked. Please choose a later time.',
      err_beyond_horizon: function (p) { return p.date ? 'Appointments can be booked up to ' + p.date + '. Please choose an earlier time.' : 'This time is too far ahead. Please choose an earlier time.'; },
      err_day_full: 'This day is fully booked. Please choose another day.',
      err_hold_invalid: 'Your reservation has run out. Please choose the time again.',
      err_booking_cancelled: 'This appointment has been cancelled.',
      err_page_disabled: 'Online booking is not available for this advisor at the moment. Please contact your advisor directly.',
      err_not_found: 'This booking page does not exist. Please check the link.',
      err_throttled: function (p) { return 'Too many requests from your connection. Please wait ' + (p.seconds || 'a few') + ' seconds and try again.'; },
      err_invalid_input: 'Please check your entries.',
      err_too_large: 'Your entries are too long. Please shorten your message.',
      err_server: 'The booking service could not answer. Please try again.',
      err_offline: 'The booking service cannot be reached. Check your connection and try again.',
      disabledHeading: 'Booking not available',
      notFoundHeading: 'Page not found',
      errorHeading: 'Something went wrong'
    },
    de: {
      pageTitle: 'Termin buchen – Parley',
      loadingHeading: 'Einen Moment',
      loadingStatus: 'Die Buchungsseite wird geladen…',
      advisorLabel: 'Ihre Beraterin / Ihr Berater',
      chooseHeading: function (p) { return 'Termin bei ' + p.advisor + ' buchen'; },
      chooseStatus: 'Wählen Sie die Art des Termins und dann eine freie Zeit.',
      noTypes: 'Zurzeit können keine Termine gebucht werden. Bitte versuchen Sie es später erneut oder wenden Sie sich direkt an Ihre Beratung.',
      typeHeading: 'Was möchten Sie buchen?',
      kind_video: 'Videogespräch',
      kind_phone: 'Telefonat',
      kind_onsite: 'Besuch bei Ihnen',
      minutes: function (p) { return p.n + ' Min.'; },
      changeType: 'Ändern',
      slotHeading: 'Zeit wählen',
      slotStatus: 'Wählen Sie eine freie Zeit. Wir halten sie für Sie frei, während Sie Ihre Angaben machen.',
      zoneSame: function (p) { return 'Die Zeiten sind in Ihrer Zeitzone angegeben: ' + p.zone + '.'; },
      zoneDiffers: function (p) { return 'Die Zeiten sind in Ihrer Zeitzone angegeben: ' + p.zone + '. Ihre Beratung arbeitet in einer anderen Zeitzone (' + p.advisor + ').'; },
      prevWeek: 'Vorige Woche',
      nextWeek: 'Nächste Woche',
      weekOf: function (p) { return p.range; },
      slotsLoading: 'Freie Zeiten werden gesucht…',
      noSlotsWeek: 'In dieser Woche gibt es keine freien Zeiten. Bitte sehen Sie in der nächsten Woche nach.',
      noSlotsLast: 'In dieser Woche gibt es keine freien Zeiten, und weiter im Voraus kann nicht gebucht werden.',
      slotsCount: function (p) { return p.n === 1 ? '1 freie Zeit in dieser Woche.' : p.n + ' freie Zeiten in dieser Woche.'; },
      slotLabel: function (p) { return p.date + ', ' + p.time + ' Uhr'; },
      holding: 'Die Zeit wird für Sie reserviert…',
      changeSlot: 'Andere Zeit wählen',
      formHeading: 'Ihre Angaben',
      formStatus: 'Fast geschafft: Geben Sie Ihre Angaben ein und bestätigen Sie.',
      heldUntil: function (p) { return 'Diese Zeit ist bis ' + p.time + ' Uhr für Sie reserviert.'; },
      holdExpired: 'Ihre Reservierung ist abgelaufen. Beim Buchen prüfen wir erneut, ob die Zeit noch frei ist.',
      firstName: 'Vorname',
      lastName: 'Nachname',
      email: 'E-Mail-Adresse',
      emailHint: 'An diese Adresse senden wir die Bestätigung und einen Link, mit dem Sie den Termin ändern oder absagen können.',
      phone: 'Telefonnummer',
      phoneHint: 'Unter dieser Nummer ruft Ihre Beratung Sie an. Mit Ländervorwahl, z. B. +49 170 1234567.',
      address: 'Ihre Adresse',
      addressHint: 'Ihre Beratung besucht Sie unter dieser Adresse.',
      street: 'Straße und Hausnummer',
      postalCode: 'Postleitzahl',
      city: 'Ort',
      message: 'Nachricht an Ihre Beratung',
      optional: '(freiwillig)',
      counter: function (p) { return p.n + ' von ' + p.max + ' Zeichen'; },
      privacyText: 'Wir verwenden Ihre Angaben nur, um diesen Termin zu vereinbaren und durchzuführen. Sie werden 42 Tage nach dem Termin gelöscht. Diese Seite setzt keine Cookies und lädt nichts von anderen Websites.',
      privacyLink: 'Datenschutzhinweise',
      submit: 'Termin buchen',
      submitting: 'Wird gebucht…',
      doneHeading: 'Ihr Termin ist gebucht',
      doneStatus: 'Vielen Dank. Ihr Termin ist bestätigt.',
      whenLabel: 'Wann',
      kindLabel: 'Wie',
      withLabel: 'Mit',
      mailOnItsWay: 'Eine Bestätigung per E-Mail ist unterwegs. Sie enthält auch den Link, um den Termin zu ändern oder abzusagen.',
      manageLink: 'Diesen Termin ändern oder absagen',
      retry: 'Erneut versuchen',
      need_first_name: 'Bitte geben Sie Ihren Vornamen ein.',
      need_last_name: 'Bitte geben Sie Ihren Nachnamen ein.',
      need_email: 'Bitte geben Sie Ihre E-Mail-Adresse ein.',
      bad_email: 'Bitte geben Sie eine gültige E-Mail-Adresse ein, z. B. name@example.com.',
      need_phone: 'Bitte geben Sie die Telefonnummer ein, unter der Ihre Beratung Sie anrufen soll.',
      bad_phone: 'Bitte geben Sie eine gültige Telefonnummer mit Ländervorwahl ein, z. B. +49 170 1234567.',
      need_street: 'Bitte geben Sie Straße und Hausnummer ein.',
      need_postal_code: 'Bitte geben Sie Ihre Postleitzahl ein.',
      need_city: 'Bitte geben Sie Ihren Ort ein.',
      bad_address: 'Bitte prüfen Sie Ihre Adresse.',
      bad_first_name: 'Bitte prüfen Sie Ihren Vornamen: Er darf höchstens 100 Zeichen haben und kein < oder >.',
      bad_last_name: 'Bitte prüfen Sie Ihren Nachnamen: Er darf höchstens 100 Zeichen haben und kein < oder >.',
      bad_text: 'Ihre Nachricht ist zu lang oder enthält unzulässige Zeichen (höchstens 2000 Zeichen).',
      fixFields: 'Bitte korrigieren Sie die markierten Felder.',
      err_slot_taken: 'Diese Zeit wurde leider gerade vergeben. Bitte wählen Sie eine andere Zeit.',
      err_outside_availability: 'Diese Zeit ist nicht mehr verfügbar. Bitte wählen Sie eine andere Zeit.',
      err_too_soon: 'Diese Zeit ist zu kurzfristig. Bitte wählen Sie eine spätere Zeit.',
      err_beyond_horizon: function (p) { return p.date ? 'Termine können bis zum ' + p.date + ' gebucht werden. Bitte wählen Sie eine frühere Zeit.' : 'Diese Zeit liegt zu weit in der Zukunft. Bitte wählen Sie eine frühere Zeit.'; },
      err_day_full: 'Dieser Tag ist ausgebucht. Bitte wählen Sie einen anderen Tag.',
      err_hold_invalid: 'Ihre Reservierung ist abgelaufen. Bitte wählen Sie die Zeit erneut.',
      err_booking_cancelled: 'Dieser Termin wurde abgesagt.',
      err_page_disabled: 'Die Online-Buchung ist für diese Beratung zurzeit nicht möglich. Bitte wenden Sie sich direkt an Ihre Beratung.',
      err_not_found: 'Diese Buchungsseite gibt es nicht. Bitte prüfen Sie den Link.',
      err_throttled: function (p) { return 'Zu viele Anfragen von Ihrer Verbindung. Bitte warten Sie ' + (p.seconds || 'einige') + ' Sekunden und versuchen Sie es erneut.'; },
      err_invalid_input: 'Bitte prüfen Sie Ihre Angaben.',
      err_too_large: 'Ihre Angaben sind zu lang. Bitte kürzen Sie Ihre Nachricht.',
      err_server: 'Der Buchungsdienst konnte nicht antworten. Bitte versuchen Sie es erneut.',
      err_offline: 'Der Buchungsdienst ist nicht erreichbar. Bitte prüfen Sie Ihre Verbindung und versuchen Sie es erneut.',
      disabledHeading: 'Buchung nicht möglich',
      notFoundHeading: 'Seite nicht gefunden',
      errorHeading: 'Etwas ist schiefgegangen'
    }
  };

  var LANG_KEY = 'parley.booking.lang';
  var MAX_TEXT = 2000;
  // The relay's limits for names (relay/customer/validate.go), mirrored.
  var MAX_NAME = 100;
  var NAME_FORBIDDEN = /[<>\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069\ufffd]/;
  var AUTO_ADVANCE_WEEKS = 8;
  var DAY_MS = 24 * 3600 * 1000;

  var $ = function (id) { return document.getElementById(id); };

  // ---- language ----

  var lang = pickLanguage();
  var onLanguage = [];

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
    var v = TEXTS[lang][key];
    if (v === undefined) v = TEXTS.en[key];
    if (v === undefined) return key;
    return typeof v === 'function' ? v(params || {}) : v;
  }

  // setLanguage switches the language, remembers it for this tab and
  // re-renders the page.
  function setLanguage(l) {
    if (l !== 'de' && l !== 'en') return;
    lang = l;
    try { sessionStorage.setItem(LANG_KEY, l); } catch (e) { /* not kept */ }
    onLanguage.forEach(function (fn) { fn(); });
  }

  // applyStaticTexts fills every [data-t] element and the language
  // switch's state.
  function applyStaticTexts() {
    document.documentElement.lang = lang;
    document.querySelectorAll('[data-t]').forEach(function (n) {
      var text = t(n.dataset.t);
      if (n.textContent !== text) n.textContent = text;
    });
    document.querySelectorAll('.lang-switch button').forEach(function (b) {
      b.setAttribute('aria-pressed', String(b.dataset.lang === lang));
    });
  }

  function wireLanguageSwitch() {
    document.querySelectorAll('.lang-switch button').forEach(function (b) {
      b.addEventListener('click', function () { setLanguage(b.dataset.lang); });
    });
  }

  // ---- formatting in the customer's time zone ----

  function locale() { return lang === 'de' ? 'de-DE' : 'en-GB'; }

  function customerZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { return ''; }
  }

  function fmt(d, opts) { return new Intl.DateTimeFormat(locale(), opts).format(d); }
  function fmtTime(d) { return fmt(d, { hour: '2-digit', minute: '2-digit' }); }
  function fmtDay(d) { return fmt(d, { weekday: 'long', day: 'numeric', month: 'long' }); }
  function fmtDate(d) { return fmt(d, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }); }

  // fmtWhen is "Tuesday, 25 November 2026, 09:00–09:30".
  function fmtWhen(start, end) {
    var s = fmtDate(start) + ', ' + fmtTime(start);
    if (end) s += '\u2013' + fmtTime(end);
    if (lang === 'de') s += ' Uhr';
    return s;
  }

  // fmtPlainDate formats a "YYYY-MM-DD" calendar date (no zone attached).
  function fmtPlainDate(ymd) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd || '');
    if (!m) return ymd || '';
    var d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], 12));
    return new Intl.DateTimeFormat(locale(), { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }).format(d);
  }

  // zoneLabel is the IANA name with the zone's long name, e.g.
  // "America/New_York (Eastern Standard Time)".
  function zoneLabel(zone, at) {
    if (!zone) return '';
    var long = '';
    try {
      var parts = new Intl.DateTimeFormat(locale(), { timeZone: zone, timeZoneName: 'long' }).formatToParts(at || new Date());
      parts.forEach(function (p) { if (p.type === 'timeZoneName') long = p.value; });
    } catch (e) { /* unknown zone */ }
    return long && long !== zone ? zone.replace(/_/g, ' ') + ' (' + long + ')' : zone.replace(/_/g, ' ');
  }

  // sameZone tells whether two IANA zones keep the same time now and in
  // half a year (so "Europe/Berlin" and "Europe/Paris" count as the same).
  function sameZone(a, b) {
    if (!a || !b) return true;
    if (a === b) return true;
    try {
      var now = new Date();
      var later = new Date(now.getTime() + 182 * DAY_MS);
      return [now, later].every(function (d) {
        var f = function (z) { return new Intl.DateTimeFormat('en-GB', { timeZone: z, hour: '2-digit', minute: '2-digit', day: '2-digit' }).format(d); };
        return f(a) === f(b);
      });
    } catch (e) {
      return false;
    }
  }

  // Calendar arithmetic in the browser's zone (the customer's): new
  // Date(y, m, d) is local midnight, also across DST changes.
  function startOfDay(d) { return new Date(d.getFullYear(), d.getMonth(), d.getDate()); }
  function addDays(d, n) { return new Date(d.getFullYear(), d.getMonth(), d.getDate() + n); }
  function startOfWeek(d) { return addDays(startOfDay(d), -((d.getDay() + 6) % 7)); }
  function dayKey(d) {
    var p = function (n) { return (n < 10 ? '0' : '') + n; };
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate());
  }
  function rfc3339(d) { return d.toISOString().replace(/\.\d{3}Z$/, 'Z'); }

  function initials(name) {
    var parts = String(name || '').trim().split(/\s+/).filter(Boolean);
    var s = parts.length ? Array.from(parts[0])[0] : '';
    if (parts.length > 1) s += Array.from(parts[parts.length - 1])[0];
    return s.toUpperCase();
  }

  // ---- the API ----

  // api returns a promise of {status, body, retryAfter}; it rejects only
  // when the relay cannot be reached.
  function api(method, path, body, headers) {
    var h = { 'Accept': 'application/json' };
    if (body) h['Content-Type'] = 'application/json';
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    return fetch(path, {
      method: method, headers: h, body: body ? JSON.stringify(body) : undefined,
      cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer'
    }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (b) {
        return { status: res.status, body: b || {}, retryAfter: res.headers.get('Retry-After') };
      });
    });
  }

  function errorOf(r) {
    return r && r.body && r.body.error ? r.body.error : { code: r && r.status >= 500 ? 'internal' : '', message: '' };
  }

  // errorText is the customer's message for an error answer (or for no
  // answer at all when r is null).
  function errorText(r) {
    if (!r) return t('err_offline');
    var e = errorOf(r);
    switch (e.code) {
      case 'beyond_horizon':
        return t('err_beyond_horizon', { date: fmtPlainDate(e.last_bookable_date) });
      case 'throttled':
        return t('err_throttled', { seconds: e.retry_after_seconds || r.retryAfter || '' });
      case 'slot_taken': case 'outside_availability': case 'too_soon': case 'day_full':
      case 'hold_invalid': case 'booking_cancelled': case 'page_disabled': case 'not_found':
      case 'invalid_input': case 'too_large':
        return t('err_' + e.code);
    }
    return t('err_server');
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x < 16 ? '0' : '') + x.toString(16); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  // ---- icons for the kinds of appointment (built, not parsed) ----

  var ICONS = {
    video: ['M3 7h11a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1z', 'M15 11l6-3.5v9L15 13z'],
    phone: ['M6.6 3.5l2.6-.6 1.6 4.2-2 1.4a11 11 0 0 0 6.7 6.7l1.4-2 4.2 1.6-.6 2.6a2 2 0 0 1-2 1.6A16 16 0 0 1 5 5.5a2 2 0 0 1 1.6-2z'],
    onsite: ['M3 11.5L12 4l9 7.5', 'M5.5 10v10h13V10', 'M10 20v-5h4v5']
  };

  function kindIcon(kind) {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', 'kind-icon');
    (ICONS[kind] || ICONS.video).forEach(function (d) {
      var p = document.createElementNS(ns, 'path');
      p.setAttribute('d', d);
      svg.appendChild(p);
    });
    return svg;
  }

  function kindLabel(kind) {
    return t('kind_' + (kind === 'phone' || kind === 'onsite' ? kind : 'video'));
  }

  function node(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = text;
    return n;
  }

  // ---- the slot picker (both pages) ----

  // SlotPicker shows the free slots of one appointment type week by week
  // in the elements #week-prev, #week-next, #week-label, #zone-note,
  // #slots-msg and #slot-days. opts: pageId, typeId, advisorZone,
  // horizonDays, onPick(slot) (slot = {start, end} as the relay sent it),
  // onFatal(r) for answers that end the page (page gone or disabled).
  function SlotPicker(opts) {
    this.o = opts;
    this.el = {
      prev: $('week-prev'), next: $('week-next'), label: $('week-label'),
      zone: $('zone-note'), msg: $('slots-msg'), days: $('slot-days')
    };
    this.week = startOfWeek(new Date());
    this.slots = null;     // the week's slots, or null while loading
    this.lastBookable = '';
    this.notice = '';      // an error text shown above the slots
    this.error = null;     // the failed answer of the last load
    this.busy = false;     // a slot is being held
    this.seq = 0;
    var self = this;
    this.onPrev = function () { self.go(-7); };
    this.onNext = function () { self.go(7); };
    this.el.prev.addEventListener('click', this.onPrev);
    this.el.next.addEventListener('click', this.onNext);
  }

  SlotPicker.prototype.destroy = function () {
    this.seq++;
    this.el.prev.removeEventListener('click', this.onPrev);
    this.el.next.removeEventListener('click', this.onNext);
    this.el.days.textContent = '';
  };

  SlotPicker.prototype.thisWeek = function () { return startOfWeek(new Date()); };

  SlotPicker.prototype.canNext = function () {
    var next = addDays(this.week, 7);
    if (this.lastBookable && dayKey(next) > this.lastBookable) return false;
    if (this.o.horizonDays > 0 && next.getTime() > Date.now() + (this.o.horizonDays + 1) * DAY_MS) return false;
    return true;
  };

  SlotPicker.prototype.canPrev = function () { return this.week.getTime() > this.thisWeek().getTime(); };

  SlotPicker.prototype.go = function (days) {
    if (this.busy) return;
    if (days > 0 && !this.canNext()) return;
    if (days < 0 && !this.canPrev()) return;
    this.week = addDays(this.week, days);
    this.notice = '';
    this.load(0);
  };

  // load fetches the week's slots; with advance > 0 an empty week moves on
  // to the next one, at most advance times (the first visit).
  SlotPicker.prototype.load = function (advance) {
    var self = this;
    var seq = ++this.seq;
    var now = new Date();
    var from = this.week.getTime() < now.getTime() ? now : this.week;
    var to = addDays(this.week, 7);
    this.slots = null;
    this.error = null;
    this.render();
    var q = '?type=' + encodeURIComponent(this.o.typeId) + '&from=' + encodeURIComponent(rfc3339(from)) + '&to=' + encodeURIComponent(rfc3339(to));
    api('GET', '/api/v1/pages/' + encodeURIComponent(this.o.pageId) + '/slots' + q).then(function (r) {
      if (seq !== self.seq) return;
      if (r.status !== 200) {
        var code = errorOf(r).code;
        if ((code === 'page_disabled' || code === 'not_found') && self.o.onFatal) { self.o.onFatal(r); return; }
        self.error = r;
        self.slots = [];
        self.render();
        return;
      }
      self.lastBookable = r.body.last_bookable_date || self.lastBookable;
      self.slots = (r.body.slots || []).filter(function (s) { return s && s.start; });
      if (self.slots.length === 0 && advance > 0 && self.canNext()) {
        self.week = addDays(self.week, 7);
        self.load(advance - 1);
        return;
      }
      self.render();
    }, function () {
      if (seq !== self.seq) return;
      self.error = 'offline';
      self.slots = [];
      self.render();
    });
  };

  SlotPicker.prototype.setBusy = function (on) {
    this.busy = on;
    this.render();
  };

  SlotPicker.prototype.render = function () {
    var el = this.el;
    var self = this;
    var zone = customerZone();
    el.zone.textContent = sameZone(zone, this.o.advisorZone)
      ? t('zoneSame', { zone: zoneLabel(zone, this.week) })
      : t('zoneDiffers', { zone: zoneLabel(zone, this.week), advisor: String(this.o.advisorZone).replace(/_/g, ' ') });
    var last = addDays(this.week, 6);
    var range;
    try {
      range = new Intl.DateTimeFormat(locale(), { day: 'numeric', month: 'short', year: 'numeric' }).formatRange(this.week, last);
    } catch (e) {
      range = fmt(this.week, { day: 'numeric', month: 'short' }) + ' \u2013 ' + fmt(last, { day: 'numeric', month: 'short', year: 'numeric' });
    }
    el.label.textContent = t('weekOf', { range: range });
    el.prev.disabled = this.busy || !this.canPrev();
    el.next.disabled = this.busy || !this.canNext();

    var msg;
    if (this.slots === null) msg = t('slotsLoading');
    else if (this.error) msg = errorText(this.error === 'offline' ? null : this.error);
    else if (this.slots.length === 0) msg = this.canNext() ? t('noSlotsWeek') : t('noSlotsLast');
    else msg = t('slotsCount', { n: this.slots.length });
    if (this.busy) msg = t('holding');
    el.msg.textContent = msg;
    el.msg.classList.toggle('problem', !!this.error);

    // The notice (e.g. "just taken") stays until the week changes.
    var notice = $('slots-notice');
    if (this.notice) {
      if (!notice) {
        notice = node('p', 'notice problem');
        notice.id = 'slots-notice';
        notice.setAttribute('role', 'alert');
        el.msg.parentNode.insertBefore(notice, el.msg);
      }
      notice.textContent = this.notice;
    } else if (notice) {
      notice.remove();
    }

    el.days.textContent = '';
    if (!this.slots || this.slots.length === 0) {
      if (this.error) {
        var retry = node('button', 'secondary small', t('retry'));
        retry.type = 'button';
        retry.addEventListener('click', function () { self.load(0); });
        el.days.appendChild(retry);
      }
      return;
    }
    var days = {};
    var order = [];
    this.slots.forEach(function (s) {
      var start = new Date(s.start);
      if (isNaN(start.getTime())) return;
      var k = dayKey(start);
      if (!days[k]) { days[k] = { date: start, slots: [] }; order.push(k); }
      days[k].slots.push(s);
    });
    order.sort();
    order.forEach(function (k) {
      var day = days[k];
      var group = node('section', 'day');
      var h = node('h3', 'day-heading', fmtDay(day.date));
      h.id = 'day-' + k;
      group.setAttribute('aria-labelledby', h.id);
      group.appendChild(h);
      var list = node('ul', 'slot-list');
      day.slots.sort(function (a, b) { return new Date(a.start) - new Date(b.start); });
      day.slots.forEach(function (s) {
        var start = new Date(s.start);
        var li = node('li');
        var b = node('button', 'slot', fmtTime(start));
        b.type = 'button';
        b.dataset.start = s.start;
        b.setAttribute('aria-label', t('slotLabel', { date: fmtDay(start), time: fmtTime(start) }));
        b.disabled = self.busy;
        b.addEventListener('click', function () { if (!self.busy) self.o.onPick(s); });
        li.appendChild(b);
        list.appendChild(li);
      });
      group.appendChild(list);
      el.days.appendChild(group);
    });
  };

  window.ParleyBooking = {
    TEXTS: TEXTS,
    t: t,
    lang: function () { return lang; },
    setLanguage: setLanguage,
    onLanguage: function (fn) { onLanguage.push(fn); },
    applyStaticTexts: applyStaticTexts,
    wireLanguageSwitch: wireLanguageSwitch,
    api: api,
    errorOf: errorOf,
    errorText: errorText,
    uuid: uuid,
    customerZone: customerZone,
    fmtTime: fmtTime,
    fmtWhen: fmtWhen,
    fmtPlainDate: fmtPlainDate,
    zoneLabel: zoneLabel,
    kindIcon: kindIcon,
    kindLabel: kindLabel,
    initials: initials,
    node: node,
    SlotPicker: SlotPicker
  };

  if (document.body.dataset.page === 'book') bookPage();

  // ---- the booking page (/b/{page}) ----

  function bookPage() {
    var el = {
      main: $('book'), heading: $('heading'), status: $('status'),
      advisor: $('advisor'), advisorName: $('advisor-name'), initials: $('advisor-initials'),
      stepType: $('step-type'), typeList: $('type-list'), typeHeading: $('type-heading'),
      stepSlot: $('step-slot'), chosenType: $('chosen-type'), changeType: $('change-type'), slotHeading: $('slot-heading'),
      stepForm: $('step-form'), chosenSlot: $('chosen-slot'), changeSlot: $('change-slot'), holdNote: $('hold-note'),
      formHeading: $('form-heading'), form: $('book-form'), submit: $('submit'), formError: $('form-error'),
      phoneField: $('phone-field'), addressField: $('address-field'), text: $('text'), textCount: $('text-count'),
      privacyText: $('privacy-text'), privacyLink: $('privacy-link'),
      stepDone: $('step-done'), doneWhen: $('done-when'), doneKind: $('done-kind'), doneAdvisor: $('done-advisor'),
      manageLink: $('manage-link'), retry: $('retry')
    };
    // The form's fields: the API's name → the input's id.
    var FIELDS = {
      first_name: 'first-name', last_name: 'last-name', email: 'email', phone: 'phone',
      street: 'street', postal_code: 'postal-code', city: 'city', text: 'text'
    };

    var pageId = (function () {
      var m = /^\/b\/([^/]+)\/?$/.exec(location.pathname);
      return m ? decodeURIComponent(m[1]) : '';
    })();

    var state = {
      view: 'loading',   // loading, types, slots, form, done, disabled, notfound, error
      page: null,        // GET /api/v1/pages/{page}
      type: null,        // the chosen TYPE
      slot: null,        // the held slot {start, end}
      hold: null,        // {token, expires}
      holdExpired: false,
      holdTimer: 0,
      picker: null,
      fieldErrors: {},   // field → text key
      formError: '',     // text
      busy: false,
      submission: null,  // {key, body}: the Idempotency-Key of the last attempt
      booking: null,     // the answer of POST /bookings
      errorText: '',
      privacy: false     // /privacy exists
    };

    var VIEWS = {
      loading: { heading: function () { return t('loadingHeading'); }, status: 'loadingStatus' },
      types: { heading: chooseHeading, status: 'chooseStatus', advisor: true, step: 'stepType' },
      slots: { heading: chooseHeading, status: 'slotStatus', advisor: true, step: 'stepSlot' },
      form: { heading: chooseHeading, status: 'formStatus', advisor: true, step: 'stepForm' },
      done: { heading: function () { return t('doneHeading'); }, status: 'doneStatus', step: 'stepDone' },
      disabled: { heading: function () { return t('disabledHeading'); }, problem: true },
      notfound: { heading: function () { return t('notFoundHeading'); }, problem: true },
      error: { heading: function () { return t('errorHeading'); }, problem: true, retry: true }
    };

    function chooseHeading() {
      return t('chooseHeading', { advisor: state.page ? state.page.advisor_name : '' });
    }

    function render() {
      var v = VIEWS[state.view];
      applyStaticTexts();
      document.title = t('pageTitle');
      el.main.dataset.view = state.view;
      el.main.classList.toggle('problem', !!v.problem);
      el.heading.textContent = v.heading();
      var status = v.status ? t(v.status) : state.errorText;
      if (state.view === 'types' && state.page && activeTypes().length === 0) status = t('noTypes');
      if (el.status.textContent !== status) el.status.textContent = status;

      var page = state.page;
      el.advisor.hidden = !(v.advisor && page);
      if (page) {
        el.advisorName.textContent = page.advisor_name || '';
        el.initials.textContent = initials(page.advisor_name);
      }
      ['stepType', 'stepSlot', 'stepForm', 'stepDone'].forEach(function (k) { el[k].hidden = v.step !== k; });
      el.retry.hidden = !v.retry;

      if (state.view === 'types') renderTypes();
      if (state.type) el.chosenType.textContent = typeSummary(state.type);
      if (state.view === 'slots' && state.picker) state.picker.render();
      if (state.view === 'form') renderForm();
      if (state.view === 'done') renderDone();
    }

    function activeTypes() {
      return (state.page && state.page.types || []).filter(function (ty) { return ty && ty.active !== false; });
    }

    function typeSummary(ty) {
      return ty.name + ' \u00b7 ' + kindLabel(ty.kind) + ' \u00b7 ' + t('minutes', { n: ty.duration_min });
    }

    function renderTypes() {
      el.typeList.textContent = '';
      activeTypes().forEach(function (ty) {
        var li = node('li');
        var b = node('button', 'type-option');
        b.type = 'button';
        b.dataset.type = ty.id;
        b.dataset.kind = ty.kind;
        b.appendChild(kindIcon(ty.kind));
        var text = node('span', 'type-text');
        text.appendChild(node('strong', 'type-name', ty.name));
        text.appendChild(node('span', 'type-meta', kindLabel(ty.kind) + ' \u00b7 ' + t('minutes', { n: ty.duration_min })));
        if (ty.description) text.appendChild(node('span', 'type-desc', ty.description));
        b.appendChild(text);
        b.addEventListener('click', function () { chooseType(ty); });
        li.appendChild(b);
        el.typeList.appendChild(li);
      });
    }

    function go(view, focus) {
      state.view = view;
      render();
      if (focus) focus.focus({ preventScroll: false });
    }

    // ---- loading the page ----

    function load() {
      if (!pageId) { state.errorText = t('err_not_found'); go('notfound'); return; }
      go('loading');
      api('GET', '/api/v1/pages/' + encodeURIComponent(pageId)).then(function (r) {
        if (r.status === 200) {
          state.page = r.body;
          go('types');
          return;
        }
        fatal(r);
      }, function () {
        fatal(null);
      });
      // Link the privacy notice if the relay has one.
      fetch('/privacy', { method: 'HEAD', cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' }).then(function (res) {
        var type = res.headers.get('Content-Type') || '';
        state.privacy = res.ok && type.indexOf('text/html') === 0;
        render();
      }, function () { /* no link */ });
    }

    function fatal(r) {
      state.errorText = errorText(r);
      var code = r ? errorOf(r).code : '';
      if (code === 'page_disabled') go('disabled', el.heading);
      else if (code === 'not_found') go('notfound', el.heading);
      else go('error', el.heading);
    }

    // ---- step 1 → 2 ----

    function chooseType(ty) {
      state.type = ty;
      dropHold();
      if (state.picker) state.picker.destroy();
      state.picker = new SlotPicker({
        pageId: pageId, typeId: ty.id, advisorZone: state.page.time_zone, horizonDays: state.page.horizon_days,
        onPick: pickSlot, onFatal: fatal
      });
      state.picker.lastBookable = state.page.last_bookable_date || '';
      go('slots', el.slotHeading);
      state.picker.load(AUTO_ADVANCE_WEEKS);
    }

    el.changeType.addEventListener('click', function () {
      dropHold();
      if (state.picker) { state.picker.destroy(); state.picker = null; }
      go('types', el.typeHeading);
    });

    // ---- step 2 → 3: hold the slot ----

    function pickSlot(slot) {
      var picker = state.picker;
      picker.notice = '';
      picker.setBusy(true);
      api('POST', '/api/v1/pages/' + encodeURIComponent(pageId) + '/holds', { type: state.type.id, start: slot.start }).then(function (r) {
        picker.setBusy(false);
        if (state.picker !== picker) return;
        if (r.status === 201 && r.body.hold_token) {
          setHold(slot, r.body);
          state.fieldErrors = {};
          state.formError = '';
          go('form', el.formHeading);
          return;
        }
        var code = errorOf(r).code;
        if (code === 'page_disabled' || code === 'not_found') { fatal(r); return; }
        picker.notice = errorText(r);
        if (code === 'throttled') { picker.render(); return; }
        picker.load(0); // the slot is gone (or the answer was odd): show what is free now
      }, function () {
        picker.setBusy(false);
        picker.notice = t('err_offline');
        picker.render();
      });
    }

    function setHold(slot, body) {
      dropHold();
      state.slot = slot;
      state.hold = { token: body.hold_token, expires: new Date(body.expires_at) };
      state.holdExpired = false;
      var ms = state.hold.expires.getTime() - Date.now();
      if (ms > 0 && ms < 24 * 3600 * 1000) {
        state.holdTimer = setTimeout(function () { state.holdExpired = true; render(); }, ms);
      } else if (!(ms > 0)) {
        state.holdExpired = true;
      }
    }

    function dropHold() {
      clearTimeout(state.holdTimer);
      state.hold = null;
      state.holdExpired = false;
    }

    el.changeSlot.addEventListener('click', function () {
      dropHold();
      state.slot = null;
      go('slots', el.slotHeading);
      state.picker.load(0);
    });

    // ---- step 3: the form ----

    function renderForm() {
      var slot = state.slot;
      var kind = state.type.kind;
      if (slot) el.chosenSlot.textContent = fmtWhen(new Date(slot.start), slot.end ? new Date(slot.end) : null);
      el.holdNote.textContent = state.hold && !state.holdExpired ? t('heldUntil', { time: fmtTime(state.hold.expires) }) : t('holdExpired');
      el.holdNote.classList.toggle('expired', !state.hold || state.holdExpired);
      el.phoneField.hidden = kind !== 'phone';
      $('phone').required = kind === 'phone';
      el.addressField.hidden = kind !== 'onsite';
      ['street', 'postal-code', 'city'].forEach(function (id) { $(id).required = kind === 'onsite'; });
      Object.keys(FIELDS).forEach(function (f) { renderFieldError(FIELDS[f], state.fieldErrors[f]); });
      renderFieldError('address', state.fieldErrors.address);
      el.addressField.setAttribute('aria-invalid', state.fieldErrors.address ? 'true' : 'false');
      el.formError.textContent = state.formError;
      el.formError.hidden = !state.formError;
      el.submit.disabled = state.busy;
      el.submit.textContent = state.busy ? t('submitting') : t('submit');
      renderCounter();
      el.privacyText.textContent = t('privacyText');
      el.privacyLink.textContent = t('privacyLink');
      el.privacyLink.hidden = !state.privacy;
    }

    function renderFieldError(id, key) {
      var err = $(id + '-error');
      var input = $(id);
      err.textContent = key ? t(key) : '';
      err.hidden = !key;
      if (input && input.tagName !== 'FIELDSET') {
        if (key) input.setAttribute('aria-invalid', 'true');
        else input.removeAttribute('aria-invalid');
      }
    }

    function renderCounter() {
      var n = el.text.value.length;
      el.textCount.textContent = t('counter', { n: n, max: MAX_TEXT });
      el.textCount.classList.toggle('near', n > MAX_TEXT - 100);
    }
    el.text.addEventListener('input', renderCounter);

    function value(id) { return $(id).value.trim(); }

    // check validates the form in the page; it returns field → text key.
    function check() {
      var errs = {};
      var kind = state.type.kind;
      errs.first_name = checkName(value('first-name'), 'first_name');
      errs.last_name = checkName(value('last-name'), 'last_name');
      var email = value('email');
      if (!email) errs.email = 'need_email';
      else if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) errs.email = 'bad_email';
      if (kind === 'phone') {
        var phone = value('phone');
        if (!phone) errs.phone = 'need_phone';
        else if (!/^\+[0-9 ().-]+$/.test(phone) || !/^\d{6,15}$/.test(phone.replace(/[^0-9]/g, ''))) errs.phone = 'bad_phone';
      }
      if (kind === 'onsite') {
        if (!value('street')) errs.street = 'need_street';
        if (!value('postal-code')) errs.postal_code = 'need_postal_code';
        if (!value('city')) errs.city = 'need_city';
      }
      if (el.text.value.length > MAX_TEXT) errs.text = 'bad_text';
      Object.keys(errs).forEach(function (k) { if (!errs[k]) delete errs[k]; });
      return errs;
    }

    // checkName mirrors the relay's rule for names in customer profiles:
    // at most MAX_NAME characters, no control characters, no angle
    // brackets.
    function checkName(v, field) {
      if (!v) return 'need_' + field;
      if (Array.from(v).length > MAX_NAME || NAME_FORBIDDEN.test(v)) return 'bad_' + field;
      return null;
    }

    function firstInvalid() {
      var order = ['first_name', 'last_name', 'email', 'phone', 'street', 'postal_code', 'city', 'address', 'text'];
      for (var i = 0; i < order.length; i++) {
        if (state.fieldErrors[order[i]]) return order[i] === 'address' ? $('street') : $(FIELDS[order[i]]);
      }
      return null;
    }

    function requestBody() {
      var kind = state.type.kind;
      var body = {
        type: state.type.id, start: state.slot.start, hold_token: state.hold ? state.hold.token : '',
        first_name: value('first-name'), last_name: value('last-name'), email: value('email'), lang: lang
      };
      if (kind === 'phone') body.phone = value('phone');
      if (kind === 'onsite') body.address = { street: value('street'), postal_code: value('postal-code'), city: value('city') };
      var text = el.text.value.trim();
      if (text) body.text = text;
      return body;
    }

    el.form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (state.busy) return;
      state.fieldErrors = check();
      state.formError = '';
      if (Object.keys(state.fieldErrors).length) {
        state.formError = t('fixFields');
        render();
        var f = firstInvalid();
        if (f) f.focus();
        return;
      }
      submit(true);
    });

    // submit posts the booking. The Idempotency-Key stays the same while
    // the same request is sent again (after a lost answer), so a retry
    // never books twice; a changed request gets a new key.
    function submit(mayRehold) {
      var body = requestBody();
      var json = JSON.stringify(body);
      if (!state.submission || state.submission.body !== json) state.submission = { key: uuid(), body: json };
      state.busy = true;
      render();
      api('POST', '/api/v1/pages/' + encodeURIComponent(pageId) + '/bookings', body, { 'Idempotency-Key': state.submission.key }).then(function (r) {
        state.busy = false;
        if (r.status === 201 && r.body.booking) {
          done(r.body);
          return;
        }
        var e = errorOf(r);
        switch (e.code) {
          case 'invalid_input':
            fieldError(e.field);
            return;
          case 'hold_invalid':
            if (mayRehold) { rehold(); return; }
            backToSlots(r);
            return;
          case 'slot_taken': case 'outside_availability': case 'too_soon': case 'beyond_horizon': case 'day_full':
            backToSlots(r);
            return;
          case 'page_disabled': case 'not_found':
            fatal(r);
            return;
        }
        state.formError = errorText(r);
        render();
        el.submit.focus();
      }, function () {
        state.busy = false;
        state.formError = t('err_offline');
        render();
        el.submit.focus();
      });
    }

    // fieldError marks the field the relay refused (invalid_input with
    // "field"): first_name, last_name, email, mobile (the phone field),
    // text, address or address.street / .postal_code / .city.
    function fieldError(field) {
      var f = String(field || '');
      if (f === 'mobile') f = 'phone';
      if (f.indexOf('address.') === 0) f = f.slice('address.'.length);
      var key = null;
      if (f === 'first_name' || f === 'last_name' || f === 'phone' || f === 'text' || f === 'email') key = 'bad_' + f;
      else if (f === 'street' || f === 'postal_code' || f === 'city' || f === 'address' || f === 'country') key = 'bad_address';
      if (key) {
        state.fieldErrors = {};
        state.fieldErrors[FIELDS[f] ? f : 'address'] = key;
      } else if (f === 'start' || f === 'type' || f === 'hold_token') {
        backToSlots({ status: 409, body: { error: { code: 'outside_availability' } } });
        return;
      }
      state.formError = key || state.fieldErrors.address ? t('fixFields') : t('err_invalid_input');
      render();
      var first = firstInvalid();
      (first || el.submit).focus();
    }

    // rehold asks for a new hold on the same slot after the old one ran
    // out, then submits again.
    function rehold() {
      state.busy = true;
      render();
      api('POST', '/api/v1/pages/' + encodeURIComponent(pageId) + '/holds', { type: state.type.id, start: state.slot.start }).then(function (r) {
        state.busy = false;
        if (r.status === 201 && r.body.hold_token) {
          setHold(state.slot, r.body);
          submit(false);
          return;
        }
        backToSlots(r);
      }, function () {
        state.busy = false;
        state.formError = t('err_offline');
        render();
      });
    }

    function backToSlots(r) {
      dropHold();
      state.slot = null;
      go('slots', el.slotHeading);
      state.picker.notice = errorText(r);
      state.picker.load(0);
    }

    // ---- step 4 ----

    function done(answer) {
      dropHold();
      state.booking = answer;
      state.submission = null;
      el.form.reset();
      go('done', el.heading);
    }

    function renderDone() {
      var b = state.booking.booking;
      el.doneWhen.textContent = fmtWhen(new Date(b.start), b.end ? new Date(b.end) : null);
      var kind = kindLabel(b.kind);
      el.doneKind.textContent = b.type_name ? b.type_name + ' \u00b7 ' + kind : kind;
      el.doneAdvisor.textContent = b.advisor_name || (state.page ? state.page.advisor_name : '');
      var url = state.booking.manage_url || '';
      // Only a link to this relay's own manage page is offered.
      var ok = false;
      try { ok = /^\/m\//.test(new URL(url, location.href).pathname) && /^https?:$/.test(new URL(url, location.href).protocol); } catch (e) { ok = false; }
      el.manageLink.hidden = !ok;
      if (ok) el.manageLink.href = url;
    }

    el.retry.addEventListener('click', load);
    wireLanguageSwitch();
    onLanguage.push(render);
    load();
  }
})();
