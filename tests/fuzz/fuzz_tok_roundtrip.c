/*
 * fuzz_tok_roundtrip.c - encode/decode on arbitrary bytes with fixed,
 * valid tokenizers: byte-level BPE with each split scheme (gpt2, cl100k,
 * o200k; vocabularies trained once at start-up by llm_tokenizer_train on a
 * built-in text) and SentencePiece BPE (the seeds' tokenizer.bin, if
 * FUZZ_SPM_BIN names one). The first input byte picks the tokenizer and
 * the flags; the rest is the text. decode(encode(x)) must equal x.
 */
#include "fuzz_tok_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static llm_tokenizer *toks[4];
static size_t n_toks;

static const char corpus[] =
    "In the beginning God created the heaven and the earth. And the earth was "
    "without form, and void; and darkness was upon the face of the deep. "
    "Das ist schön: Grüße, naïve café! 1234567 3.14159 <tag attr='x'>\n\n\t  "
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 "
    "don't I'll we've they're  spaces   and\ttabs\r\n";

static void setup(void) {
    static const int32_t pats[3] = {LLM_TOK_PATTERN_GPT2, LLM_TOK_PATTERN_CL100K,
                                    LLM_TOK_PATTERN_O200K};
    char path[600];
    const char *files[1];
    const char *spm = getenv("FUZZ_SPM_BIN");
    int i;
    fuzz_write(path, sizeof path, "corpus.txt", corpus, sizeof corpus - 1);
    files[0] = path;
    for (i = 0; i < 3; i++) {
        llm_tokenizer_train_opts o;
        llm_tokenizer *t = NULL;
        LLM_TOKENIZER_TRAIN_OPTS_INIT(&o);
        o.pattern = pats[i];
        o.vocab_size = 400;
        o.min_frequency = 1;
        FUZZ_CHECK(llm_tokenizer_train(&t, files, 1, &o) == LLM_OK);
        toks[n_toks++] = t;
    }
    if (spm && *spm) {
        llm_tokenizer *t = NULL;
        FUZZ_CHECK(llm_tokenizer_load(&t, spm, NULL) == LLM_OK);
        toks[n_toks++] = t;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint32_t flags;
    const llm_tokenizer *t;
    if (!n_toks)
        setup();
    if (size < 1)
        return 0;
    t = toks[(data[0] & 3) % n_toks];
    flags = (data[0] & 4) ? LLM_TOK_PARSE_SPECIAL : 0;
    fuzz_tok_roundtrip(t, data + 1, size - 1, flags);
    return 0;
}
