-- Bad input never crashes the Lua module: every method of every handle
-- class and every module function is called (under pcall) with
-- combinations of wrong or extreme arguments, then again after close.
-- A crash fails the CTest test; raised errors are expected.
local llm = require "llm"
local DATA = os.getenv("LLM_TEST_DATA") or "tests/bindings/data"
local TMP = os.tmpname()
os.remove(TMP)
assert(os.execute("mkdir -p '" .. TMP .. "'"))
local text = DATA .. "/genesis.txt"
local tok = llm.tokenizer_train(text, {vocab_size = 300})
local m = llm.model_create({arch = "gpt2", n_vocab = 300, n_ctx = 32, n_embd = 16, n_layer = 1, n_head = 2}, 1)
m:set_tokenizer(llm.tokenizer_train(text, {vocab_size = 300}))
local ctx = m:context({n_ctx = 32})
local smp = llm.sampler({n_vocab = 300, seed = 1})
local gen = llm.generator(ctx, smp, m:tokenizer(), {max_tokens = 4})
local m2 = llm.model_create({arch = "llama", n_vocab = 64, n_ctx = 16, n_embd = 16, n_layer = 1, n_head = 2, n_ff = 32}, 1)
local tr = llm.trainer(m2, {batch = 1, seq_len = 4})
local stream = tok:stream()
local pool = {false, "x", TMP .. "/f", -1, 0, 3, 2 ^ 40, 1.5, 0 / 0, {1, 2}, {"a"}, {2 ^ 40}, {-5}, {}, ctx, function() error("cb") end}
local skip = {close = true, set_tokenizer = true, tokenizer_train = true, model_create = true}
local calls, errors = 0, 0
local function try(f, ...)
  calls = calls + 1
  if not pcall(f, ...) then errors = errors + 1 end
end
local function fuzz(obj, methods)
  local names = {}
  for name in pairs(methods) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    if not skip[name] then
      local f = methods[name]
      try(f, obj)
      for _, a in ipairs(pool) do
        try(f, obj, a)
        for _, b in ipairs(pool) do try(f, obj, a, b) end
      end
    end
  end
end
-- method tables: reach them through a method of each object (metatables are protected)
local objs = {tok, m, ctx, smp, gen, tr, stream}
local function methods_of(o)
  local t = {}
  for _, name in ipairs({"encode", "decode", "n_vocab", "special_id", "add_bos", "is_special",
      "token_to_piece", "piece_to_token", "save", "stream", "flush", "config", "n_params",
      "file_type", "n_tensors", "tensor_name", "tensor_names", "tensor_shape", "tensor_data",
      "tensor", "tokenizer", "ctx_estimate_bytes", "context", "tokenize", "detokenize",
      "generate", "evaluate", "interrupt", "forward", "logits", "n_past", "n_ctx", "truncate",
      "reset", "capture_attention", "attention", "loss", "eval", "sample", "probs", "accept",
      "set", "get", "step", "lr", "n_steps", "grad_norm", "grad", "next_batch", "load", "feed",
      "next", "cancel", "reason", "max_piece", "result", "is_closed"}) do
    local ok, f = pcall(function() return o[name] end)
    if ok and type(f) == "function" then t[name] = f end
  end
  return t
end
local mt = {}
for i, o in ipairs(objs) do mt[i] = methods_of(o) end
for i, o in ipairs(objs) do fuzz(o, mt[i]) end
-- every method with a handle of each other type as self
for i = 1, #objs do
  for j = 1, #objs do
    if i ~= j then
      for _, f in pairs(mt[i]) do try(f, objs[j], 1) end
    end
  end
end
-- module functions
local funcs = {}
for name, f in pairs(llm) do
  if type(f) == "function" and not skip[name] then funcs[name] = f end
end
fuzz(nil, funcs)
for _, f in pairs(funcs) do for _, a in ipairs(pool) do try(f, a, a, a, a) end end
-- option tables with every known key set to each bad value
local keys = {"n_vocab", "seed", "temperature", "top_k", "top_p", "min_p", "repeat_penalty",
  "presence_penalty", "frequency_penalty", "penalty_last_n", "logit_bias", "greedy", "auto_accept",
  "n_ctx", "n_batch", "n_threads", "attention", "progress", "on_token", "batch", "seq_len",
  "grad_accum", "schedule", "warmup_steps", "total_steps", "lr", "min_lr", "beta1", "beta2",
  "eps", "weight_decay", "grad_clip", "shuffle", "max_tokens", "n_ubatch", "stop",
  "stop_tokens", "ignore_eos", "parse_special", "skip_special", "replace_invalid",
  "no_prompt_penalty", "pattern", "special", "vocab_size", "min_frequency", "ctx", "stride",
  "tokenizer", "no_mmap", "bos", "replace", "preset", "E", "A", "grid", "max_iter",
  "huber_delta", "grad_tol", "arch", "n_embd", "n_layer", "n_head", "n_head_kv", "n_ff",
  "norm_eps", "rope_base", "flags"}
local ctors = {
  function(o) o.n_vocab = o.n_vocab or 300; return llm.sampler(o) end,
  function(o) return llm.context(m, o) end,
  function(o) return llm.trainer(m2, o) end,
  function(o) return llm.generator(ctx, smp, m:tokenizer(), o) end,
  function(o) return llm.tokenizer_load(TMP .. "/nope", o) end,
  function(o) o.max_tokens = 2; return m:generate("And", o) end,
  function(o) return m:evaluate("And God", o) end,
  function(o) return llm.plan_for_compute(1e20, 3, o) end,
  function(o) return llm.count_model(o) end,
  function(o) return tok:encode("x", o) end,
  function(o) return tok:stream(o) end,
}
for _, ctor in ipairs(ctors) do
  for _, k in ipairs(keys) do
    for _, v in ipairs(pool) do
      local o = {[k] = v}
      calls = calls + 1
      local ok, r = pcall(ctor, o)
      if not ok then errors = errors + 1
      elseif type(r) == "userdata" and r.close then pcall(r.close, r) end
    end
  end
end
collectgarbage()
gen:close(); tr:close(); ctx:close(); smp:close(); m:close(); m2:close(); tok:close()
for i, o in ipairs(objs) do fuzz(o, mt[i]) end
collectgarbage()
os.execute("rm -rf '" .. TMP .. "'")
print(("%d calls, %d raised errors, no crash"):format(calls, errors))
assert(calls > 20000)
