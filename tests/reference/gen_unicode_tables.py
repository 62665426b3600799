#!/usr/bin/env python3
"""gen_unicode_tables.py - generate engine/src/text/unicode_tables.c, the Unicode data the CLIP
tokenizer needs, from the pinned reference itself.

The reference tokenizer (transformers 5.23.0 CLIPTokenizer, backed by the Rust `tokenizers`
library) normalises with NFC (the `unicode-normalization-alignments` crate), lowercases with Rust's
`char::to_lowercase`, and pre-tokenises with Oniguruma's `\\s`, `\\p{L}` and `\\p{N}`. These three
carry *different* Unicode versions, none equal to Python's `unicodedata` (14.0 in Python 3.11): the
lowercase and letter tables are newer, the decomposition table is older. So every table here is
read back from the reference components, not from `unicodedata`:

  * classes   - which code points Oniguruma puts in \\p{L}, \\p{N}, \\s (matched one by one);
  * lowercase - `normalizers.Lowercase()` applied to each code point;
  * decompose - `normalizers.NFD()` applied to each code point (full canonical decomposition);
  * ccc       - canonical combining classes: unicodedata's values, each checked against the
                reference's canonical reordering (and corrected to 0 where the reference does not
                know the mark);
  * compose   - canonical pairs from unicodedata's decompositions, kept only where the reference
                NFC really composes them.
Hangul syllables are algorithmic in the C code and are checked here too.

Usage: /work/venv-ref/bin/python tests/reference/gen_unicode_tables.py [out.c]
"""
import os
import sys
import unicodedata

import tokenizers
import transformers
from tokenizers import Regex, normalizers, pre_tokenizers

assert transformers.__version__ == "5.23.0", transformers.__version__
assert tokenizers.__version__ == "0.23.3", tokenizers.__version__

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "engine/src/text/unicode_tables.c")

CPS = [c for c in range(1, 0x110000) if not (0xD800 <= c < 0xE000)]
ALL = "".join(chr(c) for c in CPS)
NFC = normalizers.NFC()
NFD = normalizers.NFD()
LOW = normalizers.Lowercase()
SB, LB, VB, TB, LC, VC, TC, SC = 0xAC00, 0x1100, 0x1161, 0x11A7, 19, 21, 28, 11172


def regex_set(pat):
    """Code points that Oniguruma (as used by the reference) matches with `pat`."""
    sp = pre_tokenizers.Split(Regex(pat), behavior="removed", invert=True)
    out = set()
    for piece, _ in sp.pre_tokenize_str(ALL):
        assert len(piece) == 1, (pat, piece)
        out.add(ord(piece))
    return out


def class_ranges():
    L, N, S = regex_set(r"\p{L}"), regex_set(r"\p{N}"), regex_set(r"\s")
    assert not (L & N) and not (L & S) and not (N & S)
    flag = {}
    for c in L:
        flag[c] = 1
    for c in N:
        flag[c] = 2
    for c in S:
        flag[c] = 4
    ranges = []
    for c in sorted(flag):
        f = flag[c]
        if ranges and ranges[-1][1] == c - 1 and ranges[-1][2] == f:
            ranges[-1][1] = c
        else:
            ranges.append([c, c, f])
    return ranges


def lowercase_maps():
    single, multi = [], []
    for c in CPS:
        lo = LOW.normalize_str(chr(c))
        if lo == chr(c):
            continue
        if len(lo) == 1:
            single.append((c, ord(lo)))
        else:
            assert len(lo) <= 3
            multi.append((c, [ord(x) for x in lo]))
    return single, multi


