# The experiment ledger (ledger add, ledger xlsx; lib/eval/ledger*, lib/eval/workbook).
#   make ledger    runs/ledger.csv -> runs/ledger.xlsx, a worksheet per study
#                  (LEDGER=path/to/ledger.csv; the workbook goes beside it)
# libxlsxwriter (Debian libxlsxwriter-dev) is linked into ledger and its unit
# test alone: the other programs, unit tests and fuzzers never call
# lib/eval/workbook, so the linker never pulls workbook.o out of the archive.
LEDGER      ?= runs/ledger.csv
LEDGER_XLSX ?= $(basename $(LEDGER)).xlsx
XLSX_LIBS   := $(shell pkg-config --libs xlsxwriter 2>/dev/null || echo -lxlsxwriter)

$(BUILD)/bin/ledger: LDLIBS += $(XLSX_LIBS)
$(BUILD)/unit/test_ledger: LDLIBS += $(XLSX_LIBS)

.PHONY: ledger ledger-xlsx
ledger: deps
	@$(MAKE) --no-print-directory ledger-xlsx
ledger-xlsx: $(BUILD)/bin/ledger
	$(BUILD)/bin/ledger xlsx -o $(LEDGER_XLSX) $(LEDGER)
