export function enhance(doc) {
  doc.documentElement.dataset.enhanced = "yes";
  for (const link of doc.querySelectorAll("ul.articles a")) {
    link.addEventListener("mouseenter", () => link.setAttribute("data-seen", "1"), { once: true });
  }
}
