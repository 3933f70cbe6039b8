/* pytorch_bin: reads the tensors of a PyTorch checkpoint (pytorch_model.bin),
 * as published BERT models ship it (SciBERT only that way). Both formats of
 * torch.save are read: the zip archive of torch >= 1.6 (data.pkl plus one
 * stored entry per storage) and the older single stream (pickled header,
 * pickled state dict, then the raw storages). The pickle is run by a small
 * interpreter that knows only the opcodes and globals a state dict uses
 * (OrderedDict, torch._utils._rebuild_tensor_v2, the storage types); nothing
 * in the file is ever executed, and anything else is refused.
 *
 * The result is an st_file (lib/bert/safetensors.h) whose tensors point into the
 * mapped checkpoint, so lib/bert loads either format the same way. Only
 * contiguous tensors are accepted (state dicts are). */
#ifndef PIPECLF_PYTORCH_BIN_H
#define PIPECLF_PYTORCH_BIN_H

#include "safetensors.h"

/* Returns 0, or -1 with a message in err (MODEL_ERR_MAX bytes). st_close()
 * releases the result. */
int pytorch_bin_open(st_file *f, const char *path, char *err);

#endif
