// The feedback questionnaire (/f/{token}, the link from the invitation
// mail): a rating from 1 to 5 and an optional comment, answered once.
//
// The token is a secret: right after loading, the page moves it from the
// address bar into sessionStorage (this tab only) and shows /f/answer
// instead; the referrer policy keeps it out of every request's Referer.
// Nothing else is stored but the chosen language. Every request goes to
// this relay; every text from the relay is inserted with textContent.
(function () {
  'use strict';

  var MAX = 1000;
  var TEXTS = {
    de: {
      pageTitle: 'Ihre Meinung – Parley',
      loadingHeading: 'Einen Moment',
      heading: function (p) { return p.advisor ? 'Wie war Ihre Beratung mit ' + p.advisor + '?' : 'Wie war Ihre Beratung?'; },
      intro: function (p) { return 'Ihre Beratung am ' + p.date + '. Der Fragebogen dauert nur eine Minute und kann einmal beantwortet werden (bis ' + p.until + ').'; },
      ratingLegend: 'Wie zufrieden waren Sie mit Ihrer Beratung?',
      r1: 'nicht zufrieden', r2: 'wenig zufrieden', r3: 'teils, teils', r4: 'zufrieden', r5: 'sehr zufrieden',
      comment: 'Möchten Sie uns noch etwas sagen? (freiwillig)',
      count: function (p) { return p.n + ' von ' + MAX + ' Zeichen'; },
      privacy: 'Ihre Antwort sieht nur Ihre Beratung (und die Administration). Sie wird 180 Tage nach Ihrer Antwort gelöscht.',
      send: 'Antwort senden',
      sending: 'Wird gesendet…',
      doneHeading: 'Vielen Dank!',
      doneText: 'Ihre Antwort ist angekommen.',
      answeredHeading: 'Schon beantwortet',
      answeredText: 'Dieser Fragebogen wurde bereits beantwortet. Vielen Dank!',
      expiredHeading: 'Dieser Link ist abgelaufen',
      expiredText: 'Der Fragebogen konnte nur 14 Tage lang beantwortet werden.',
      missingHeading: 'Dieser Link funktioniert nicht',
      missingText: 'Der Link ist nicht (mehr) gültig.',
      required: 'Bitte wählen Sie eine Bewertung von 1 bis 5.',
      tooLong: 'Der Text ist zu lang.',
      throttled: 'Zu viele Versuche. Bitte versuchen Sie es gleich noch einmal.',
      failed: 'Die Antwort konnte nicht gesendet werden. Bitte versuchen Sie es noch einmal.'
    },
    en: {
      pageTitle: 'Your opinion – Parley',
      loadingHeading: 'One moment',
      heading: function (p) { return p.advisor ? 'How was your consultation with ' + p.advisor + '?' : 'How was your consultation?'; },
      intro: function (p) { return 'Your consultation on ' + p.date + '. The questionnaire takes a minute and can be answered once (until ' + p.until + ').'; },
      ratingLegend: 'How satisfied were you with your consultation?',
      r1: 'not satisfied', r2: 'slightly satisfied', r3: 'so-so', r4: 'satisfied', r5: 'very satisfied',
      comment: 'Anything else you would like to tell us? (optional)',
      count: function (p) { return p.n + ' of ' + MAX + ' characters'; },
      privacy: 'Only your advisor (and the administration) sees your answer. It is deleted 180 days after you answer.',
      send: 'Send answer',
      sending: 'Sending…',
      doneHeading: 'Thank you!',
      doneText: 'Your answer has arrived.',
      answeredHeading: 'Already answered',
      answeredText: 'This questionnaire has already been answered. Thank you!',
      expiredHeading: 'This link has expired',
      expiredText: 'The questionnaire could be answered for 14 days only.',
      missingHeading: 'This link does not work',
      missingText: 'The link is not valid (any more).',
      required: 'Please choose a rating from 1 to 5.',
      tooLong: 'The text is too long.',
      throttled: 'Too many attempts. Please try again in a moment.',
      failed: 'The answer could not be sent. Please try again.'
    }
  };

  var TOKEN_KEY = 'parley.feedback.token';
  var PLACEHOLDER = 'answer';
  var token = (function () {
    var m = /^\/f\/([^/]+)\/?$/.exec(location.pathname);
    var fromPath = m ? decodeURIComponent(m[1]) : '';
    if (fromPath && fromPath !== PLACEHOLDER) {
      try {
        sessionStorage.setItem(TOKEN_KEY, fromPath);
        history.replaceState(null, '', '/f/' + PLACEHOLDER);
      } catch (e) { /* storage off: the token stays in the address */ }
      return fromPath;
    }
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  })();

  var chosen = null;
  try { chosen = sessionStorage.getItem('parley-lang'); } catch (e) { /* none */ }
  var lang = chosen === 'en' ? 'en' : 'de';
  var info = {};
  var view = 'loading';

  function $(id) { return document.getElementById(id); }
  function t(key, p) { var v = TEXTS[lang][key]; return typeof v === 'function' ? v(p || {}) : v; }
  function day(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return ''; }
    return d.toLocaleDateString(lang === 'de' ? 'de-DE' : 'en-GB', { day: 'numeric', month: 'long', year: 'numeric' });
  }
  function runes(s) { return Array.from(s).length; }

  function render() {
    document.documentElement.lang = lang;
    document.title = t('pageTitle');
    document.querySelectorAll('[data-t]').forEach(function (el) { el.textContent = t(el.getAttribute('data-t')); });
    document.querySelectorAll('[data-lang]').forEach(function (b) {
      b.setAttribute('aria-pressed', String(b.getAttribute('data-lang') === lang));
    });
    $('feedback').setAttribute('data-view', view);
    var heading = { loading: t('loadingHeading'), done: t('doneHeading'), answered: t('answeredHeading'),
      expired: t('expiredHeading'), missing: t('missingHeading') }[view];
    var status = { done: t('doneText'), answered: t('answeredText'), expired: t('expiredText'), missing: t('missingText') }[view] || '';
    if (view === 'form') {
      heading = t('heading', { advisor: info.advisor_name || '' });
      status = t('intro', { date: day(info.meeting_ended), until: day(info.expires) });
    }
    $('heading').textContent = heading;
    $('status').textContent = status;
    $('feedback-form').hidden = view !== 'form';
    $('comment-count').textContent = t('count', { n: runes($('comment').value) });
  }

  function show(v) {
    view = v;
    render();
    $('heading').focus();
  }

  function ratingError(key) {
    var el = $('rating-error');
    el.hidden = !key;
    el.textContent = key ? t(key) : '';
    $('rating').setAttribute('aria-invalid', key ? 'true' : 'false');
  }

  function submit(ev) {
    ev.preventDefault();
    var picked = document.querySelector('input[name="rating"]:checked');
    if (!picked) {
      ratingError('required');
      document.querySelector('input[name="rating"]').focus();
      return;
    }
    ratingError('');
    var text = $('comment').value;
    if (runes(text) > MAX) {
      $('form-error').textContent = t('tooLong');
      $('form-error').hidden = false;
      $('comment').focus();
      return;
    }
    var btn = $('send');
    btn.disabled = true;
    btn.textContent = t('sending');
    $('form-error').hidden = true;
    fetch('/api/v1/feedback/' + encodeURIComponent(token), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ rating: Number(picked.value), text: text })
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) { return { status: res.status, body: body }; });
    }).then(function (r) {
      btn.disabled = false;
      btn.textContent = t('send');
      if (r.status === 204) { show('done'); return; }
      if (r.status === 409) { show('answered'); return; }
      if (r.status === 410) { show('expired'); return; }
      if (r.status === 404) { show('missing'); return; }
      var field = r.body && r.body.error && r.body.error.field;
      $('form-error').textContent = t(r.status === 429 ? 'throttled' : (field === 'text' ? 'tooLong' : 'failed'));
      $('form-error').hidden = false;
    }).catch(function () {
      btn.disabled = false;
      btn.textContent = t('send');
      $('form-error').textContent = t('failed');
      $('form-error').hidden = false;
    });
  }

  document.querySelectorAll('[data-lang]').forEach(function (b) {
    b.addEventListener('click', function () {
      lang = b.getAttribute('data-lang');
      try { sessionStorage.setItem('parley-lang', lang); } catch (e) { /* none */ }
      render();
    });
  });
  document.querySelectorAll('input[name="rating"]').forEach(function (r) {
    r.addEventListener('change', function () { ratingError(''); });
  });
  $('comment').addEventListener('input', render);
  $('feedback-form').addEventListener('submit', submit);
  render();

  if (!/^pfb_[A-Za-z0-9_-]{43}$/.test(token)) {
    show('missing');
    return;
  }
  fetch('/api/v1/feedback/' + encodeURIComponent(token)).then(function (res) {
    return res.json().catch(function () { return {}; }).then(function (body) { return { status: res.status, body: body }; });
  }).then(function (r) {
    if (r.status === 200) {
      info = r.body;
      if (!chosen && (info.lang === 'de' || info.lang === 'en')) { lang = info.lang; }
      show(info.answered ? 'answered' : 'form');
      return;
    }
    show(r.status === 410 ? 'expired' : 'missing');
  }).catch(function () { show('missing'); });
}());
