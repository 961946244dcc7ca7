// Saving a deck, and reading your own write. The service worker answers the API
// stale-while-revalidate: fast, and right for changes other people make (the next read is
// fresh). The person who just saved must never see the old title, and only this page knows
// a write happened: so after the save succeeds it drops the worker's cached copies of what
// the save changed (the form lists them in data-changes) and fetches them again past the
// browser's HTTP cache (the API allows max-age=10), then shows the result.

export async function refreshCached(urls) {
  if (!("caches" in window)) {
    return;
  }
  const prefixes = urls.map((url) => new URL(url, window.location.href).href);
  const changed = (url) => prefixes.some((p) => url === p || url.startsWith(`${p}/`));
  const stale = new Set();
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      if (changed(request.url.split("?")[0])) {
        stale.add(request.url);
        await cache.delete(request);
      }
    }
  }
  await Promise.all([...stale].map((url) => fetch(url, { cache: "reload" }).catch(() => null)));
}

export function bindEditForm(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = new URLSearchParams(new FormData(form));
    const response = await fetch(form.action, { method: "POST", body });
    if (!response.ok) {
      const error = form.querySelector(".form-error");
      error.textContent = await response.text();
      error.hidden = false;
      return;
    }
    await refreshCached((form.dataset.changes || "").split(" ").filter(Boolean));
    window.location.assign(response.url);
  });
}
