-- The Lua module `llm` under lua5.4 and luajit, against independent
-- oracles: the C CLI (LLM_CLI: tokenize, eval, generate, plan), plain-Lua
-- math (log-softmax, arg-max, Chinchilla formulas) and cross-checks between
-- C entry points. A tiny model and tokenizer are made from
-- tests/bindings/data/genesis.txt.
local llm = require "llm"
local failures, passes = 0, 0
local function check(cond, what)
  if cond then
    passes = passes + 1
  else
    print("FAIL: " .. what)
    failures = failures + 1
  end
end
local function raises(pattern, f, ...)
  local ok, err = pcall(f, ...)
  if ok then return false, "no error" end
  err = tostring(err)
  return err:find(pattern) ~= nil, err
end
local function check_raises(pattern, what, f, ...)
  local ok, err = raises(pattern, f, ...)
  check(ok, what .. " (got: " .. tostring(err) .. ")")
end
local function near(a, b, tol) return math.abs(a - b) <= tol end

local DATA = os.getenv("LLM_TEST_DATA") or "tests/bindings/data"
local CLI = os.getenv("LLM_CLI")
if CLI == "" then CLI = nil end
local TEXT_PATH = DATA .. "/genesis.txt"
local f = assert(io.open(TEXT_PATH, "rb"))
local TEXT = f:read("*a")
f:close()
local TMP = os.tmpname()
os.remove(TMP)
assert(os.execute("mkdir -p '" .. TMP .. "'"))
local function sh(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("*a")
  p:close()
  return out
end
local function json_num(s, key)
  local v = s:match('"' .. key .. '"%s*:%s*([-%d.eE+]+)')
  return v and tonumber(v)
end
local function json_ids(s, key)
  local body = s:match('"' .. key .. '"%s*:%s*%[([^%]]*)%]')
  local t = {}
  for x in (body or ""):gmatch("-?%d+") do t[#t + 1] = tonumber(x) end
  return t
end
local function same(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

-- ---- core ----
local v = llm.version()
local major, minor, patch = v:match("^(%d+)%.(%d+)%.(%d+)$")
check(major ~= nil, "version() is MAJOR.MINOR.PATCH: " .. v)
check(llm.version_number() == major * 10000 + minor * 100 + patch, "version_number() agrees")
check(llm._VERSION == v, "_VERSION is the header's version")
check(llm.status_str(0):match("^LLM_OK") ~= nil, "status_str(0)")
check(llm.status_str(-3):match("^LLM_ERR_BAD_FILE") ~= nil, "status_str(-3)")
check_raises("number", "status_str rejects a string", llm.status_str, "x")
check_raises("integer", "status_str rejects 1.5", llm.status_str, 1.5)
check(llm.abi_check(llm.version_number()) == 0, "abi_check of this version")
check(llm.abi_check(990000) == -11, "abi_check of another major")
check(llm.last_errmsg():find("major") ~= nil, "last_errmsg names the mismatch")
check(llm.errmsg(nil) == llm.last_errmsg(), "errmsg(nil) is last_errmsg")

-- ---- logging (before the first handle exists) ----
llm.set_log(4)
check(not pcall(llm.tokenizer_load, "/nonexistent/tok.json"), "a failing load")
local lines, dropped = llm.log_lines()
local found = false
for _, l in ipairs(lines) do
  if l.level == 4 and l.msg:find("/nonexistent/tok.json", 1, true) then found = true end
end
check(found and dropped == 0, "failures are logged at debug level with their detail")
check(#llm.log_lines() == 0, "log_lines drains the buffer")
for _ = 1, 300 do pcall(llm.tokenizer_load, "/nonexistent/x") end
lines, dropped = llm.log_lines()
check(#lines == 256 and dropped == 44, "the buffer keeps the newest 256 lines: " .. #lines .. " " .. dropped)
check_raises("integer", "set_log level range", llm.set_log, 9)
llm.set_log(nil)
pcall(llm.tokenizer_load, "/nonexistent/y")
check(#llm.log_lines() == 0, "set_log(nil) stops logging")

-- ---- tokenizer ----
local progress_calls = 0
local tok = llm.tokenizer_train({TEXT_PATH}, {vocab_size = 320, progress = function(ph, done, total)
  progress_calls = progress_calls + 1
  check(ph == llm.PHASE_TOKENIZER_TRAIN and done <= total, "tokenizer_train progress args")
end})
check(progress_calls > 0, "tokenizer_train reports progress")
local N_VOCAB = tok:n_vocab()
check_raises("STATE", "set_log while a handle is live", llm.set_log, 1)
check(N_VOCAB == 320, "n_vocab 320: " .. N_VOCAB)
check_raises("^.*boom", "an error in the progress callback propagates", llm.tokenizer_train,
  TEXT_PATH, {vocab_size = 600, progress = function() error("boom") end})
check_raises("CANCELLED", "a true return cancels", llm.tokenizer_train, TEXT_PATH,
  {vocab_size = 600, progress = function() return true end})
local ids = tok:encode(TEXT)
check(tok:decode(ids) == TEXT, "decode(encode(text)) == text")
local eos = tok:special_id("eos")
check(eos >= 0 and tok:is_special(eos) == 1 and tok:is_special(ids[1]) == 0, "special ids")
check(tok:special_id(1) == tok:special_id("bos"), "special_id by number")
check(tok:is_special(1000000) == -1, "is_special out of range")
check(type(tok:add_bos()) == "boolean", "add_bos is a boolean")
check(same(tok:encode("<|endoftext|>", {special = true}), {eos}), "parse special")
check(tok:encode("x", {bos = true})[1] == tok:special_id("bos"), "bos flag")
check(tok:decode({eos, ids[1]}, {skip_special = true}) == tok:decode({ids[1]}), "skip_special")
local pieces = {}
for i = 1, #ids do pieces[i] = tok:token_to_piece(ids[i]) end
check(table.concat(pieces) == TEXT, "token_to_piece concatenates to the text")
check(tok:piece_to_token(tok:token_to_piece(ids[4])) == ids[4], "piece_to_token")
check_raises("NOT_FOUND", "piece_to_token of an unknown piece", tok.piece_to_token, tok, "\255\254zz")
local utf = "é ü — ✓ God"
local st = tok:stream()
local out = {}
for _, id in ipairs(tok:encode(utf)) do out[#out + 1] = st:decode({id}) end
out[#out + 1] = st:flush()
check(table.concat(out) == utf, "streaming decode gives the text back")
local tok_dir = TMP .. "/tok"
tok:save(tok_dir)
local tok2 = llm.tokenizer_load(tok_dir)
check(same(tok2:encode(TEXT), ids), "saved HF tokenizer encodes the same")
tok:save(TMP .. "/tok.gguf", "gguf")
check(same(llm.tokenizer_load(TMP .. "/tok.gguf"):encode(TEXT:sub(1, 400)), tok:encode(TEXT:sub(1, 400))),
  "saved GGUF tokenizer encodes the same")
if CLI then
  local cli_ids = {}
  for x in sh("'" .. CLI .. "' tokenize --tokenizer '" .. tok_dir .. "' --file '" .. TEXT_PATH .. "'"):gmatch("%d+") do
    cli_ids[#cli_ids + 1] = tonumber(x)
  end
  check(same(cli_ids, ids), "tokenize ids == libllm tokenize")
end
-- bad input
check_raises("string expected", "encode(123 table)", tok.encode, tok, {})
check_raises("integers", "decode of strings", tok.decode, tok, {1, "x"})
check_raises("32%-bit", "decode of a huge id", tok.decode, tok, {2 ^ 40})
check_raises("RANGE", "decode of an unknown id", tok.decode, tok, {1, 1000000})
check_raises("llm.tokenizer expected", "wrong self type", tok.encode, {}, "x")
check_raises("pattern", "bad pattern", llm.tokenizer_load, tok_dir, {pattern = "nope"})
check_raises("LLM_ERR", "missing file", llm.tokenizer_load, "/nonexistent/tokenizer.json")
local tok3 = llm.tokenizer_load(tok_dir, {special = {"<|user|>"}})
local sp = tok3:encode("<|user|>hi", {special = true})
check(tok3:n_vocab() == N_VOCAB + 1 and sp[1] == N_VOCAB and tok3:decode(sp) == "<|user|>hi", "user special tokens")
tok3:close()
tok2:close()
tok2:close()
check(tok2:is_closed(), "is_closed")
check_raises("tokenizer is closed", "use after close", tok2.encode, tok2, "x")
check_raises("tokenizer is closed", "n_vocab after close", tok2.n_vocab, tok2)

-- ---- model ----
local m = llm.model_create({arch = "gpt2", n_vocab = N_VOCAB, n_ctx = 64, n_embd = 32, n_layer = 2, n_head = 2}, 7)
local cfg = m:config()
check(cfg.n_vocab == N_VOCAB and cfg.n_head_kv == 2 and cfg.n_ff == 128, "config of a created model")
local total = 0
for _, name in ipairs(m:tensor_names()) do
  local n = 1
  for _, d in ipairs(m:tensor_shape(name)) do n = n * d end
  total = total + n
end
check(total == m:n_params(), "n_params is the sum of the tensor sizes")
check(m:file_type() == 0, "file_type of a created model")
check(m:n_tensors() == #m:tensor_names() and m:tensor_name(0) == m:tensor_names()[1], "tensor names")
check(llm.count_model(cfg).n_params == m:n_params(), "count_model == n_params")
local emb = m:tensor("token_embd.weight")
local ptr, n_el = m:tensor_data("token_embd.weight")
check(#emb == N_VOCAB * 32 and n_el == #emb and type(ptr) == "userdata", "tensor copy and data")
check_raises("NOT_FOUND", "unknown tensor", m.tensor, m, "nope")
check(m:tokenizer() == nil, "a created model has no tokenizer")
check_raises("no tokenizer", "tokenize without tokenizer", m.tokenize, m, "x")
-- a little training so that the model is not noise
local tr = llm.trainer(m, {batch = 2, seq_len = 32, lr = 3e-3})
for _ = 1, 12 do tr:step(tr:next_batch(ids)) end
check(tr:n_steps() == 12, "12 steps")
check_raises("still open", "closing a model with an open trainer", m.close, m)
tr:close()
m:set_tokenizer(tok)
check(m:tokenizer() == tok, "set_tokenizer")
check_raises("owned by a model", "set_tokenizer twice", m.set_tokenizer, m, tok)
local MODEL = TMP .. "/model.gguf"
m:save(MODEL)
m:close()
check(tok:is_closed(), "the model's tokenizer is closed with it")
check_raises("model is closed", "use after close", m.n_params, m)
check_raises("BAD_FILE", "bad model file", llm.model_load, TEXT_PATH)

-- Q8_0: weights within half a quantization step d = max|block| / 127 of
-- the F32 ones, plus d's own fp16 rounding (2^-11 relative, times |q| <= 127)
llm.quantize(MODEL, TMP .. "/model-q8.gguf", {type = "q8_0"})
do
  local f, q = llm.model_load(MODEL), llm.model_load(TMP .. "/model-q8.gguf")
  check(q:file_type() == 7 and q:tensor_type("token_embd.weight") == 8 and
        q:tensor_type("output_norm.weight") == 0 and f:tensor_type("token_embd.weight") == 0,
        "quantized tensor types")
  local a, b, ok = f:tensor("token_embd.weight"), q:tensor("token_embd.weight"), true
  for i = 1, #a, 32 do
    local amax, err = 0, 0
    for j = i, i + 31 do
      amax = math.max(amax, math.abs(a[j]))
      err = math.max(err, math.abs(a[j] - b[j]))
    end
    if err > amax / 127 * (0.5 + 127 / 2048) + 1e-12 then ok = false end
  end
  check(ok, "Q8_0 error within half a step")
  f:close(); q:close()
end
check_raises("q8_0", "unknown quantization type", llm.quantize, MODEL, TMP .. "/x.gguf", {type = "q4_0"})
check_raises("NOT_FOUND", "quantize a missing file", llm.quantize, TMP .. "/missing.gguf", TMP .. "/x.gguf")

m = llm.load(MODEL)
check(m:tokenizer() ~= nil, "llm.load finds the embedded tokenizer")
ids = m:tokenize(TEXT)
local loads = 0
local m2 = llm.model_load(MODEL, {progress = function(ph) loads = loads + 1; check(ph == llm.PHASE_LOAD, "load phase") end})
check(loads > 0, "load progress")
check_raises("oops", "load progress error", llm.model_load, MODEL, {progress = function() error("oops") end})
local fh = assert(io.open(MODEL, "rb"))
local m3 = llm.model_load_mem(fh:read("*a"))
fh:close()
check(same(m3:tensor("output_norm.weight"), m:tensor("output_norm.weight")), "model_load_mem")
local m4 = llm.model_import(MODEL)
check(same(m4:tensor("output_norm.weight"), m:tensor("output_norm.weight")), "model_import")
m4:close()
m2:close(); m3:close()

-- ---- context ----
local c = m:context({n_ctx = 64, attention = true})
local unpack_ = table.unpack or unpack
local few = {unpack_(ids, 1, 12)}
local full = c:forward(few)
check(#full == 12 * N_VOCAB, "forward returns (n_tokens x n_vocab)")
check(#c:forward(few, 1, true) == N_VOCAB, "forward last only")
local p = c:decode(few)
check(type(p) == "userdata" and c:n_past() == 12, "decode")
local z = c:logits()
local maxdiff = 0
for j = 1, N_VOCAB do maxdiff = math.max(maxdiff, math.abs(z[j] - full[11 * N_VOCAB + j])) end
check(maxdiff < 1e-4, "decode logits == forward logits: " .. maxdiff)
local function log_softmax_at(row_off, t)
  local mx = -math.huge
  for j = 1, N_VOCAB do mx = math.max(mx, full[row_off + j]) end
  local s = 0
  for j = 1, N_VOCAB do s = s + math.exp(full[row_off + j] - mx) end
  return full[row_off + t + 1] - mx - math.log(s)
end
local want = 0
for i = 0, 10 do want = want - log_softmax_at(i * N_VOCAB, few[i + 2]) end
want = want / 11
local ins, tgs = {}, {}
for i = 1, 11 do ins[i] = few[i]; tgs[i] = few[i + 1] end
local loss, lp = c:loss(ins, tgs)
check(near(loss, want, 1e-4) and #lp == 11, "ctx loss == log-softmax in Lua")
local rows = {}
for i = 1, 11 * N_VOCAB do rows[i] = full[i] end
check(near(llm.cross_entropy(rows, tgs, N_VOCAB), want, 1e-5), "cross_entropy")
c:capture_attention(1, 1)
c:forward({few[1], few[2], few[3], few[4]})
local att = c:attention()
check(#att == 4 and near(att[4][1] + att[4][2] + att[4][3] + att[4][4], 1, 1e-5), "attention rows")
check_raises("RANGE", "capture_attention out of range", c.capture_attention, c, 9, 0)
c:truncate(3)
check(c:n_past() == 3, "truncate")
c:reset()
check(c:n_past() == 0 and c:n_ctx() == 64, "reset, n_ctx")
check_raises("STATE", "logits after reset", c.logits, c)
check_raises("RANGE", "decode of a bad id", c.decode, c, {1, N_VOCAB + 3})
check(c:n_past() == 0, "a failed decode leaves the cache")
check_raises("32%-bit integer", "decode of a float id", c.decode, c, {1.5})
check_raises("multiple", "forward with bad n_seq", c.forward, c, {1, 2, 3}, 2)
local nll, npred = c:eval(ids, 16)
check(npred == #ids - 1 and nll > 0, "eval")
c:interrupt()
check_raises("CANCELLED", "interrupt", c.decode, c, {1})
c:reset()
local calls = 0
local cp = llm.context(m, {n_ctx = 16, n_batch = 16, progress = function(ph)
  calls = calls + 1
  error({code = 42})
end})
local ok, err = pcall(cp.eval, cp, ids, 8)
check(not ok and type(err) == "table" and err.code == 42 and calls == 1, "progress error object re-raised once")
ok = pcall(cp.eval, cp, ids, 8)
check(not ok and calls == 2, "the context is reusable after a callback error")
cp:close()
local holder = {}
local cq = llm.context(m, {n_ctx = 16, n_batch = 16, progress = function() holder[1]:close() end})
holder[1] = cq
check_raises("from inside", "closing a context from its own callback is refused", cq.eval, cq, ids, 8)
holder[1] = {close = function() end}
check(not cq:is_closed() and select(2, cq:eval(ids, 8)) == #ids - 1, "the context is still usable")
cq:close()
check(m:ctx_estimate_bytes({n_ctx = 64}) > 0, "ctx_estimate_bytes")

-- ---- sampler ----
local s = llm.sampler({n_vocab = 5, temperature = 0})
check(s:sample({0.5, 2.0, -1.0, 2.0, 0.0}) == 1, "greedy: ties to the lower id")
s:close()
s = llm.sampler({n_vocab = 5, seed = 3})
local pr, kept = s:probs({0.5, 2.0, -1.0, 2.0, 0.0})
local zs = {0.5, 2.0, -1.0, 2.0, 0.0}
local sum = 0
for i = 1, 5 do sum = sum + math.exp(zs[i] - 2) end
check(kept == 5 and near(pr[1], math.exp(-1.5) / sum, 1e-5), "probs == softmax")
s:set("top_k", 2)
check(s:get("top_k") == 2, "set/get top_k")
s:set("temperature", 0.5)
check(s:get("temperature") == 0.5, "set/get temperature")
check_raises("INVALID", "top_p out of range", s.set, s, "top_p", 1.5)
check_raises("invalid option", "unknown key", s.set, s, "nope", 1)
local seq = {}
for i = 1, 20 do seq[i] = s:sample(zs) end
s:reset(3); s:set("top_k", 2); s:set("temperature", 0.5)
local seq2 = {}
for i = 1, 20 do seq2[i] = s:sample(zs) end
check(same(seq, seq2), "reset reproduces the sequence")
check_raises("INVALID", "NaN logits", s.sample, s, {1, 0 / 0, 0, 0, 0})
check_raises("INVALID", "wrong n_vocab", s.sample, s, {1, 2})
check_raises("INVALID", "accept out of range", s.accept, s, 9)
local b = llm.param_bounds("top_p")
check(b.name == "LLM_SAMPLER_TOP_P" and b.type == "f32" and b.max == 1 and b.min_open, "param_bounds")
check_raises("top_p", "bad sampler option", llm.sampler, {n_vocab = 3, top_p = 2})
local sb = llm.sampler({n_vocab = 3, temperature = 0, logit_bias = {[0] = -math.huge}})
check(sb:sample({1, 1, 0}) == 1, "logit_bias bans a token")
local sc = llm.sampler({n_vocab = N_VOCAB, temperature = 0})
c:decode(few)
local best, bi = -math.huge, -1
for j, x in ipairs(c:logits()) do if x > best then best, bi = x, j - 1 end end
check(sc:sample(c) == bi, "sample(ctx) == arg-max of the logits")
if jit then -- LuaJIT: the lent pointers are usable through the FFI without a copy
  local ffi = require "ffi"
  local zp = ffi.cast("const float *", c:decode({few[1]}))
  local zl = c:logits()
  check(zp[0] == zl[1] and zp[N_VOCAB - 1] == zl[N_VOCAB], "decode pointer through the FFI")
  local tp, tn = m:tensor_data("output_norm.weight")
  local tf = ffi.cast("const float *", tp)
  check(tn == 32 and tf[31] == m:tensor("output_norm.weight")[32], "tensor_data through the FFI")
end
s:close(); sb:close()

-- ---- generation ----
local function greedy_oracle(prompt, n)
  local cc = m:context()
  local pids = m:tokenize(prompt)
  cc:decode(pids)
  local out = {}
  for _ = 1, n do
    local zz = cc:logits()
    local bb, bj = -math.huge, -1
    for j, x in ipairs(zz) do if x > bb then bb, bj = x, j - 1 end end
    if bj == eos then break end
    out[#out + 1] = bj
    cc:decode({bj})
  end
  cc:close()
  return out
end
local g = m:generate("And God said", {max_tokens = 20, temperature = 0})
check(same(g.tokens, greedy_oracle("And God said", 20)), "greedy generate == decode + arg-max")
check(g.text == m:detokenize(g.tokens), "generate text == detokenize(tokens)")
check(g.reason == "max_tokens" or g.reason == "eos", "reason " .. tostring(g.reason))
if CLI then
  for _, ts in ipairs({{"0", 0}, {"0.9", 5}}) do
    local j = sh("'" .. CLI .. "' generate --model '" .. MODEL .. "' --prompt 'And God said' -n 24 --temp "
      .. ts[1] .. " --seed " .. ts[2] .. " --top-k 40 --json")
    local gg = m:generate("And God said", {max_tokens = 24, temperature = tonumber(ts[1]), seed = ts[2], top_k = 40})
    check(same(gg.tokens, json_ids(j, "tokens")), "generate == libllm generate --temp " .. ts[1])
  end
  for _, ctxn in ipairs({64, 16}) do
    local j = sh("'" .. CLI .. "' eval --model '" .. MODEL .. "' --file '" .. TEXT_PATH .. "' --ctx " .. ctxn .. " --json --quiet")
    local e = m:evaluate(TEXT, {ctx = ctxn})
    check(e.tokens == json_num(j, "tokens"), "evaluate tokens == libllm eval")
    check(tonumber(string.format("%.9g", e.loss)) == json_num(j, "loss"), "evaluate loss == libllm eval (ctx " .. ctxn .. ")")
    check(tonumber(string.format("%.9g", e.ppl)) == json_num(j, "ppl"), "evaluate ppl == libllm eval")
    check(tonumber(string.format("%.9g", e.bpb)) == json_num(j, "bpb"), "evaluate bpb == libllm eval")
  end
  for _, a in ipairs({1, 2, 3}) do
    local j = sh("'" .. CLI .. "' plan --compute 1e21 --approach " .. a .. " --json")
    local pl = llm.plan_for_compute(1e21, a)
    for _, k in ipairs({"compute", "params", "tokens", "tokens_per_param", "loss"}) do
      check(near(pl[k], json_num(j, k), math.abs(pl[k]) * 1e-8), "plan " .. k .. " == libllm plan")
    end
  end
end
local gc_ctx = m:context({n_ctx = 64})
local smp = llm.sampler({n_vocab = N_VOCAB, seed = 11})
local seen = {}
local gen = llm.generator(gc_ctx, smp, m:tokenizer(), {max_tokens = 10, on_token = function(t, piece)
  seen[#seen + 1] = t
end})
check_raises("STATE", "next before feed", gen.next, gen)
gen:feed("And God")
local toks, texts = {}, {}
while true do
  local stt, tk, piece = gen:next()
  if stt == "ok" then toks[#toks + 1] = tk end
  texts[#texts + 1] = piece
  if stt == "done" then break end
end
check(#toks == 10 and same(seen, toks), "generator next + on_token")
check(table.concat(texts) == m:detokenize(toks), "pieces concatenate to the text")
check(gen:reason() == "max_tokens" and llm.gen_reason_str(3) == "max_tokens", "reason")
local r = gen:result()
check(r.n_tokens == 10 and r.reason == "max_tokens" and gen:max_piece() > 0, "result")
gen:reset(); smp:reset(11)
local viaf = llm.generate(gc_ctx, smp, m:tokenizer(), "And God", {max_tokens = 10})
check(same(viaf.tokens, toks), "llm.generate == generator with the same seed")
gen:reset(); smp:reset(11)
gen:feed(m:tokenize("And God"))
local got, frames = {}, 0
repeat
  local stt, tks = gen:step(0)
  frames = frames + 1
  for _, t in ipairs(tks) do got[#got + 1] = t end
until stt == "done"
check(same(got, toks) and frames >= 10, "step(0): one forward pass per call")
gen:reset(); smp:reset(11)
gen:feed("And God")
local st_all, toks_all, text_all = gen:step(60000000, 64)
check(st_all == "done" and same(toks_all, toks) and text_all == m:detokenize(toks),
  "a generous budget finishes the turn in one call")
gen:reset()
gen:feed("And")
gen:next()
gen:cancel()
check(gen:next() == "done" and gen:reason() == "cancelled", "cancel")
local stopper = m:generate("And God", {max_tokens = 16, temperature = 0})
local stop = stopper.text:sub(5, 7)
local gs = m:generate("And God", {max_tokens = 16, temperature = 0, stop = {stop}})
check(gs.reason == "stop" and stopper.text:sub(1, #gs.text) == gs.text, "stop sequence")
local n_cb = 0
local gcan = m:generate("And God", {max_tokens = 16, temperature = 0, on_token = function()
  n_cb = n_cb + 1
  return n_cb == 3
end})
check(gcan.reason == "cancelled" and #gcan.tokens == 3, "on_token returning true cancels")
check_raises("callback failed", "on_token error propagates", m.generate, m, "And",
  {max_tokens = 5, on_token = function() error("callback failed") end})
local gen2 = llm.generator(gc_ctx, smp, nil, {on_token = function() error("in step") end})
gen2:feed({1, 2, 3})
check_raises("in step", "error in on_token from step", gen2.step, gen2, 1000000)
gen2:close()
check_raises("INVALID", "sampler of the wrong size", llm.generator, gc_ctx, llm.sampler({n_vocab = 3}))
check_raises("llm.sampler expected", "generator type check", llm.generator, gc_ctx, gc_ctx)
check_raises("still open", "closing a context with an open generator", gc_ctx.close, gc_ctx)
gen:close()
gc_ctx:close()
local e = m:evaluate(TEXT, {ctx = 32})
check(e.tokens == #ids - 1 and near(e.ppl, math.exp(e.loss), 1e-9) and e.bpb > 0, "evaluate")

-- ---- trainer ----
local mt = llm.model_create({arch = "llama", n_vocab = 64, n_ctx = 16, n_embd = 16, n_layer = 1, n_head = 2, n_ff = 32}, 3)
local stream = {}
for i = 0, 399 do stream[#stream + 1] = (i * 7 + math.floor(i / 5)) % 64 end
local t1 = llm.trainer(mt, {batch = 2, seq_len = 8, lr = 1e-2, warmup_steps = 2, total_steps = 10, min_lr = 1e-3})
check(near(t1:lr(0), 1e-2 / 3, 1e-15), "lr warmup")
local want_lr = 1e-3 + 0.5 * (1 + math.cos(math.pi * 3 / 8)) * (1e-2 - 1e-3)
check(near(t1:lr(5), want_lr, 1e-15), "lr cosine")
local a, t = t1:next_batch(stream)
check(#a == 16 and a[2] == stream[2] and t[1] == stream[2], "next_batch")
local l0 = t1:eval(a, t)
check(t1:step(a, t) == l0 and t1:grad_norm() > 0, "step returns the loss before the update")
check(#t1:grad("token_embd.weight") == 64 * 16, "grad")
for _ = 1, 4 do t1:step(a, t) end
check(t1:eval(a, t) < l0, "training lowers the loss")
t1:save(TMP .. "/ck.gguf")
local bi_, bt_ = t1:next_batch(stream)
local want_loss = t1:step(bi_, bt_)
local mt2 = llm.model_create({arch = "llama", n_vocab = 64, n_ctx = 16, n_embd = 16, n_layer = 1, n_head = 2, n_ff = 32}, 3)
local t2 = llm.trainer(mt2, {batch = 2, seq_len = 8, lr = 1e-2, warmup_steps = 2, total_steps = 10, min_lr = 1e-3})
t2:load(TMP .. "/ck.gguf")
local bi2, bt2 = t2:next_batch(stream)
check(same(bi2, bi_) and t2:step(bi2, bt2) == want_loss, "checkpoint resumes bit for bit")
check_raises("INVALID", "wrong token count", t1.step, t1, {1, 2}, {1, 2})
check_raises("differ", "length mismatch", t1.step, t1, {1, 2}, {1})
check_raises("BAD_FILE", "load of a non-checkpoint", t1.load, t1, MODEL)
local t3 = llm.trainer(mt2, {batch = 2, seq_len = 8, progress = function() error("tp") end})
check_raises("tp", "trainer progress error", t3.step, t3, a, t)
check(t3:n_steps() == 0, "a cancelled step changes nothing")
t1:close(); t2:close(); t3:close(); mt:close(); mt2:close()
local tf = assert(io.open(TMP .. "/toks.u32", "wb"))
tf:write(string.char(1, 0, 0, 0, 2, 0, 0, 0, 0x70, 0x11, 0x01, 0))
tf:close()
check(same(llm.tokens_load(TMP .. "/toks.u32"), {1, 2, 70000}), "tokens_load")
check_raises("NOT_FOUND", "tokens_load of a missing file", llm.tokens_load, TMP .. "/none.bin")

-- ---- planning ----
local k = llm.plan_constants()
check(k.E == 1.69 and k.A == 406.4 and k.alpha == 0.34, "plan_constants")
check(near(llm.plan_loss(1e9, 2e10), 1.69 + 406.4 / 1e9 ^ 0.34 + 410.7 / 2e10 ^ 0.28, 1e-12), "plan_loss formula")
local pl = llm.plan_for_compute(1e21)
check(near(pl.compute, 6 * pl.params * pl.tokens, 1e21 * 1e-12), "C = 6ND")
check(near(llm.plan_for_params(pl.params).compute, 1e21, 1e21 * 1e-9), "plan_for_params inverts")
check(near(llm.plan_for_tokens(pl.tokens).compute, 1e21, 1e21 * 1e-9), "plan_for_tokens inverts")
check(llm.plan_for_compute(1e21, 3, "besiroglu2024").params ~= pl.params, "constants preset")
check(llm.plan_for_compute(1e21, 3, {E = 1.8}).loss ~= pl.loss, "custom constants")
check(llm.plan_seconds(1e9, 1e4) == 1e5, "plan_seconds")
check(llm.plan_budget(10, 100, 1e6) == 6e9, "plan_budget")
check_raises("compute", "negative compute", llm.plan_for_compute, -1)
local cnt = llm.count_model({})
check(cnt.n_params == 124439808, "GPT-2 small count")
check(llm.count_train_flops({}, 1e9) == 6 * 124439808 * 1e9, "6N flops")
local sug, sn = llm.plan_suggest_config(50e6)
check(llm.count_model(sug).n_params == sn and math.abs(sn - 50e6) / 50e6 < 0.05, "suggest_config")
local N = {1e7, 3e7, 1e8, 3e8, 1e9, 1e7, 1e8, 1e9, 3e7, 3e8}
local D = {1e9, 3e9, 1e10, 3e10, 1e11, 1e10, 1e9, 3e9, 3e10, 1e11}
local Lo = {}
for i = 1, #N do Lo[i] = 1.8 + 400 / N[i] ^ 0.35 + 300 / D[i] ^ 0.3 end
local fits = 0
local fit = llm.fit_scaling_law(N, D, Lo, {grid = "coarse", progress = function() fits = fits + 1 end})
check(fit.converged and near(fit.alpha, 0.35, 0.02) and fits == 108, "fit_scaling_law")
check_raises("loss%[9%]", "fit with a bad loss names it", llm.fit_scaling_law, N, D,
  {Lo[1], Lo[2], Lo[3], Lo[4], Lo[5], Lo[6], Lo[7], Lo[8], Lo[9], -1})
check_raises("fp", "fit progress error", llm.fit_scaling_law, N, D, Lo, {grid = "coarse", progress = function() error("fp") end})

-- ---- lifetime ----
if _VERSION == "Lua 5.4" then
  local chunk = load([[
    local llm, MODEL = ...
    local keep
    do
      local mm <close> = llm.model_load(MODEL)
      keep = mm
    end
    return keep:is_closed()
  ]])
  check(chunk(llm, MODEL), "<close> closes the model")
end
do
  local mm = llm.model_load(MODEL)
  local cc = mm:context()
  mm = nil
  collectgarbage()
  check(cc:n_ctx() == 64, "a context keeps its model alive")
  cc = nil
  collectgarbage()
end
-- type confusion is an error, never a crash
check_raises("llm.context expected", "a sampler as a context", c.decode, sc, {1})
check_raises("llm.model expected", "a context as a model", m.tokenize, c, "x")
check_raises("llm.sampler expected", "a table as a sampler", sc.sample, {}, {1})
check_raises("expected an llm handle", "close of a table", c.close, {})
check(getmetatable(c) == "llm handle", "metatables are protected")
check_raises("still open", "closing a model with an open context", m.close, m)
c:close()
sc:close()
m:close()
os.execute("rm -rf '" .. TMP .. "'")

if failures > 0 then
  print(failures .. " failed, " .. passes .. " passed")
  os.exit(1)
end
print("all " .. passes .. " checks passed")
