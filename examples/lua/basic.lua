-- basic.lua: the convenience layer of the Lua module `llm` in a few lines.
-- usage: lua5.4 basic.lua MODEL.gguf [PROMPT]   (or luajit)
-- (LUA_CPATH must find llm.so, e.g. LUA_CPATH='build/lua/5.4/?.so')
local llm = require "llm"
local path = assert(arg[1], "usage: basic.lua MODEL.gguf [PROMPT]")
local prompt = arg[2] or "And God said"

local m = llm.load(path)                  -- llm.load(path, {tokenizer = DIR}) if it has none
local ids = m:tokenize(prompt)
print(("%q -> %d tokens: %s"):format(prompt, #ids, table.concat(ids, " ")))
print("back to text:", m:detokenize(ids))

-- greedy, then sampled with a seed (same seed, same text)
local g = m:generate(prompt, {max_tokens = 24, temperature = 0})
print(("greedy (%s): %s%s"):format(g.reason, prompt, g.text))
g = m:generate(prompt, {max_tokens = 24, temperature = 0.8, top_k = 40, seed = 7,
                        on_token = function(token, piece) io.write(piece) end})
print(("\n[%d tokens, %s]"):format(#g.tokens, g.reason))

local e = m:evaluate(prompt .. g.text, {ctx = 64})
print(("loss %.3f nats/token, perplexity %.2f over %d predictions"):format(e.loss, e.ppl, e.tokens))

-- a compute-optimal plan, for good measure
local p = llm.plan_for_compute(1e19)
print(("1e19 FLOPs: %.3g parameters on %.3g tokens"):format(p.params, p.tokens))
m:close()
