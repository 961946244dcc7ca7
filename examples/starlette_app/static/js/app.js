// Entry module: keyboard navigation for the slide viewer, saving edits, and the "new version" banner
// shown when the service worker has installed an update (see the registration snippet).
import { bindEditForm } from "./edit.js";
import { bindPager } from "./pager.js";

const pager = document.querySelector("nav.pager");
if (pager) {
  bindPager(pager, window);
}

const form = document.querySelector("form.edit");
if (form) {
  bindEditForm(form);
}

window.addEventListener("sw:update-available", (event) => {
  const banner = document.getElementById("update-banner");
  const button = document.getElementById("update-reload");
  if (!banner || !button) {
    return;
  }
  banner.hidden = false;
  button.addEventListener("click", () => event.detail.apply(), { once: true });
});
