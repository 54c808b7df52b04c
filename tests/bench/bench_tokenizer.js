// bench_tokenizer.js CORPUS REPEATS ENCODING... - the npm tiktoken package
// (WASM build of OpenAI's tiktoken) on the same corpus, one thread, best of
// REPEATS; same line format as bench_tokenizer.c. Run from
// tests/tokenizer's node_modules (bench_tokenizer.sh sets NODE_PATH).
"use strict";
const fs = require("fs");
const { get_encoding } = require("tiktoken");
const [corpus, reps, ...encs] = process.argv.slice(2);
const buf = fs.readFileSync(corpus);
const text = buf.toString("utf8");
for (const name of encs) {
  const t0 = process.hrtime.bigint();
  const enc = get_encoding(name);
  const load = Number(process.hrtime.bigint() - t0) / 1e9;
  let best = Infinity, n = 0;
  for (let r = 0; r < Number(reps); r++) {
    const t = process.hrtime.bigint();
    n = enc.encode(text, [], []).length;
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    if (s < best) best = s;
  }
  console.log(`bench=tokenizer_encode impl=tiktoken-npm encoding=${name} bytes=${buf.length} ` +
              `tokens=${n} seconds=${best.toFixed(4)} mb_s=${(buf.length / best / 1e6).toFixed(2)} ` +
              `tokens_s=${(n / best).toFixed(0)} load_s=${load.toFixed(3)}`);
  enc.free();
}
