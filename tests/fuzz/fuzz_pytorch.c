/* libFuzzer target: the pytorch_model.bin reader (pytorch_bin_open,
 * lib/bert/pytorch_bin: the zip archive of torch >= 1.6 and the legacy
 * single stream, both through its pickle interpreter) on the input written
 * to a file, then the checks of fuzz_tensors.h. A refusal must say why in
 * one line. */
#include "bert/pytorch_bin.h"
#include "core/common.h"
#include "fuzz_tensors.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init("fuzz_pytorch");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_path(0, "pytorch_model.bin");
    fz_write(path, data, size);
    st_file s;
    char err[MODEL_ERR_MAX];
    if (FZ_GUARD()) {
        if (pytorch_bin_open(&s, path, err) == 0) {
            check_tensors(&s, s.map, s.size, fz_path(1, "out.safetensors"));
            st_close(&s);
        } else {
            FZ_CHECK(err[0] && !strchr(err, '\n'), "a one-line error message");
        }
        fz_end();
    }
    return 0;
}
