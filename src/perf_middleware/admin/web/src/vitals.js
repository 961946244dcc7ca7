/* perf-middleware: real-user Web Vitals of this page view, sent to the admin API.

   The measuring is the web-vitals library's (vendor/web-vitals.js); this file only adds
   what the server needs to aggregate them: the page's route template (data-route, written
   by the template helper, never the URL) and how the navigation was served. Values are
   queued as the library reports them and sent in one navigator.sendBeacon when the page
   is hidden, which is also when LCP, CLS and INP are final. No identifiers, no cookies:
   a beacon is {route, served_by, metrics}. */
import { onCLS, onFCP, onINP, onLCP, onTTFB } from './vendor/web-vitals.js';

const tag = document.querySelector('script[data-perf-vitals]');
const endpoint = (tag && tag.dataset.endpoint) || '/_perf/vitals';
const route = (tag && tag.dataset.route) || '';

/* network | service-worker | http-cache, from the navigation's timing entry: a fetch
   handled by a service worker has a workerStart; a body that crossed no network
   (transferSize 0) or a deliveryType of "cache" came from the browser's HTTP cache. */
function servedBy() {
  const nav = performance.getEntriesByType('navigation')[0];
  if (!nav) return 'network';
  if (nav.workerStart > 0) return 'service-worker';
  if (nav.deliveryType === 'cache' || (nav.transferSize === 0 && nav.decodedBodySize > 0)) {
    return 'http-cache';
  }
  return 'network';
}

const served = servedBy();
const pending = {};

function queue(metric) {
  pending[metric.name] = metric.value;
}

function flush() {
  const names = Object.keys(pending);
  if (!names.length || !route) return;
  const metrics = {};
  for (const name of names) {
    metrics[name] = pending[name];
    delete pending[name];
  }
  navigator.sendBeacon(endpoint, JSON.stringify({ route, served_by: served, metrics }));
}

onTTFB(queue);
onFCP(queue);
onLCP(queue);
onCLS(queue);
onINP(queue);
/* after the library's own (capturing) listeners, so the final values are queued first */
addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') flush();
});
addEventListener('pagehide', flush);
