# The CUDA backend of bert-train and predict (lib/bert/cuda, lib/bert/bert_cuda.h).
# Read by the Makefile before its rules. Where nvcc exists, lib/bert/cuda/*.cu is
# compiled for CUDA_ARCH (default "80 90": A100 and H100/H200; CUDA_ARCH=90 drops
# A100) and linked with cudart + cuBLAS; without nvcc, and under SANITIZE=1
# (ASan and the CUDA runtime do not mix: CUDA maps memory where ASan keeps
# its shadow), lib/bert/cuda/stub.c answers "CUDA support was not built in" and
# the CPU path is the whole program. Either way `make check` needs no GPU.
#
#   make cuda-tests   the GPU tests (tests/cuda): kernel harness, parity tests
#   make check-cuda   build and run them; needs a GPU; ends "N passed, N failed"
#   make bench-bert-gpu  training throughput vs PyTorch on the GPU (bench/bert_gpu.py)
#
# The CPU suite also runs the GPU code: tests/cuda/cuemu.{h,cpp} emulate the
# CUDA runtime, kernels and cuBLAS on the host, and the same kernels, model
# code and tests built against it are unit tests (test_cuda_emu_*).

NVCC      ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA_ARCH ?= 80 90
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(realpath $(NVCC)))
CUDA_LIBDIR ?= $(firstword $(wildcard $(CUDA_HOME)/lib64 $(CUDA_HOME)/targets/x86_64-linux/lib))
CPU_LDLIBS := $(LDLIBS)

ifeq ($(SANITIZE),1)
CUDA_BUILD :=
else
CUDA_BUILD := $(if $(NVCC),1,)
endif

CUDA_GENCODE := $(foreach a,$(CUDA_ARCH),-gencode arch=compute_$(a),code=sm_$(a))
NVCCFLAGS ?= -O3 -lineinfo
ALL_NVCCFLAGS = -std=c++17 $(NVCCFLAGS) $(CUDA_GENCODE) -Xcompiler -Wall,-Wextra,-fPIC -Ilib/bert/cuda

