/*! deck.js v1 | MIT */
// line comment
const tpl = `keep   these   spaces ${ a  +  b } and
a newline`;
const re = /  spaced  regex  /g;
let a = 1
let b = a
++b
function f() {
  return
  42;
}
const s = "a // not a comment";
const d = x / 2 / y;
export { tpl, re };
