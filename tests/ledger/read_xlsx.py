#!/usr/bin/env python3
"""An .xlsx reader on Python's standard library alone (zipfile, xml.etree),
to check what `ledger xlsx` writes without trusting libxlsxwriter or any
spreadsheet package.

  read_xlsx.py dump BOOK.xlsx          every sheet, a line per row, cells typed:
                                       s:text (a string), n:number, - (no cell);
                                       a header cell in bold is marked *
  read_xlsx.py check LEDGER.csv BOOK.xlsx
                                       the workbook holds the ledger: the zip is
                                       sound, a sheet per study in order of first
                                       appearance, a bold header row, then the
                                       study's rows, each cell equal to the CSV's
                                       (numbers as numbers, text as strings, an
                                       empty cell absent). Prints what it checked;
                                       exits 1 on the first difference.
"""
import csv
import re
import sys
import zipfile
import xml.etree.ElementTree as ET

NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "pr": "http://schemas.openxmlformats.org/package/2006/relationships",
}
R_ID = "{%s}id" % NS["r"]
NUMBER_COLUMNS = {"val_accuracy", "val_macro_f1", "test_accuracy", "test_macro_f1", "wall_s"}


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def col_index(ref):
    letters = re.match(r"([A-Z]+)(\d+)$", ref)
    if not letters:
        fail("bad cell reference %r" % ref)
    n = 0
    for ch in letters.group(1):
        n = n * 26 + ord(ch) - ord("A") + 1
    return n - 1, int(letters.group(2)) - 1


def text_of(el):
    """The text of a shared or inline string: every <t>, rich runs joined."""
    return "".join(t.text or "" for t in el.iter("{%s}t" % NS["m"]))


def read_book(path):
    """(zip part count, [(sheet name, {(row, col): (type, value, bold)})])"""
    z = zipfile.ZipFile(path)
    bad = z.testzip()
    if bad is not None:
        fail("zip member %s is corrupt" % bad)
    names = set(z.namelist())
    for part in ("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
        if part not in names:
            fail("no %s in the zip" % part)
    for part in names:
        if part.endswith(".xml") or part.endswith(".rels"):
            ET.fromstring(z.read(part))  # every XML part parses
    rels = {r.get("Id"): r.get("Target") for r in ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))}
    shared = []
    if "xl/sharedStrings.xml" in names:
        shared = [text_of(si) for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", NS)]
    bold_style = set()
    if "xl/styles.xml" in names:
        styles = ET.fromstring(z.read("xl/styles.xml"))
        fonts = styles.findall("m:fonts/m:font", NS)
        for i, xf in enumerate(styles.findall("m:cellXfs/m:xf", NS)):
            font = fonts[int(xf.get("fontId", "0"))]
            if font.find("m:b", NS) is not None:
                bold_style.add(str(i))
    sheets = []
    for s in ET.fromstring(z.read("xl/workbook.xml")).findall("m:sheets/m:sheet", NS):
        target = rels[s.get(R_ID)]
        part = target.lstrip("/") if target.startswith("/") else "xl/" + target
        cells = {}
        for c in ET.fromstring(z.read(part)).iter("{%s}c" % NS["m"]):
            col, row = col_index(c.get("r"))
            t = c.get("t", "n")
            v = c.find("m:v", NS)
            if t == "s":
                value = ("s", shared[int(v.text)])
            elif t == "inlineStr":
                value = ("s", text_of(c.find("m:is", NS)))
            elif t in ("n",) and v is not None:
                value = ("n", float(v.text))
            elif v is None:
                continue  # a formatted blank
            else:
                fail("%s!%s: cell type %r" % (s.get("name"), c.get("r"), t))
            cells[(row, col)] = value + (c.get("s", "0") in bold_style,)
        sheets.append((s.get("name"), cells))
    return len(names), sheets


def dump(path):
    _, sheets = read_book(path)
    for name, cells in sheets:
        print("sheet %s" % name)
        nrows = max((r for r, _ in cells), default=-1) + 1
        ncols = max((c for _, c in cells), default=-1) + 1
        for r in range(nrows):
            out = []
            for c in range(ncols):
                cell = cells.get((r, c))
                if cell is None:
                    out.append("-")
                else:
                    kind, value, bold = cell
                    text = repr(value) if kind == "n" else value
                    out.append("%s%s:%s" % ("*" if bold else "", kind, text))
            print("  " + " | ".join(out))


def as_stored(text):
    """The double a 16-significant-digit writer (libxlsxwriter's %.16G)
    stores for the CSV's number: the CSV's own value when its shortest
    form has 16 digits or fewer."""
    return float("%.16g" % float(text))


def check(ledger, path):
    with open(ledger, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], rows[1:]
    studies = []
    for row in data:
        if row[0] not in studies:
            studies.append(row[0])
    nparts, sheets = read_book(path)
    print("zip sound: %d parts, every XML part parses" % nparts)
    names = [name for name, _ in sheets]
    if names != studies:
        fail("sheets %s, studies %s" % (names, studies))
    print("sheets: %s (the studies, in order of first appearance)" % ", ".join(names))
    for name, cells in sheets:
        want = [header] + [row for row in data if row[0] == name]
        seen = 0
        for c, title in enumerate(header):
            got = cells.get((0, c))
            if got != ("s", title, True):
                fail("%s: header cell %d is %r, not bold %r" % (name, c, got, title))
            seen += 1
        numbers = 0
        for r, row in enumerate(want[1:], start=1):
            for c, text in enumerate(row):
                got = cells.get((r, c))
                where = "%s row %d %s" % (name, r + 1, header[c])
                if text == "":
                    if got is not None:
                        fail("%s: %r where the ledger's cell is empty" % (where, got))
                    continue
                seen += 1
                if header[c] in NUMBER_COLUMNS:
                    if got is None or got[0] != "n" or got[1] != as_stored(text):
                        fail("%s: %r, the ledger has the number %s" % (where, got, text))
                    if abs(got[1] - float(text)) > 6e-16 * abs(float(text)):
                        fail("%s: %r is too far from %s" % (where, got[1], text))
                    numbers += 1
                elif got != ("s", text, False):
                    fail("%s: %r, the ledger has the string %r" % (where, got, text))
        if len(cells) != seen:
            fail("%s: %d cells, the ledger has %d" % (name, len(cells), seen))
        n = len(want) - 1
        print("%s: bold header + %d row%s, %d cells equal to the ledger's (%d number%s)"
              % (name, n, "" if n == 1 else "s", seen - len(header), numbers, "" if numbers == 1 else "s"))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "dump":
        dump(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
