// Marks the page as enhanced once the module ran (the browser test checks it).
import { enhance } from "./enhance.js";

enhance(document);
