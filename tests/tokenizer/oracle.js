// oracle.js ENCODING FILE [--special] - prints the ids that the npm
// `tiktoken` package (WASM build of OpenAI's tiktoken) gives for the
// UTF-8 text of FILE, separated by single spaces, like `libllm tokenize`.
// Without --special, special-token text is ordinary text (encode_ordinary
// semantics: tiktoken's encode with disallowed_special = []).
"use strict";
const fs = require("fs");
const { get_encoding } = require("tiktoken");
const [name, file, flag] = process.argv.slice(2);
const enc = get_encoding(name);
const text = fs.readFileSync(file, "utf8");
const ids = flag === "--special" ? enc.encode(text, "all") : enc.encode(text, [], []);
process.stdout.write(Array.from(ids).join(" ") + "\n");
enc.free();
