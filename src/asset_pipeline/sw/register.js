/* Registers the asset-pipeline service worker. Options are data- attributes of this
   <script>: data-sw (worker URL, default /sw.js), data-scope (default /), data-reload
   (take a waiting update at once and reload). Without data-reload the page gets a
   'sw:update-available' event on window; call event.detail.apply() to switch to the new
   version (the page then reloads, so old HTML never runs against new assets). */
(function () {
  'use strict';
  if (!('serviceWorker' in navigator)) return;
  var data = (document.currentScript && document.currentScript.dataset) || {};
  var container = navigator.serviceWorker;
  var autoReload = data.reload !== undefined && data.reload !== 'false';
  var hadController = !!container.controller;
  var applied = false;
  var reloading = false;

  container.addEventListener('controllerchange', function () {
    if (reloading || !hadController || !(applied || autoReload)) return;
    reloading = true;
    window.location.reload();
  });

  function announce(registration, worker) {
    var detail = {
      registration: registration,
      worker: worker,
      apply: function () {
        applied = true;
        worker.postMessage({ type: 'SKIP_WAITING' });
      },
    };
    window.dispatchEvent(new CustomEvent('sw:update-available', { detail: detail }));
    if (autoReload) detail.apply();
  }

  var watched = [];
  function watch(registration, worker) {
    if (watched.indexOf(worker) !== -1) return;
    watched.push(worker);
    worker.addEventListener('statechange', function () {
      if (worker.state === 'installed' && container.controller) announce(registration, worker);
    });
  }

  container
    .register(data.sw || '/sw.js', { scope: data.scope || '/', updateViaCache: 'none' })
    .then(function (registration) {
      if (registration.waiting && container.controller) {
        announce(registration, registration.waiting);
      }
      if (registration.installing) watch(registration, registration.installing);
      registration.addEventListener('updatefound', function () {
        if (registration.installing) watch(registration, registration.installing);
      });
      window.dispatchEvent(new CustomEvent('sw:registered', { detail: registration }));
    })
    .catch(function (err) {
      console.error('service worker registration failed:', err);
    });
})();
