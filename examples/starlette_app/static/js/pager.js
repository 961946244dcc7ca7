// Arrow keys (and PageUp/PageDown) move between slides by following the pager links.
const KEYS = new Map([
  ["ArrowRight", "next"],
  ["PageDown", "next"],
  ["ArrowLeft", "prev"],
  ["PageUp", "prev"],
]);

export function bindPager(nav, target) {
  target.addEventListener("keydown", (event) => {
    const rel = KEYS.get(event.key);
    if (!rel) {
      return;
    }
    const link = nav.querySelector(`a[rel="${rel}"]`);
    if (link && link.getAttribute("aria-disabled") !== "true") {
      event.preventDefault();
      window.location.assign(link.href);
    }
  });
}
