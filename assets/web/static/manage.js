// The customer's manage page (/m/{token}, the link from the confirmation
// mail): shows the booking and lets the customer cancel it (after a
// confirming step) or move it to another free time (slot picker, hold,
// reschedule). Uses window.ParleyBooking from book.js.
//
// The manage token is a secret: right after loading, the page moves it
// from the address bar into sessionStorage (this tab only) and shows
// /m/booking instead, so that it does not stay in the visible address,
// the tab's history entry or a bookmark; the referrer policy keeps it out
// of every request's Referer.
(function () {
  'use strict';

  var PB = window.ParleyBooking;
  var t = PB.t;
  var $ = function (id) { return document.getElementById(id); };

  var MORE = {
    en: {
      pageTitle: 'Your appointment – Parley',
      loadingHeading: 'One moment',
      loadingStatus: 'Loading your appointment…',
      bookingHeading: 'Your appointment',
      bookingStatus: 'You can move this appointment to another time or cancel it.',
      movedStatus: 'Your appointment has been moved. An updated confirmation e-mail is on its way to you.',
      pastHeading: 'Your appointment',
      pastStatus: 'This appointment can no longer be changed online. If you need to change it, please contact your advisor.',
      cancelledHeading: 'Appointment cancelled',
      cancelledStatus: 'This appointment has been cancelled.',
      justCancelledStatus: 'Your appointment has been cancelled. A confirmation e-mail is on its way to you.',
      confirmCancelHeading: 'Cancel this appointment?',
      confirmCancelStatus: 'Do you really want to cancel this appointment? This cannot be undone; you can book a new appointment at any time.',
      pickingHeading: 'Move your appointment',
      pickingStatus: 'Choose a new free time. Your current appointment stays until you confirm the move.',
      confirmMoveHeading: 'Move your appointment',
      confirmMoveStatus: 'Please confirm the new time.',
      invalidHeading: 'This link does not work',
      invalidStatus: 'This link is not valid (any more). Please open the link from your most recent confirmation e-mail, or contact your advisor.',
      errorHeading: 'Something went wrong',
      newTimeHeading: 'Choose a new time',
      moveHeading: 'Move your appointment to',
      reschedule: 'Choose another time',
      cancel: 'Cancel appointment',
      cancelling: 'Cancelling…',
      confirmCancel: 'Yes, cancel the appointment',
      confirmMove: 'Move appointment',
      moving: 'Moving…',
      otherTime: 'Choose another time',
      keep: 'Keep the appointment',
      rescheduleUnavailable: 'Moving the appointment online is not possible at the moment. You can cancel it and book again, or contact your advisor.',
      cancelledMeanwhile: 'This appointment has already been cancelled.'
    },
    de: {
      pageTitle: 'Ihr Termin – Parley',
      loadingHeading: 'Einen Moment',
      loadingStatus: 'Ihr Termin wird geladen…',
      bookingHeading: 'Ihr Termin',
      bookingStatus: 'Sie können diesen Termin verschieben oder absagen.',
      movedStatus: 'Ihr Termin wurde verschoben. Eine aktualisierte Bestätigung per E-Mail ist unterwegs.',
      pastHeading: 'Ihr Termin',
      pastStatus: 'Dieser Termin kann online nicht mehr geändert werden. Wenn Sie ihn ändern möchten, wenden Sie sich bitte an Ihre Beratung.',
      cancelledHeading: 'Termin abgesagt',
      cancelledStatus: 'Dieser Termin wurde abgesagt.',
      justCancelledStatus: 'Ihr Termin wurde abgesagt. Eine Bestätigung per E-Mail ist unterwegs.',
      confirmCancelHeading: 'Diesen Termin absagen?',
      confirmCancelStatus: 'Möchten Sie diesen Termin wirklich absagen? Das lässt sich nicht rückgängig machen; Sie können jederzeit einen neuen Termin buchen.',
      pickingHeading: 'Termin verschieben',
      pickingStatus: 'Wählen Sie eine neue freie Zeit. Ihr bisheriger Termin bleibt bestehen, bis Sie das Verschieben bestätigen.',
      confirmMoveHeading: 'Termin verschieben',
      confirmMoveStatus: 'Bitte bestätigen Sie die neue Zeit.',
      invalidHeading: 'Dieser Link funktioniert nicht',
      invalidStatus: 'Dieser Link ist nicht (mehr) gültig. Bitte öffnen Sie den Link aus Ihrer neuesten Bestätigungs-E-Mail oder wenden Sie sich an Ihre Beratung.',
      errorHeading: 'Etwas ist schiefgegangen',
      newTimeHeading: 'Neue Zeit wählen',
      moveHeading: 'Termin verschieben auf',
      reschedule: 'Andere Zeit wählen',
      cancel: 'Termin absagen',
      cancelling: 'Wird abgesagt…',
      confirmCancel: 'Ja, Termin absagen',
      confirmMove: 'Termin verschieben',
      moving: 'Wird verschoben…',
      otherTime: 'Andere Zeit wählen',
      keep: 'Termin behalten',
      rescheduleUnavailable: 'Der Termin kann zurzeit nicht online verschoben werden. Sie können ihn absagen und neu buchen oder sich an Ihre Beratung wenden.',
      cancelledMeanwhile: 'Dieser Termin wurde bereits abgesagt.'
    }
  };
  ['en', 'de'].forEach(function (l) {
    Object.keys(MORE[l]).forEach(function (k) { PB.TEXTS[l][k] = MORE[l][k]; });
  });

  var TOKEN_KEY = 'parley.manage.token';
  var PLACEHOLDER = 'booking';

  // token takes the manage token from the path (and moves it out of the
  // address bar) or, after a reload, from sessionStorage.
  var token = (function () {
    var m = /^\/m\/([^/]+)\/?$/.exec(location.pathname);
    var fromPath = m ? decodeURIComponent(m[1]) : '';
    if (fromPath && fromPath !== PLACEHOLDER) {
      try {
        sessionStorage.setItem(TOKEN_KEY, fromPath);
        history.replaceState(null, '', '/m/' + PLACEHOLDER);
      } catch (e) { /* storage off: the token stays in the address */ }
      return fromPath;
    }
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  })();

  var el = {
    main: $('manage'), heading: $('heading'), status: $('status'), summary: $('summary'),
    when: $('when'), kind: $('kind'), advisor: $('advisor'),
    picker: $('picker'), slotHeading: $('slot-heading'), move: $('move'), moveWhen: $('move-when'), holdNote: $('hold-note'),
    actionError: $('action-error'),
    reschedule: $('reschedule'), cancel: $('cancel'), confirmCancel: $('confirm-cancel'), confirmMove: $('confirm-move'),
    otherTime: $('other-time'), back: $('back'), retry: $('retry')
  };

  // Views: heading and status keys, which buttons show, and flags.
  var VIEWS = {
    loading: { heading: 'loadingHeading', status: 'loadingStatus', buttons: [] },
    booking: { heading: 'bookingHeading', status: 'bookingStatus', summary: true, buttons: ['reschedule', 'cancel'] },
    moved: { heading: 'bookingHeading', status: 'movedStatus', summary: true, success: true, buttons: ['reschedule', 'cancel'] },
    past: { heading: 'pastHeading', status: 'pastStatus', summary: true, buttons: [] },
    cancelled: { heading: 'cancelledHeading', status: 'cancelledStatus', summary: true, buttons: [] },
    justCancelled: { heading: 'cancelledHeading', status: 'justCancelledStatus', summary: true, success: true, buttons: [] },
    confirmCancel: { heading: 'confirmCancelHeading', status: 'confirmCancelStatus', summary: true, buttons: ['confirmCancel', 'back'] },
    picking: { heading: 'pickingHeading', status: 'pickingStatus', summary: true, picker: true, buttons: ['back'] },
    confirmMove: { heading: 'confirmMoveHeading', status: 'confirmMoveStatus', summary: true, move: true, buttons: ['confirmMove', 'otherTime', 'back'] },
    invalid: { heading: 'invalidHeading', status: 'invalidStatus', problem: true, buttons: [] },
    error: { heading: 'errorHeading', status: '', problem: true, buttons: ['retry'] }
  };
  var BUTTONS = ['reschedule', 'cancel', 'confirmCancel', 'confirmMove', 'otherTime', 'back', 'retry'];

  var state = {
    view: 'loading',
    booking: null,     // PUBLIC_BOOKING
    pageId: '',
    page: null,        // GET /api/v1/pages/{page_id}, fetched for moving
    picker: null,
    slot: null,        // the held new slot
    hold: null,        // {token, expires}
    holdExpired: false,
    holdTimer: 0,
    busy: false,
    actionError: '',
    errorText: ''
  };

  function render() {
    var v = VIEWS[state.view];
    PB.applyStaticTexts();
    document.title = t('pageTitle');
    el.main.dataset.view = state.view;
    el.main.classList.toggle('problem', !!v.problem);
    el.main.classList.toggle('success', !!v.success);
    el.heading.textContent = t(v.heading);
    var status = v.status ? t(v.status) : state.errorText;
    if (el.status.textContent !== status) el.status.textContent = status;

    var b = state.booking;
    el.summary.hidden = !(v.summary && b);
    if (b) {
      el.when.textContent = PB.fmtWhen(new Date(b.start), b.end ? new Date(b.end) : null);
      var kind = PB.kindLabel(b.kind);
      el.kind.textContent = b.type_name ? b.type_name + ' \u00b7 ' + kind : kind;
      el.advisor.textContent = b.advisor_name || '';
    }
    el.picker.hidden = !v.picker;
    if (v.picker && state.picker) state.picker.render();
    el.move.hidden = !v.move;
    if (v.move && state.slot) {
      el.moveWhen.textContent = PB.fmtWhen(new Date(state.slot.start), state.slot.end ? new Date(state.slot.end) : null);
      el.holdNote.textContent = state.hold && !state.holdExpired ? t('heldUntil', { time: PB.fmtTime(state.hold.expires) }) : t('holdExpired');
      el.holdNote.classList.toggle('expired', !state.hold || state.holdExpired);
    }
    BUTTONS.forEach(function (k) {
      el[k].hidden = v.buttons.indexOf(k) < 0;
      el[k].disabled = state.busy;
    });
    if (state.view === 'picking') el.back.textContent = t('keep');
    if (state.busy && state.view === 'confirmCancel') el.confirmCancel.textContent = t('cancelling');
    if (state.busy && state.view === 'confirmMove') el.confirmMove.textContent = t('moving');
    el.actionError.textContent = state.actionError;
    el.actionError.hidden = !state.actionError;
  }

  function go(view, focus) {
    state.view = view;
    if (view !== 'picking' && view !== 'confirmMove') dropHold();
    render();
    (focus || el.heading).focus({ preventScroll: false });
  }

  function managePath(suffix) { return '/api/v1/manage/' + encodeURIComponent(token) + (suffix || ''); }

  // show picks the view for a booking the relay sent.
  function show(b, view) {
    state.booking = b;
    if (b.status === 'cancelled') go(view === 'justCancelled' ? 'justCancelled' : 'cancelled');
    else if (!b.can_change) go('past');
    else go(view || 'booking');
  }

  // failed handles an answer that is neither success nor a case the
  // caller deals with itself.
  function failed(r) {
    var code = r ? PB.errorOf(r).code : '';
    if (code === 'not_found') { go('invalid'); return; }
    if (code === 'booking_cancelled') { state.actionError = ''; load(); return; }
    state.errorText = PB.errorText(r);
    if (state.booking && (state.view !== 'loading')) {
      state.actionError = PB.errorText(r);
      render();
      el.actionError.focus && el.actionError.focus();
      return;
    }
    go('error');
  }

  function load() {
    if (!token || token === PLACEHOLDER) { go('invalid'); return; }
    state.busy = false;
    go('loading');
    PB.api('GET', managePath()).then(function (r) {
      if (r.status === 200 && r.body.booking) {
        state.pageId = r.body.page_id || '';
        show(r.body.booking);
        return;
      }
      state.booking = null;
      failed(r);
    }, function () {
      state.booking = null;
      failed(null);
    });
  }

  // ---- cancel ----

  el.cancel.addEventListener('click', function () {
    state.actionError = '';
    go('confirmCancel', el.back);
  });

  el.back.addEventListener('click', function () {
    state.actionError = '';
    if (state.picker) { state.picker.destroy(); state.picker = null; }
    go('booking');
  });

  el.confirmCancel.addEventListener('click', function () {
    if (state.busy) return;
    state.busy = true;
    state.actionError = '';
    render();
    PB.api('POST', managePath('/cancel')).then(function (r) {
      state.busy = false;
      if (r.status === 200 && r.body.booking) { show(r.body.booking, 'justCancelled'); return; }
      failed(r);
    }, function () {
      state.busy = false;
      failed(null);
    });
  });

  // ---- reschedule ----

  el.reschedule.addEventListener('click', startPicking);
  el.otherTime.addEventListener('click', function () {
    dropHold();
    go('picking', el.slotHeading);
    state.picker.load(0);
  });

  function startPicking() {
    if (state.busy || !state.booking) return;
    state.actionError = '';
    if (!state.pageId) { state.actionError = t('rescheduleUnavailable'); render(); return; }
    state.busy = true;
    render();
    PB.api('GET', '/api/v1/pages/' + encodeURIComponent(state.pageId)).then(function (r) {
      state.busy = false;
      if (r.status !== 200) {
        var code = PB.errorOf(r).code;
        state.actionError = code === 'page_disabled' || code === 'not_found' ? t('rescheduleUnavailable') : PB.errorText(r);
        render();
        return;
      }
      state.page = r.body;
      if (state.picker) state.picker.destroy();
      state.picker = new PB.SlotPicker({
        pageId: state.pageId, typeId: state.booking.type_id, advisorZone: r.body.time_zone || state.booking.time_zone,
        horizonDays: r.body.horizon_days, onPick: pickSlot,
        onFatal: function () { state.actionError = t('rescheduleUnavailable'); go('booking'); }
      });
      state.picker.lastBookable = r.body.last_bookable_date || '';
      go('picking', el.slotHeading);
      state.picker.load(8);
    }, function () {
      state.busy = false;
      state.actionError = t('err_offline');
      render();
    });
  }

  function hold(slot) {
    return PB.api('POST', '/api/v1/pages/' + encodeURIComponent(state.pageId) + '/holds', { type: state.booking.type_id, start: slot.start });
  }

  function pickSlot(slot) {
    var picker = state.picker;
    picker.notice = '';
    picker.setBusy(true);
    hold(slot).then(function (r) {
      picker.setBusy(false);
      if (state.picker !== picker) return;
      if (r.status === 201 && r.body.hold_token) {
        setHold(slot, r.body);
        go('confirmMove', el.confirmMove);
        return;
      }
      picker.notice = PB.errorText(r);
      if (PB.errorOf(r).code === 'throttled') { picker.render(); return; }
      picker.load(0);
    }, function () {
      picker.setBusy(false);
      picker.notice = t('err_offline');
      picker.render();
    });
  }

  function setHold(slot, body) {
    clearTimeout(state.holdTimer);
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

  el.confirmMove.addEventListener('click', function () { move(true); });

  function move(mayRehold) {
    if (state.busy || !state.slot) return;
    state.busy = true;
    state.actionError = '';
    render();
    PB.api('POST', managePath('/reschedule'), { start: state.slot.start, hold_token: state.hold ? state.hold.token : '' }).then(function (r) {
      state.busy = false;
      if (r.status === 200 && r.body.booking) {
        if (state.picker) { state.picker.destroy(); state.picker = null; }
        show(r.body.booking, 'moved');
        return;
      }
      var code = PB.errorOf(r).code;
      if (code === 'hold_invalid' && mayRehold) {
        state.busy = true;
        render();
        hold(state.slot).then(function (h) {
          state.busy = false;
          if (h.status === 201 && h.body.hold_token) { setHold(state.slot, h.body); move(false); return; }
          backToPicking(h);
        }, function () { state.busy = false; failed(null); });
        return;
      }
      switch (code) {
        case 'hold_invalid': case 'slot_taken': case 'outside_availability': case 'too_soon':
        case 'beyond_horizon': case 'day_full': case 'invalid_input':
          backToPicking(r);
          return;
      }
      failed(r);
    }, function () {
      state.busy = false;
      state.actionError = t('err_offline');
      render();
    });
  }

  function backToPicking(r) {
    dropHold();
    state.slot = null;
    go('picking', el.slotHeading);
    state.picker.notice = PB.errorText(r);
    state.picker.load(0);
  }

  el.retry.addEventListener('click', load);
  PB.wireLanguageSwitch();
  PB.onLanguage(render);
  load();
})();
