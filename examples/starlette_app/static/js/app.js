// Entry module: keyboard navigation for the slide viewer, loaded as an ES module.
import { bindPager } from "./pager.js";

const pager = document.querySelector("nav.pager");
if (pager) {
  bindPager(pager, window);
}