def decompositions():
    out = []
    for c in CPS:
        if SB <= c < SB + SC:
            d = NFD.normalize_str(chr(c))
            s = c - SB
            want = [LB + s // (VC * TC), VB + (s % (VC * TC)) // TC] + ([TB + s % TC] if s % TC else [])
            assert [ord(x) for x in d] == want, hex(c)
            continue
        d = NFD.normalize_str(chr(c))
        if d != chr(c):
            assert len(d) <= 4, hex(c)
            out.append((c, [ord(x) for x in d]))
    return out


def ccc_values(decomp_cps):
    """Combining classes, each checked against the reference's canonical reordering."""
    known = {}
    for c in CPS:
        k = unicodedata.combining(chr(c))
        if k:
            known[c] = k
    # One probe mark per class value (a mark the reference certainly knows: old, in Latin/Greek).
    probes = {1: 0x0334, 220: 0x0316, 230: 0x0301, 232: 0x0315, 202: 0x0327, 216: 0x031B, 234: 0x035D,
              240: 0x0345, 233: 0x035C, 7: 0x093C, 9: 0x094D, 8: 0x3099}
    out = {}
    for c, k in sorted(known.items()):
        if NFD.normalize_str(chr(c)) != chr(c):
            continue  # decomposes first: its own class is never looked at
        # Reordering test: "a" + c + probe comes out as "a" + probe + c iff 0 < ccc(probe) < ccc(c).
        ok = True
        for pk, p in probes.items():
            if p == c:
                continue
            swapped = NFD.normalize_str("a" + chr(c) + chr(p)) == "a" + chr(p) + chr(c)
            if swapped != (pk < k):
                ok = False
                break
        if ok:
            out[c] = k
        else:
            # The reference does not know this mark (newer than its tables): it acts as class 0.
            assert NFD.normalize_str("a" + chr(c) + chr(0x0334)) == "a" + chr(c) + chr(0x0334), hex(c)
            print("ccc: reference treats U+%04X as class 0 (unicodedata: %d)" % (c, k))
    ranges = []
    for c in sorted(out):
        k = out[c]
        if ranges and ranges[-1][1] == c - 1 and ranges[-1][2] == k:
            ranges[-1][1] = c
        else:
            ranges.append([c, c, k])
    return ranges, out


def compositions():
    pairs = []
    for c in CPS:
        d = unicodedata.decomposition(chr(c))
        if not d or d.startswith("<"):
            continue
        parts = [int(x, 16) for x in d.split()]
        if len(parts) != 2:
            continue
        a, b = parts
        if NFC.normalize_str(chr(a) + chr(b)) == chr(c) and NFC.normalize_str(chr(c)) == chr(c):
            pairs.append((a, b, c))
    pairs.sort()
    return pairs


def emit():
    classes = class_ranges()
    low1, lowm = lowercase_maps()
    dec = decompositions()
    cccr, _ = ccc_values(set(c for c, _ in dec))
    comp = compositions()
    lines = []
    w = lines.append
    w("/*")
    w(" * unicode_tables.c - GENERATED by tests/reference/gen_unicode_tables.py; do not edit.")
    w(" *")
    w(" * Unicode data for the CLIP tokenizer, read back from the pinned reference (transformers")
    w(" * %s, tokenizers %s): Oniguruma's \\p{L} / \\p{N} / \\s classes, Rust's lowercase," %
      (transformers.__version__, tokenizers.__version__))
    w(" * the reference NFC's decompositions, combining classes and composition pairs.")
    w(" */")
    w('#include "text/unicode_tables.h"')
    w("")
    w("const uni_range uni_class_ranges[] = {")
    for a, b, f in classes:
        w("    {0x%X, 0x%X, %d}," % (a, b, f))
    w("};")
    w("const unsigned uni_class_count = %d;" % len(classes))
    w("")
    w("const uni_map uni_lower_map[] = {")
    for a, b in low1:
        w("    {0x%X, 0x%X}," % (a, b))
    w("};")
    w("const unsigned uni_lower_count = %d;" % len(low1))
    w("")
    w("const uni_multi uni_lower_multi[] = {")
    for a, m in lowm:
        m = m + [0] * (3 - len(m))
        w("    {0x%X, {0x%X, 0x%X, 0x%X}}," % (a, m[0], m[1], m[2]))
    if not lowm:
        w("    {0, {0, 0, 0}},")
    w("};")
    w("const unsigned uni_lower_multi_count = %d;" % len(lowm))
    w("")
    w("const uni_range uni_ccc_ranges[] = {")
    for a, b, k in cccr:
        w("    {0x%X, 0x%X, %d}," % (a, b, k))
    w("};")
    w("const unsigned uni_ccc_count = %d;" % len(cccr))
    w("")
    w("const uni_decomp uni_decomp_table[] = {")
    for a, d in dec:
        n = len(d)
        d = d + [0] * (4 - n)
        w("    {0x%X, %d, {0x%X, 0x%X, 0x%X, 0x%X}}," % (a, n, d[0], d[1], d[2], d[3]))
    w("};")
    w("const unsigned uni_decomp_count = %d;" % len(dec))
    w("")
    w("const uni_pair uni_compose_table[] = {")
    for a, b, c in comp:
        w("    {0x%X, 0x%X, 0x%X}," % (a, b, c))
    w("};")
    w("const unsigned uni_compose_count = %d;" % len(comp))
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s: %d class ranges, %d+%d lowercase, %d ccc ranges, %d decompositions, %d pairs" %
          (OUT, len(classes), len(low1), len(lowm), len(cccr), len(dec), len(comp)))


if __name__ == "__main__":
    emit()
