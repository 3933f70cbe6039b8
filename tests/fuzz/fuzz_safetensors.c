/* libFuzzer target: the safetensors reader (st_open_buffer,
 * lib/bert/safetensors) on the input as a file image, then the checks of
 * fuzz_tensors.h. A refusal must say why in one line. */
#include "core/common.h"
#include "fuzz_tensors.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init("fuzz_safetensors");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy: a read past the end is a heap overflow ASan sees */
    unsigned char *image = malloc(size ? size : 1);
    memcpy(image, data, size);
    st_file s;
    char err[MODEL_ERR_MAX];
    if (FZ_GUARD()) {
        if (st_open_buffer(&s, image, size, "fuzz.safetensors", err) == 0) {
            check_tensors(&s, image, size, fz_path(0, "out.safetensors"));
            st_close(&s);
        } else {
            FZ_CHECK(err[0] && !strchr(err, '\n'), "a one-line error message");
        }
        fz_end();
    }
    free(image);
    return 0;
}
