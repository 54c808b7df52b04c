/*
 * json.h - a small strict JSON (RFC 8259) reader for vocabulary and
 * configuration files (encoder.json, vocab.json, tokenizer.json,
 * tokenizer_config.json, config.json).
 *
 * The whole text is parsed at once into a read-only document: a flat array
 * of values in document order plus one arena holding every decoded string.
 * Values are named by index (llm__json_val); index 0 is the root. Nothing
 * points into the caller's buffer, so it may be freed right after parsing.
 *
 * Strictness: exactly one value surrounded by optional whitespace (a
 * leading UTF-8 byte-order mark is skipped, as RFC 8259 section 8.1
 * allows); no comments, no trailing commas, no single quotes, no
 * NaN/Infinity, no leading zeros or '+'; strings must be valid UTF-8
 * (shortest form, no surrogate code points, at most U+10FFFF) without raw
 * control characters; \uXXXX escapes are decoded, surrogate pairs are
 * joined and a lone surrogate is an error (it has no UTF-8 form).
 * Nesting deeper than LLM__JSON_MAX_DEPTH is refused, so hostile input
 * cannot exhaust the C stack. Errors name the `what` string, the byte
 * offset, and the line and column.
 *
 * Duplicate object keys are kept; llm__json_get returns the last one (as
 * JavaScript's JSON.parse and Python's json do). Callers that must refuse
 * duplicates (vocabularies) check themselves.
 *
 * A document is immutable after parsing and may be read by many threads.
 */
#ifndef LLM_JSON_H
#define LLM_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "llm_core.h"

#define LLM__JSON_MAX_DEPTH 512

/* Value types. */
#define LLM__JSON_NULL   0
#define LLM__JSON_FALSE  1
#define LLM__JSON_TRUE   2
#define LLM__JSON_NUMBER 3
#define LLM__JSON_STRING 4
#define LLM__JSON_ARRAY  5
#define LLM__JSON_OBJECT 6
/* Returned by llm__json_type for LLM__JSON_NONE or an index out of range. */
#define LLM__JSON_INVALID (-1)

/* A value: its index in the document. */
typedef uint32_t llm__json_val;
/* "No value" (missing key, index out of range). Every accessor accepts it
 * and answers as for a value of no type. */
#define LLM__JSON_NONE UINT32_MAX

typedef struct llm__json llm__json;

/* Parses buf[0..len) (need not be NUL-terminated). On success *out is the
 * document (free with llm__json_free); on failure *out is NULL, the status
 * is returned (LLM_ERR_BAD_FILE for malformed text, LLM_ERR_NOMEM) and the
 * message, which starts with `what`, is recorded on `err` (may be NULL)
 * and in the thread's last-error buffer. All memory comes from `mem`,
 * which must outlive the document. */
LLM_INTERNAL int llm__json_parse(llm__json **out, llm__obj *err, const llm__mem *mem,
                                 const char *buf, size_t len, const char *what);
/* NULL is a no-op. */
LLM_INTERNAL void llm__json_free(llm__json *doc);

/* The root value (always 0 for a parsed document). */
LLM_INTERNAL llm__json_val llm__json_root(const llm__json *doc);
/* LLM__JSON_* type of v, or LLM__JSON_INVALID. */
LLM_INTERNAL int llm__json_type(const llm__json *doc, llm__json_val v);
/* Elements of an array or members of an object; 0 for anything else. */
LLM_INTERNAL size_t llm__json_count(const llm__json *doc, llm__json_val v);
/* Element i of an array, or LLM__JSON_NONE. */
LLM_INTERNAL llm__json_val llm__json_at(const llm__json *doc, llm__json_val arr, size_t i);
/* Key (a string value) and value of member i of an object, or NONE. */
LLM_INTERNAL llm__json_val llm__json_key_at(const llm__json *doc, llm__json_val obj, size_t i);
LLM_INTERNAL llm__json_val llm__json_value_at(const llm__json *doc, llm__json_val obj, size_t i);
/* Value of the (last) member named key (NUL-terminated), or NONE. */
LLM_INTERNAL llm__json_val llm__json_get(const llm__json *doc, llm__json_val obj, const char *key);

/* Decoded UTF-8 bytes of a string value; *len (may be NULL) gets the byte
 * length. The text is NUL-terminated but may contain NUL bytes (from
 * \u0000), so trust *len. Valid while the document lives. NULL when v is
 * not a string. */
LLM_INTERNAL const char *llm__json_str(const llm__json *doc, llm__json_val v, size_t *len);
/* A NUL-terminated copy of a string value from `mem` (free with
 * llm__mem_free(mem, p, len + 1)), or NULL when v is not a string, the
 * string contains a NUL byte, or allocation failed. */
LLM_INTERNAL char *llm__json_strdup(const llm__json *doc, llm__json_val v,
                                    const llm__mem *mem, size_t *len);
/* Numeric value as a double (correctly rounded by strtod); 0 when v is
 * not a number. */
LLM_INTERNAL double llm__json_num(const llm__json *doc, llm__json_val v);
/* Exact integer value: returns 1 and stores it when v is a number that is
 * an integer representable in int64 (written without fraction/exponent,
 * or, if written with them, exactly integral and within +-2^53); else 0. */
LLM_INTERNAL int llm__json_int64(const llm__json *doc, llm__json_val v, int64_t *out);
/* 1 for true, 0 for false, -1 when v is not a boolean. */
LLM_INTERNAL int llm__json_bool(const llm__json *doc, llm__json_val v);

/* Byte offset in the parsed text where v starts (for error messages),
 * and the 1-based line there. */
LLM_INTERNAL size_t llm__json_offset(const llm__json *doc, llm__json_val v);
LLM_INTERNAL size_t llm__json_line(const llm__json *doc, llm__json_val v);

#endif
