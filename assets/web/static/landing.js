// Shows whether the relay answers its health check. Loads nothing from elsewhere.
(function () {
  var el = document.getElementById('relay-status');
  fetch('/healthz', { cache: 'no-store' })
    .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
    .then(function (body) { el.textContent = body.status === 'ok' ? 'online' : 'degraded'; el.dataset.state = body.status === 'ok' ? 'ok' : 'down'; })
    .catch(function () { el.textContent = 'unreachable'; el.dataset.state = 'down'; });
})();
