"""Core of the Python binding: loading, version, status codes, errors."""
import ctypes
import os
import subprocess
import sys
import unittest

import libllm
from libllm import _lib, errors


class TestCore(unittest.TestCase):
    def test_version_matches_library(self):
        self.assertEqual(libllm.version(), _lib.llm_version_string().decode())
        major, minor, patch = (int(x) for x in libllm.version().split("."))
        self.assertEqual(libllm.version_number(), major * 10000 + minor * 100 + patch)

    def test_status_names(self):
        self.assertTrue(libllm.status_str(0).startswith("LLM_OK"))
        self.assertTrue(libllm.status_str(-3).startswith("LLM_ERR_BAD_FILE"))
        self.assertEqual(libllm.status_str(-999), "unknown status")

    def test_every_status_has_a_class(self):
        for code in range(-1, -14, -1):
            cls = errors._BY_STATUS[code]
            name = libllm.status_str(code).split(":")[0]
            self.assertTrue(name.startswith("LLM_ERR_"), name)
            e = cls(code, "detail")
            self.assertIsInstance(e, libllm.Error)
            self.assertEqual(e.status, code)
            self.assertIn(name, str(e))

    def test_check_raises_with_library_message(self):
        # a real failing call: an ABI check for another major version
        rc = _lib.llm_abi_check(990000, 32)
        with self.assertRaises(libllm.ABIError) as cm:
            libllm.check(rc)
        self.assertEqual(cm.exception.status, -11)
        self.assertIn("major", cm.exception.message)
        self.assertEqual(libllm.check(0), 0)

    def test_model_opts_mirror_has_the_c_size(self):
        # the ABI check at import passed with this size; a larger one fails
        size = ctypes.sizeof(libllm._ModelOpts)
        self.assertEqual(_lib.llm_abi_check(_lib.HEADER_VERSION, size), 0)
        self.assertEqual(_lib.llm_abi_check(_lib.HEADER_VERSION, size + 8), -11)

    def test_library_not_found_is_a_clear_import_error(self):
        env = dict(os.environ, LIBLLM_LIBRARY="/nonexistent/libllm.so.0")
        r = subprocess.run([sys.executable, "-c", "import libllm"], env=env,
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("LIBLLM_LIBRARY", r.stderr)


if __name__ == "__main__":
    unittest.main()
