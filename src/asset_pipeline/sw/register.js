/* Registers the asset-pipeline service worker. Options are data- attributes of this
   <script>: data-sw (worker URL, default /sw.js), data-scope (default /), data-reload
   (take a waiting update at once and reload). Without data-reload the page gets a
   'sw:update-available' event on window; call event.detail.apply() to switch to the new
   version (the page then reloads, so old HTML never runs against new assets).
   Other events on window: 'sw:registered', 'sw:install-failed' (detail: {version,
   error: {name, message}}, e.g. QuotaExceededError) and 'sw:cache-updated' (detail:
   {cacheName, url}, from rules with broadcast_update).
   Works under a strict Content-Security-Policy when served as a file (the build writes
   sw-register.<hash>.js): with require-trusted-types-for 'script' the worker URL goes
   through a Trusted Types policy named 'asset-pipeline-sw' (list it in a trusted-types
   directive if the page restricts policy names). Registration waits for the load event,
   so it never competes with the page's own requests. */
(function () {
  'use strict';
  if (!('serviceWorker' in navigator)) return;
  var data = (document.currentScript && document.currentScript.dataset) || {};
  var container = navigator.serviceWorker;
  var autoReload = data.reload !== undefined && data.reload !== 'false';
  var hadController = !!container.controller;
  var applied = false;
  var reloading = false;

  function emit(name, detail) {
    window.dispatchEvent(new CustomEvent(name, { detail: detail }));
  }

  container.addEventListener('controllerchange', function () {
    if (reloading || !hadController || !(applied || autoReload)) return;
    reloading = true;
    window.location.reload();
  });

  container.addEventListener('message', function (event) {
    var message = event.data || {};
    if (message.type === 'SW_INSTALL_FAILED') {
      emit('sw:install-failed', { version: message.version, error: message.error });
    } else if (message.type === 'CACHE_UPDATED') {
      emit('sw:cache-updated', { cacheName: message.cacheName, url: message.url });
    }
  });
  container.startMessages();

  function announce(registration, worker) {
    var detail = {
      registration: registration,
      worker: worker,
      apply: function () {
        applied = true;
        worker.postMessage({ type: 'SKIP_WAITING' });
      },
    };
    emit('sw:update-available', detail);
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

  /* Only a same-origin URL may become a worker script, whatever the page passes. */
  function scriptUrl(url) {
    var resolved = new URL(url, window.location.href);
    if (resolved.origin !== window.location.origin) {
      throw new TypeError('service worker URL ' + url + ' is not same-origin');
    }
    if (!window.trustedTypes || !window.trustedTypes.createPolicy) return resolved.href;
    var policy = window.trustedTypes.createPolicy('asset-pipeline-sw', {
      createScriptURL: function (value) {
        if (value !== resolved.href) throw new TypeError('unexpected script URL ' + value);
        return value;
      },
    });
    return policy.createScriptURL(resolved.href);
  }

  function register() {
    /* the worker drops a replaced version's files once no page that used them is open */
    if (container.controller) container.controller.postMessage({ type: 'PAGE_LOADED' });
    var url;
    try {
      url = scriptUrl(data.sw || '/sw.js');
    } catch (err) {
      console.error('service worker registration failed:', err);
      return;
    }
    container
      .register(url, { scope: data.scope || '/', updateViaCache: 'none' })
      .then(function (registration) {
        if (registration.waiting && container.controller) {
          announce(registration, registration.waiting);
        }
        if (registration.installing) watch(registration, registration.installing);
        registration.addEventListener('updatefound', function () {
          if (registration.installing) watch(registration, registration.installing);
        });
        emit('sw:registered', registration);
      })
      .catch(function (err) {
        console.error('service worker registration failed:', err);
      });
  }

  if (document.readyState === 'complete') register();
  else window.addEventListener('load', register);
})();
