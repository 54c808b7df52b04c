-- game_loop.lua: text generation inside a frame loop. Each frame gives
-- libllm a time budget (here 4 ms of a 16 ms frame); g:step runs forward
-- passes only while they fit, so the game never stalls, and the line of
-- text grows token by token as frames go by.
-- usage: lua5.4 game_loop.lua MODEL.gguf [PROMPT] [BUDGET_MS]   (or luajit)
local llm = require "llm"
local path = assert(arg[1], "usage: game_loop.lua MODEL.gguf [PROMPT] [BUDGET_MS]")
local prompt = arg[2] or "And God said"
local budget_us = math.floor((tonumber(arg[3]) or 4) * 1000)

local clock = os.clock -- CPU time: good enough for a demo without a game engine
local function sleep_until(t) while clock() < t do end end

local m = llm.load(path)
-- one thread: the library starts no thread of its own, as a game wants
local ctx = m:context({n_ctx = 0, n_threads = 1})
local smp = llm.sampler({n_vocab = m:config().n_vocab, temperature = 0.8, top_k = 40, seed = 1})
local gen = llm.generator(ctx, smp, m:tokenizer(), {max_tokens = 48, stop = {"\n\n"}})
gen:feed(prompt)

local line = prompt
local frame, tokens = 0, 0
local status = "again"
while status ~= "done" do
  local frame_start = clock()
  frame = frame + 1
  -- at most one forward pass per call when the budget is small: one token per frame
  local st, toks, text = gen:step(budget_us, 1)
  status = st
  tokens = tokens + #toks
  line = line .. text
  -- "render": redraw the line in place
  io.write("\r", (line:gsub("\n", " ")))
  io.flush()
  -- the rest of the frame belongs to the game
  sleep_until(frame_start + 0.016)
end
local r = gen:result()
print(("\n[%d frames, %d tokens, %s; prompt %.1f ms, generation %.1f ms, last pass %.2f ms]"):format(
  frame, tokens, r.reason, r.prompt_seconds * 1e3, r.gen_seconds * 1e3, r.last_pass_seconds * 1e3))
gen:close(); ctx:close(); smp:close(); m:close()
