// export_ranks.js OUTDIR - writes the rank files that the npm `tiktoken`
// package ships (gpt2, cl100k_base, o200k_base) as standard .tiktoken files
// ("base64 rank" lines) so libllm can load the oracle's own vocabularies.
// The package stores them as "! 0 tok0 tok1 ...": a run of base64 tokens
// whose ranks count up from the number after "!".
"use strict";
const fs = require("fs");
const path = require("path");
const out = process.argv[2];
fs.mkdirSync(out, { recursive: true });
for (const name of ["gpt2", "cl100k_base", "o200k_base"]) {
  const enc = require(`tiktoken/encoders/${name}.json`);
  const parts = enc.bpe_ranks.split(/\s+/).filter((s) => s.length);
  const lines = [];
  let rank = -1;
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === "!") { rank = parseInt(parts[++i], 10); continue; }
    lines.push(`${parts[i]} ${rank++}`);
  }
  fs.writeFileSync(path.join(out, `${name}.tiktoken`), lines.join("\n") + "\n");
}
