# oneDNN (Debian libdnnl-dev 2.6; no pkg-config file): the int8 and bf16
# matrix products of predict --precision int8|bf16 on the CPU
# (lib/bert/lowp_matmul.c). Debian's libdnnl runs on OpenMP: lowp_matmul.c
# sets each calling thread's OpenMP thread count, hence -lgomp. --as-needed:
# only the programs that link lib/bert's model (predict, bert-train, the
# BERT tests) load them; csvclean and the others start as before.
DNNL_LIBS := -Wl,--push-state,--as-needed -ldnnl -lgomp -Wl,--pop-state
LDLIBS    += $(DNNL_LIBS)