# With CUDA the GPU code is a shared library, $(BUILD)/lib/libpipeclf_cuda.so,
# that lib/bert/cuda/loader.c opens when a program first asks for a device: a
# program linked with cuBLAS pays ~60 ms at every start. The programs export
# the few of their symbols it uses (lib/bert/cuda/exports.list) and find it in
# ../lib from their own directory (so a copy of bin/ and lib/ side by side
# works too).
ifeq ($(CUDA_BUILD),1)
CUDA_OBJ    := $(patsubst lib/bert/cuda/%.cu,$(BUILD)/cuda/%.o,$(wildcard lib/bert/cuda/*.cu))
CUDA_SO     := $(BUILD)/lib/libpipeclf_cuda.so
CUDA_LDLIBS := -L$(CUDA_LIBDIR) -lcublas -lcudart -lstdc++ -Wl,-rpath,$(CUDA_LIBDIR)
LIB_OBJ     += $(BUILD)/lib/bert/cuda/loader.o $(BUILD)/lib/bert/cuda/device.o
CPPFLAGS    += -DPIPECLF_HAVE_CUDA
LDLIBS      += -ldl -Wl,--dynamic-list=lib/bert/cuda/exports.list -Wl,-rpath,'$$ORIGIN/../lib'
PROGRAM_DEPS += $(CUDA_SO)
else
LIB_OBJ  += $(BUILD)/lib/bert/cuda/stub.o $(BUILD)/lib/bert/cuda/device.o
endif

$(BUILD)/cuda/%.o: lib/bert/cuda/%.cu
	@mkdir -p $(@D)
	$(NVCC) $(ALL_NVCCFLAGS) $(CPPFLAGS) -MMD -MP -MF $(@:.o=.d) -c -o $@ $<
# -Bsymbolic: its own bert_cuda_* calls stay inside it, not on loader.c's
# forwarders of the same names in the program
$(BUILD)/lib/libpipeclf_cuda.so: $(CUDA_OBJ)
	@mkdir -p $(@D)
	$(CXX) -shared -Wl,-Bsymbolic -o $@ $^ $(CUDA_LDLIBS)

# the host-side logic every build has: names, loss scaler, device switch
UNIT_TESTS += $(BUILD)/unit/test_bert_device
$(BUILD)/unit/test_bert_device: $(BUILD)/tests/cuda/test_device_host.o $(BUILD)/lib/libpipeclf.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- the CPU emulation (needs the CUDA headers, not a GPU) ----
ifeq ($(CUDA_BUILD),1)
CUDA_INC   := $(CUDA_HOME)/include
EMU        := $(BUILD)/emu
EMU_CXX    ?= $(CXX)
EMU_FLAGS   = -std=c++17 -O1 -g -Wall -Wextra -DCUEMU -Itests/cuda -Ilib/bert/cuda -isystem $(CUDA_INC) $(CPPFLAGS) -MMD -MP
# (mk/dnnl.mk is read after this file: its DNNL_LIBS, not yet in CPU_LDLIBS, by name)
EMU_LIBS    = $(CPU_LDLIBS) $(DNNL_LIBS) -lstdc++

UNIT_TESTS += $(BUILD)/unit/test_cuda_emu_kernels $(BUILD)/unit/test_cuda_emu_model

$(EMU)/%.o: lib/bert/cuda/%.cu
	@mkdir -p $(@D)
	$(EMU_CXX) $(EMU_FLAGS) -x c++ -c -o $@ $<
$(EMU)/%.o: tests/cuda/%.cu
	@mkdir -p $(@D)
	$(EMU_CXX) $(EMU_FLAGS) -x c++ -c -o $@ $<
$(EMU)/cuemu.o: tests/cuda/cuemu.cpp
	@mkdir -p $(@D)
	$(EMU_CXX) $(EMU_FLAGS) -c -o $@ $<
$(EMU)/test_bert_cuda.o: tests/cuda/test_bert_cuda.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -DPIPECLF_CUDA_EMU -c -o $@ $<

$(BUILD)/unit/test_cuda_emu_kernels: $(EMU)/harness_kernels.o $(EMU)/cuemu.o $(BUILD)/lib/libpipeclf.a
	@mkdir -p $(@D)
	$(EMU_CXX) $(ALL_LDFLAGS) -o $@ $^ $(EMU_LIBS)
# the emulated bert_cuda.o comes first, so the archive's real one is never pulled in
$(BUILD)/unit/test_cuda_emu_model: $(EMU)/test_bert_cuda.o $(EMU)/bert_cuda.o $(EMU)/cuemu.o $(BUILD)/lib/libpipeclf.a
	@mkdir -p $(@D)
	$(EMU_CXX) $(ALL_LDFLAGS) -o $@ $^ $(EMU_LIBS)

# the GPU suite (tests/cuda/run.sh) on the emulation: bert-train and predict
# linked with it, the kernel harness and parity test as above. Slow (minutes);
# for checking the GPU code on a machine without a GPU, not part of `make check`.
EMU_PROGRAMS := $(EMU)/bin/bert-train $(EMU)/bin/predict
$(EMU)/bin/%: $(BUILD)/filters/%.o $(EMU)/bert_cuda.o $(EMU)/cuemu.o $(BUILD)/lib/libpipeclf.a
	@mkdir -p $(@D)
	$(EMU_CXX) $(ALL_LDFLAGS) -o $@ $^ $(EMU_LIBS)
$(EMU)/tests/%: $(BUILD)/unit/test_cuda_emu_%
	@mkdir -p $(@D)
	ln -sf $(abspath $<) $@
.PHONY: check-cuda-emu
check-cuda-emu: programs $(EMU_PROGRAMS) $(EMU)/tests/kernels $(EMU)/tests/model
	@ln -sf kernels $(EMU)/tests/harness_kernels; ln -sf model $(EMU)/tests/test_bert_cuda
	@CUDA_TESTS_BIN=$(abspath $(EMU)/tests) CUDA_PROGRAMS_BIN=$(abspath $(EMU)/bin) tests/cuda/run.sh $(BUILD) $(SHARED)

-include $(wildcard $(EMU)/*.d)
endif
-include $(BUILD)/tests/cuda/test_device_host.d

# ---- on a GPU machine ----
CUDA_TESTS := $(BUILD)/cuda-tests/harness_kernels $(BUILD)/cuda-tests/test_bert_cuda $(BUILD)/cuda-tests/bert_gpu_bench
.PHONY: cuda-tests check-cuda cuda-report bench-bert-gpu

ifeq ($(CUDA_BUILD),1)
cuda-tests: $(CUDA_TESTS)
check-cuda: deps
	@$(MAKE) --no-print-directory programs cuda-tests
	@tests/cuda/run.sh $(BUILD) $(SHARED)

$(BUILD)/cuda-tests/harness_kernels.o: tests/cuda/harness_kernels.cu
	@mkdir -p $(@D)
	$(NVCC) $(ALL_NVCCFLAGS) $(CPPFLAGS) -MMD -MP -MF $(@:.o=.d) -c -o $@ $<
# linked with the CUDA code itself (the kernel harness calls kernels and
# cuBLAS directly), as the programs were before libpipeclf_cuda.so
$(BUILD)/cuda-tests/harness_kernels: $(BUILD)/cuda-tests/harness_kernels.o $(BUILD)/lib/libpipeclf.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) $(CUDA_LDLIBS)
$(BUILD)/cuda-tests/test_bert_cuda: $(BUILD)/tests/cuda/test_bert_cuda.o $(CUDA_OBJ) $(BUILD)/lib/libpipeclf.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) $(CUDA_LDLIBS)
$(BUILD)/cuda-tests/bert_gpu_bench: $(BUILD)/bench/bert_gpu.o $(CUDA_OBJ) $(BUILD)/lib/libpipeclf.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) $(CUDA_LDLIBS)
-include $(wildcard $(BUILD)/cuda-tests/*.d)

# registers, shared memory, spills of every kernel (no GPU needed)
cuda-report:
	$(NVCC) $(ALL_NVCCFLAGS) $(CPPFLAGS) --resource-usage -c -o /dev/null lib/bert/cuda/bert_cuda.cu 2>&1 \
	    | grep -E 'Function properties|Compiling entry|registers|spill' | sed 's/ptxas info *: //'

# training samples/s and MFU of a bert-base-sized model, ours vs PyTorch
BENCH_GPU_PY ?= python3
bench-bert-gpu: $(BUILD)/cuda-tests/bert_gpu_bench
	$(BENCH_GPU_PY) bench/bert_gpu.py $(BUILD)/cuda-tests/bert_gpu_bench
else
cuda-tests check-cuda cuda-report bench-bert-gpu:
	@echo "$@: no CUDA in this build ($(if $(NVCC),SANITIZE=1 builds without it,no nvcc found; set NVCC=))" >&2; exit 1
endif
