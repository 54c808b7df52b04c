#!/usr/bin/env python3
"""Binding coverage check: every llm_ function exported by libllm.so (nm -D)
and every function include/llm.h declares must be bound in Python (declared
in bindings/python/libllm/_lib.py AND used by a module of the package) and
in Lua (called in bindings/lua/*.c, directly or through an *_INIT
macro), or be listed in bindings/not-bound.txt as

    llm_name  python|lua|both  reason...

Stale entries (a listed function that is bound, or no longer exported) fail
too, so the list stays honest.

usage: check_coverage.py LIBLLM.so SOURCE_DIR
"""
import os
import re
import subprocess
import sys


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True,
                         text=True).stdout
    return {l.split()[-1] for l in out.splitlines() if l.split() and l.split()[-1].startswith("llm_")}


def declared(header_text):
    return set(re.findall(r"^LLM_API\b[^;(]*?\b(llm_\w+)\s*\(", header_text, re.M))


def init_macros(header_text):
    # #define LLM_X_INIT(o) llm_x_init((o), sizeof *(o)) -> {LLM_X_INIT: llm_x_init}
    return dict(re.findall(r"^#define (LLM_\w+_INIT)\([^)]*\)\s+(llm_\w+)\(", header_text, re.M))


def python_bound(pkg_dir):
    with open(os.path.join(pkg_dir, "_lib.py")) as f:
        decl = set(re.findall(r'\bfn\("(llm_\w+)"', f.read()))
    used = set()
    for name in os.listdir(pkg_dir):
        if name.endswith(".py") and name != "_lib.py":
            with open(os.path.join(pkg_dir, name)) as f:
                used |= set(re.findall(r"_lib\.(llm_\w+)\b", f.read()))
    return decl, used


def lua_bound(lua_dir, macros):
    src = ""
    for name in sorted(os.listdir(lua_dir)):
        if name.endswith((".c", ".h")):
            with open(os.path.join(lua_dir, name)) as f:
                src += f.read()
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)  # comments do not count
    # a call or a function pointer (load_with(L, llm_model_load)) both count
    called = set(re.findall(r"\b(llm_[a-z0-9_]+)\b", src))
    for macro, func in macros.items():
        if re.search(r"\b" + macro + r"\s*\(", src):
            called.add(func)
    return called


def not_bound(path):
    entries, errors = {}, []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) < 3 or parts[1] not in ("python", "lua", "both") or len(parts[2]) < 10:
                errors.append(f"{path}:{i}: expected 'llm_name python|lua|both reason': {line}")
                continue
            langs = {"python", "lua"} if parts[1] == "both" else {parts[1]}
            for lang in langs:
                entries[(parts[0], lang)] = parts[2]
    return entries, errors


def main():
    lib, src = sys.argv[1], sys.argv[2]
    with open(os.path.join(src, "include", "llm.h")) as f:
        header = f.read()
    exp, dec = exported(lib), declared(header)
    pdecl, pused = python_bound(os.path.join(src, "bindings", "python", "libllm"))
    lua = lua_bound(os.path.join(src, "bindings", "lua"), init_macros(header))
    nb, errors = not_bound(os.path.join(src, "bindings", "not-bound.txt"))
    for name in sorted(dec - exp):
        errors.append(f"{name}: declared in llm.h but not exported by {lib}")
    for name in sorted(exp | dec):
        for lang, ok in (("python", name in pdecl and name in pused), ("lua", name in lua)):
            listed = (name, lang) in nb
            if not ok and not listed:
                why = ("not declared in _lib.py" if name not in pdecl else
                       "declared in _lib.py but used by no module") if lang == "python" else \
                    "not called in bindings/lua/*.c"
                errors.append(f"{name}: not bound in {lang} ({why}) and not in not-bound.txt")
            if ok and listed:
                errors.append(f"{name}: bound in {lang} but listed in not-bound.txt (stale)")
    for (name, lang) in sorted(nb):
        if name not in exp:
            errors.append(f"{name}: listed in not-bound.txt but not exported")
    n = len(exp | dec)
    nb_names = sorted({f"{k[0]} ({k[1]})" for k in nb})
    print(f"{n} functions; python binds {sum(1 for x in exp | dec if x in pdecl and x in pused)}, "
          f"lua binds {sum(1 for x in exp | dec if x in lua)}; not bound: {', '.join(nb_names) or 'none'}")
    for e in errors:
        print("FAIL:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
