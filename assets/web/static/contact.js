// The contact form to an advisor (/c/{page}, contact.html): the customer
// writes a message; the advisor answers in the app and the answer comes
// by e-mail.
//
// Privacy: nothing is kept in cookies or storage except the chosen
// language (sessionStorage). Every request goes to this relay; every text
// from the relay is inserted with textContent.
(function () {
  'use strict';

  var TEXTS = {
    de: {
      pageTitle: 'Nachricht schreiben – Parley',
      loadingHeading: 'Einen Moment',
      heading: function (p) { return 'Nachricht an ' + p.advisor; },
      intro: 'Schreiben Sie uns; die Antwort kommt per E-Mail.',
      notFound: 'Diese Seite gibt es nicht (mehr).',
      name: 'Name',
      email: 'E-Mail-Adresse',
      emailHint: 'Die Antwort kommt per E-Mail an diese Adresse.',
      message: 'Ihre Nachricht',
      privacy: 'Wir speichern Ihren Namen, Ihre E-Mail-Adresse und Ihre Nachricht, um Ihnen zu antworten.',
      send: 'Nachricht senden',
      sending: 'Wird gesendet…',
      doneHeading: 'Nachricht gesendet',
      doneText: 'Danke! Ihre Nachricht ist angekommen. Die Antwort erhalten Sie per E-Mail.',
      required: 'Bitte ausfüllen.',
      badEmail: 'Bitte eine gültige E-Mail-Adresse eingeben.',
      throttled: 'Zu viele Nachrichten. Bitte versuchen Sie es gleich noch einmal.',
      failed: 'Die Nachricht konnte nicht gesendet werden. Bitte versuchen Sie es noch einmal.'
    },
    en: {
      pageTitle: 'Write a message – Parley',
      loadingHeading: 'One moment',
      heading: function (p) { return 'Message to ' + p.advisor; },
      intro: 'Write to us; the answer comes by e-mail.',
      notFound: 'This page does not exist (any more).',
      name: 'Name',
      email: 'E-mail address',
      emailHint: 'The answer comes by e-mail to this address.',
      message: 'Your message',
      privacy: 'We keep your name, your e-mail address and your message to answer you.',
      send: 'Send message',
      sending: 'Sending…',
      doneHeading: 'Message sent',
      doneText: 'Thank you! Your message has arrived. You will get the answer by e-mail.',
      required: 'Please fill this in.',
      badEmail: 'Please enter a valid e-mail address.',
      throttled: 'Too many messages. Please try again in a moment.',
      failed: 'The message could not be sent. Please try again.'
    }
  };

  var page = decodeURIComponent(location.pathname.split('/')[2] || '');
  var lang = sessionStorage.getItem('parley-lang') === 'en' ? 'en' : 'de';
  var advisor = '';
  var view = 'loading';

  function $(id) { return document.getElementById(id); }
  function t(key, p) { var v = TEXTS[lang][key]; return typeof v === 'function' ? v(p || {}) : v; }

  function render() {
    document.documentElement.lang = lang;
    document.title = t('pageTitle');
    document.querySelectorAll('[data-t]').forEach(function (el) { el.textContent = t(el.getAttribute('data-t')); });
    document.querySelectorAll('[data-lang]').forEach(function (b) {
      b.setAttribute('aria-pressed', String(b.getAttribute('data-lang') === lang));
    });
    var main = $('contact');
    main.setAttribute('data-view', view);
    if (view === 'form') {
      $('heading').textContent = t('heading', { advisor: advisor });
      $('status').textContent = t('intro');
    } else if (view === 'done') {
      $('heading').textContent = t('doneHeading');
      $('status').textContent = '';
    } else if (view === 'missing') {
      $('heading').textContent = t('notFound');
      $('status').textContent = '';
    }
    $('contact-form').hidden = view !== 'form';
    $('done').hidden = view !== 'done';
  }

  function fieldError(id, key) {
    var el = $(id + '-error');
    el.hidden = !key;
    el.textContent = key ? t(key) : '';
    $(id).setAttribute('aria-invalid', key ? 'true' : 'false');
  }

  function submit(ev) {
    ev.preventDefault();
    var name = $('name').value.trim(), email = $('email').value.trim(), message = $('message').value;
    fieldError('name', name ? '' : 'required');
    fieldError('email', !email ? 'required' : (/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email) ? '' : 'badEmail'));
    fieldError('message', message.trim() ? '' : 'required');
    if (!name || !email || !message.trim() || !$('email-error').hidden) {
      var first = document.querySelector('[aria-invalid="true"]');
      if (first) { first.focus(); }
      return;
    }
    var btn = $('send');
    btn.disabled = true;
    btn.textContent = t('sending');
    $('form-error').hidden = true;
    fetch('/api/v1/contact/' + encodeURIComponent(page), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: name, email: email, message: message, lang: lang })
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) { return { status: res.status, body: body }; });
    }).then(function (r) {
      btn.disabled = false;
      btn.textContent = t('send');
      if (r.status === 201) {
        view = 'done';
        render();
        $('heading').focus();
        return;
      }
      var code = r.body && r.body.error && r.body.error.code;
      if (code === 'invalid_input' && r.body.error.field === 'email') {
        fieldError('email', 'badEmail');
        $('email').focus();
        return;
      }
      $('form-error').textContent = t(r.status === 429 ? 'throttled' : 'failed');
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
      sessionStorage.setItem('parley-lang', lang);
      render();
    });
  });
  $('contact-form').addEventListener('submit', submit);
  render();

  fetch('/api/v1/contact/' + encodeURIComponent(page)).then(function (res) {
    if (!res.ok) { throw new Error('status ' + res.status); }
    return res.json();
  }).then(function (p) {
    advisor = p.advisor_name || '';
    view = 'form';
    render();
  }).catch(function () {
    view = 'missing';
    render();
  });
}());
