/*
 * Task documents (tdrv_doc_parse: JSON, or else YAML). Invariants: a document that parses
 * has no duplicate key and no nesting past TDRV_MAX_DEPTH, and printing it gives JSON that
 * tdrv_json_parse reads back to the same text; a refusal is exit 65 with a message.
 */
#include "fuzz.h"

#include "json.h"
#include "mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* tdrv_doc_parse wants buf[len] == NUL, as struct tdrv_buf keeps it; NULs inside stay. */
    cleanup_free char *buf = fuzz_cstr(data, size);
    cleanup_json cJSON *doc = NULL;
    cleanup_json cJSON *again = NULL;
    struct tdrv_err err = {0};
    struct tdrv_err err2 = {0};
    char *text = NULL;
    char *text2 = NULL;
    int rc = tdrv_doc_parse(buf, size, &doc, &err);

    if (rc < 0) {
        FUZZ_ASSERT(doc == NULL, "a refused document left a tree");
        FUZZ_ASSERT(err.code == TDRV_E_DATA, "exit %d (%s)", err.code, err.msg);
        FUZZ_ASSERT(err.msg[0] != '\0', "empty message");
        FUZZ_ASSERT(strlen(err.msg) < sizeof(err.msg), "message not terminated");
        return 0;
    }
    FUZZ_ASSERT(rc == 0, "rc %d", rc);
    FUZZ_ASSERT(doc != NULL, "no tree");
    FUZZ_ASSERT(err.code == 0, "error set on success: %s", err.msg);
    FUZZ_ASSERT(tdrv_json_check_tree(doc, &err2) == 0, "tree breaks the contract: %s", err2.msg);

    /* Printed, then parsed again as JSON, the tree prints the same. */
    text = cJSON_PrintUnformatted(doc);
    FUZZ_ASSERT(text != NULL, "print failed");
    rc = tdrv_json_parse(text, strlen(text), &again, &err2);
    FUZZ_ASSERT(rc == 0, "printed tree does not parse back: %s\n%s", err2.msg, text);
    text2 = cJSON_PrintUnformatted(again);
    FUZZ_ASSERT(text2 != NULL, "print failed");
    FUZZ_ASSERT(!strcmp(text, text2), "print is not stable:\n%s\n%s", text, text2);
    cJSON_free(text);
    cJSON_free(text2);
    return 0;
}
