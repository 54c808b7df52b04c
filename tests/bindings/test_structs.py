"""The ctypes mirrors of libllm's option/result structs have the C layout:
a C program generated from the mirrors prints sizeof and offsetof of every
field, compiled against include/llm.h with the project's C compiler
(LLM_CC, LLM_INCLUDE from CTest)."""
import ctypes
import os
import subprocess
import tempfile
import unittest

from libllm import _lib


class TestStructLayout(unittest.TestCase):
    @unittest.skipUnless(os.environ.get("LLM_CC") and os.environ.get("LLM_INCLUDE"),
                         "LLM_CC/LLM_INCLUDE not set (run through CTest)")
    def test_every_mirror_matches_c(self):
        lines = ['#include <stddef.h>', '#include <stdio.h>', '#include "llm.h"',
                 'int main(void) {']
        expected = []
        for s in _lib.STRUCTS:
            name = s.__name__
            lines.append(f'    printf("{name} %zu\\n", sizeof({name}));')
            expected.append(f"{name} {ctypes.sizeof(s)}")
            for field, _ in s._fields_:
                lines.append(f'    printf("{name}.{field} %zu\\n", offsetof({name}, {field}));')
                expected.append(f"{name}.{field} {getattr(s, field).offset}")
        lines += ["    return 0;", "}"]
        with tempfile.TemporaryDirectory() as d:
            src, exe = os.path.join(d, "layout.c"), os.path.join(d, "layout")
            with open(src, "w") as f:
                f.write("\n".join(lines) + "\n")
            subprocess.run([os.environ["LLM_CC"], "-std=c11", "-I", os.environ["LLM_INCLUDE"],
                            src, "-o", exe], check=True)
            got = subprocess.run([exe], check=True, capture_output=True, text=True).stdout.split("\n")
        self.assertEqual([l for l in got if l], expected)

    def test_init_functions_write_struct_size(self):
        # each *_init writes the size we pass into struct_size (the mirror's size)
        pairs = [(_lib.llm_model_opts, _lib.llm_model_opts_init),
                 (_lib.llm_model_config, _lib.llm_model_config_init),
                 (_lib.llm_tokenizer_opts, _lib.llm_tokenizer_opts_init),
                 (_lib.llm_tokenizer_train_opts, _lib.llm_tokenizer_train_opts_init),
                 (_lib.llm_ctx_opts, _lib.llm_ctx_opts_init),
                 (_lib.llm_sampler_opts, _lib.llm_sampler_opts_init),
                 (_lib.llm_trainer_opts, _lib.llm_trainer_opts_init),
                 (_lib.llm_gen_opts, _lib.llm_gen_opts_init),
                 (_lib.llm_gen_result, _lib.llm_gen_result_init),
                 (_lib.llm_count, _lib.llm_count_init),
                 (_lib.llm_plan_constants, _lib.llm_plan_constants_init),
                 (_lib.llm_plan, _lib.llm_plan_init),
                 (_lib.llm_fit_opts, _lib.llm_fit_opts_init),
                 (_lib.llm_fit_result, _lib.llm_fit_result_init)]
        for cls, init in pairs:
            s = _lib.new_struct(cls, init)
            self.assertEqual(s.struct_size, ctypes.sizeof(cls), cls.__name__)
            self.assertEqual(init(None, ctypes.sizeof(cls)), -1, cls.__name__)  # NULL rejected
        s = _lib.llm_tok_stream()
        self.assertEqual(_lib.llm_tok_stream_init(ctypes.byref(s), ctypes.sizeof(s), 0), 0)
        self.assertEqual(s.struct_size, ctypes.sizeof(s))


if __name__ == "__main__":
    unittest.main()
