// import fake from './comment-line.js';
/* export * from './comment-block.js'; import('./comment-dyn.js') */
const s1 = "import s from './in-double-string.js'";
const s2 = 'export * from "./in-single-string.js"';
const t1 = `import t from './in-template.js'`;
const t2 = `outer ${ `nested import('./nested-template.js')` } ${ import('./real-in-template.js') }`;
const t3 = `brace ${ { k: "}" }.k } still template: import('./still-template.js')`;
const r1 = /import x from '.\/in-regex.js'/g;
const r2 = s1.replace(/["']\.\/[^"']+["']/g, "'x'");
const r3 = [/[/]import('.\/class.js')/];
let n = 10 / 2 / 1; const afterDivision = import('./after-division.js');
if (ok) { v = /export \* from '.\/regex-after-brace.js'/.test(s1); }
const real = await import('./real.js');
