#!/usr/bin/env python3
"""make_tokenizer_fixtures.py - reference token ids for the CLIP tokenizer tests.

Builds SDXL's two tokenizers exactly as the pinned transformers builds them from a diffusers
folder (CLIPTokenizer.from_pretrained on tokenizer/ and tokenizer_2/ with the SDXL repo's
tokenizer_config.json and special_tokens_map.json), from vocab.json + merges.txt derived from
open_clip's bpe_simple_vocab_16e6.txt.gz (sdxl-lightning.md section 5), then records the ids
of a corpus of prompts through the call the SDXL pipeline makes:
    tok(prompt, padding="max_length", max_length=77, truncation=True)

Writes into tests/fixtures/tokenizer/:
  vocab.json.gz, merges.txt.gz   the real CLIP vocabulary (identical for both tokenizers)
  corpus.bin.gz                  the prompts and their ids (format below)

corpus.bin (little-endian):
  "STKTOK01"  u32 count  u32 max_len
  per prompt: u32 text_len, u32 full_len_1, u32 full_len_2, text (UTF-8, text_len bytes),
              u16 ids_1[max_len], u16 ids_2[max_len]
full_len_k is the untruncated length (BOS and EOS included) from tokenizer k, so the C test can
check the truncation count it reports.

Usage: /work/venv-ref/bin/python tests/reference/make_tokenizer_fixtures.py
"""
import gzip
import json
import os
import random
import struct
import sys
import tempfile
import unicodedata

import open_clip
import tokenizers
import transformers
from transformers import CLIPTokenizer

assert transformers.__version__ == "5.23.0", transformers.__version__
assert tokenizers.__version__ == "0.23.3", tokenizers.__version__
assert open_clip.__version__ == "3.3.0", open_clip.__version__

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests/fixtures/tokenizer")
MAX_LEN = 77


# ---------------------------------------------------------------------------------------------
# Vocabulary (sdxl-lightning.md section 5)
# ---------------------------------------------------------------------------------------------
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def clip_vocab():
    path = os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")
    lines = gzip.open(path).read().decode("utf-8").split("\n")
    merges = lines[1:49152 - 256 - 2 + 1]
    v = list(bytes_to_unicode().values())
    v = v + [x + "</w>" for x in v]
    v += ["".join(m.split(" ")) for m in merges]
    v += ["<|startoftext|>", "<|endoftext|>"]
    assert len(v) == 49408
    vocab = {t: i for i, t in enumerate(v)}
    assert len(vocab) == 49408
    merges_txt = "#version: 0.2\n" + "".join(m + "\n" for m in merges)
    return vocab, merges_txt


def added(content, normalized):
    return {"content": content, "lstrip": False, "normalized": normalized, "rstrip": False,
            "single_word": False, "special": True}


def write_tokenizer_dir(d, vocab, merges_txt, pad):
    """A tokenizer folder as the SDXL repo ships it (tokenizer/ or tokenizer_2/)."""
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write(merges_txt)
    atd = {}
    if pad == "!":
        atd["0"] = added("!", False)
    atd["49406"] = added("<|startoftext|>", True)
    atd["49407"] = added("<|endoftext|>", False)
    cfg = {"add_prefix_space": False, "added_tokens_decoder": atd, "bos_token": "<|startoftext|>",
           "clean_up_tokenization_spaces": True, "do_lower_case": True, "eos_token": "<|endoftext|>",
           "errors": "replace", "model_max_length": MAX_LEN, "pad_token": pad,
           "tokenizer_class": "CLIPTokenizer", "unk_token": "<|endoftext|>"}
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(d, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": pad,
                   "unk_token": "<|endoftext|>"}, f, indent=2)


# ---------------------------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------------------------
WORDS = """a an the of in on at with without by from under over above photo portrait painting
cat dog fox owl horse dragon robot astronaut woman man girl boy child city street forest river
mountain ocean sky sunset sunrise night rain snow fog castle temple village house room kitchen
garden flower rose tree leaf red blue green yellow purple orange black white golden silver
beautiful detailed intricate cinematic dramatic soft warm cold dark bright vibrant moody
lighting light shadow reflection glass metal wood stone marble neon cyberpunk steampunk fantasy
sci-fi realistic hyperrealistic photorealistic octane render unreal engine trending artstation
by greg rutkowski alphonse mucha studio ghibli 4k 8k hdr bokeh depth field wide angle close-up
macro lens 35mm 85mm f/1.8 award winning masterpiece best quality highly sharp focus smooth
illustration concept art oil watercolor sketch anime manga pixel low poly isometric
standing sitting running flying walking looking holding wearing dress hat coat armor crown
""".split()
NAMES = ["Van Gogh", "Picasso", "Hokusai", "Monet", "Rembrandt", "Dalí", "Frida Kahlo", "Mœbius",
         "H.R. Giger", "Zdzisław Beksiński", "Yoshitaka Amano", "Björk", "Gaudí", "Señor Frog"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["…", "—", "–", "«", "»", "“", "”", "‘", "’",
                                                      "¿", "¡", "·", "•", "©", "®", "™", "°", "±", "×", "÷"]
ACCENTED = ["café", "naïve", "résumé", "Zürich", "Ångström", "jalapeño", "crème brûlée", "façade",
            "Øresund", "Łódź", "Dvořák", "São Paulo", "Müller", "Straße", "ĲSSELMEER", "Ærøskøbing",
            "Việt Nam", "Đà Nẵng", "Tiếng Việt", "Ελληνικά", "Москва", "Київ", "עברית", "العربية",
            "हिन्दी", "தமிழ்", "ภาษาไทย", "ქართული", "Հայերեն", "ǅemal", "ǈ", "ﬁne ﬂower", "Ⅻ", "①②③"]
CJK = ["一只猫", "东京的夜景", "富士山と桜", "美しい風景", "こんにちは世界", "カタカナ", "한국어 텍스트",
       "서울의 밤", "漢字かな交じり文", "中文，标点。", "「引用」", "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ", "ｶﾀｶﾅ",
       "龍", "𠀀𠀁", "㐀", "〇一二三", "水墨画 山水", "猫が好き!", "赤い花、青い空"]
EMOJI = ["😀", "🐱", "🚀", "👩‍🚀", "🇫🇷", "🇯🇵", "👍🏽", "❤️", "☀️", "✨", "🔥🔥🔥", "🧑‍🎨", "🏳️‍🌈",
         "👨‍👩‍👧‍👦", "🙂🙃", "🦊", "🌸", "⭐", "©️", "#️⃣", "1️⃣"]
ENTITIES = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&nbsp;", "&amp;amp;", "&#x27;", "&copy;",
            "&eacute;", "&#8217;", "&hellip;", "&AMP;", "&lt;b&gt;bold&lt;/b&gt;"]
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2003", "\u200b", "\u2028",
          "\u0085", "\x0b", "\x0c", "\u1680", "\u202f", "\u205f", "\ufeff", "\u180e", "\x1c", "\x1f"]
APOS = ["don't", "it's", "I'm", "you're", "we've", "they'll", "he'd", "DON'T", "IT'S", "'s", "'t",
        "''s", "'''", "rock 'n' roll", "o'clock", "l'amour", "dog’s", "ma'am", "'RE", "'Ll", "'d've",
        "y'all", "'tis", "' s", "x'sa", "'m'm"]
MIXED = ["HeLLo WoRLD", "ΣΑΣ", "ΌΣΟΣ", "İstanbul", "ISTANBUL", "ıi", "ß", "ẞ", "ǅ", "Ǆ", "ᾼ",
         "ΐ", "ﬀ", "Ω", "K", "Å", "ℌ", "ℍ", "ℹ", "Ⓐ", "ⓐ", "Ꭰ", "ꭰ", "Ⴀ", "ⴀ", "𐐀", "𞤀", "𑢠",
         "Ᲊ", "Ꟊ", "Ꟗ", "\U00010D50", "\U00016EA0", "Ȿ", "ꞔ", "Ɐ", "ǰ", "ẖ"]
COMBINING = [0x300, 0x301, 0x302, 0x303, 0x308, 0x30A, 0x30C, 0x316, 0x323, 0x327, 0x328, 0x331,
             0x334, 0x335, 0x338, 0x345, 0x35C, 0x35D, 0x361, 0x591, 0x5B0, 0x64B, 0x651, 0x93C,
             0x94D, 0x9BC, 0xE38, 0xE48, 0x1AB0, 0x1DC0, 0x20D0, 0x302A, 0x3099, 0x309A, 0xFE20,
             0x1133B, 0x1145E, 0x16FF0, 0x1E130, 0x1E2EC, 0x1AC1, 0x1DF9, 0x11938, 0x11930]
BASES = "aeiouAEIOUnNcCsSzZyY<=>!?0 \u3131\u3134\u1100\u1161\u11a8\u0915\u0627\u03b1\u0391\u03c9\u0438"


def rand_words(r, n):
    out = []
    for _ in range(n):
        x = r.random()
        if x < 0.75:
            out.append(r.choice(WORDS))
        elif x < 0.8:
            out.append(r.choice(NAMES))
        elif x < 0.85:
            out.append(r.choice(ACCENTED))
        elif x < 0.88:
            out.append(str(r.randint(0, 100000)))
        elif x < 0.92:
            out.append(r.choice(WORDS).upper() if r.random() < 0.5 else r.choice(WORDS).capitalize())
        else:
            out.append(r.choice(WORDS) + r.choice([",", ".", "!", "?", ";", ":", "...", "!!"]))
    return out


def rand_unicode(r, n):
    """Random code points from many blocks (letters of recent Unicode versions included)."""
    blocks = [(0x20, 0x7E), (0xA0, 0x24F), (0x250, 0x36F), (0x370, 0x52F), (0x530, 0x8FF),
              (0x900, 0xDFF), (0xE00, 0x10FF), (0x1100, 0x11FF), (0x1200, 0x1FFF), (0x2000, 0x2BFF),
              (0x2C00, 0x2FFF), (0x3000, 0x30FF), (0x3100, 0x33FF), (0x4E00, 0x4E80), (0xA000, 0xABFF),
              (0xAC00, 0xD7FF), (0xF900, 0xFFFD), (0x10000, 0x1047F), (0x10D00, 0x10D8F),
              (0x11000, 0x11FFF), (0x16E00, 0x16FFF), (0x1D400, 0x1D7FF), (0x1E000, 0x1E9FF),
              (0x1F000, 0x1FAFF), (0x20000, 0x20010)]
    s = []
    for _ in range(n):
        a, b = r.choice(blocks)
        c = r.randint(a, b)
        if 0xD800 <= c < 0xE000:
            c = 0x41
        s.append(chr(c))
    return "".join(s)


def corpus(seed=20261125):
    r = random.Random(seed)
    P = []
    # Fixed cases first: the quirks that matter.
    P += ["", " ", "   ", "\t\n", "!", "!!", "!!!", "! !! !!!", "a photo of a cat", "a photo of a cat!",
          "hello world!!!", "?!?", "wow!?!", "<|endoftext|>", "<|startoftext|>", "<|ENDOFTEXT|>",
          "<|StartOfText|> x", "a<|endoftext|>b", "x<|endoftext|>!!", "<|endoftext|>\u0338", ">\u0338",
          "=\u0338 <\u0338", "<|startoftext|>\u0338", "<|endoftext|", "<|endoftext", "|>", "<||>",
          "<|startoftext|><|endoftext|>", "!<|endoftext|>!", "ΣΑΣ", "İ", "café", "cafe\u0301",
          "\u1100\u1161\u11a8", "\u1100\u1161", "\uac00\u11a8", "e\u0301\u0323", "e\u0323\u0301",
          "a\u0308\u0301", "\u0301a", "s\u0323\u0307", "q\u0307\u0323", "\u0ddb\u0dca", "\u0b47\u0b3e",
          "x" * 300, "word " * 100, "1234567890", "3.14159", "1024x1024", "2024-01-01", "½ ¼ ¾ ² ³",
          "٣٤٥", "௧௨௩", "Ⅳ", "𝟙𝟚", "don't stop", "IT'S", "&amp; &lt;3", "tab\tsep", "new\nline",
          "\u00a0nbsp\u00a0", "ideographic\u3000space", "zero\u200bwidth", "\x00nul"]
    for s in APOS + MIXED + ACCENTED + CJK + EMOJI + ENTITIES:
        P.append(s)
        P.append("a photo of " + s + " in the style of " + s)
    gens = []

    def plain():
        return " ".join(rand_words(r, r.randint(3, 30)))

    def punct_runs():
        return " ".join("".join(r.choice(PUNCT) for _ in range(r.randint(1, 8))) + r.choice(["", " ", "x", "a1"])
                        for _ in range(r.randint(1, 6)))

    def digits():
        parts = [str(r.randint(0, 10 ** r.randint(1, 12))) for _ in range(r.randint(1, 6))]
        return r.choice([" ", "x", ".", ",", "-", ":", "/"]).join(parts) + " " + plain()[:30]

    def accents():
        s = " ".join(r.choice(ACCENTED + NAMES) for _ in range(r.randint(1, 6)))
        return unicodedata.normalize(r.choice(["NFC", "NFD", "NFKC", "NFKD"]), s) if r.random() < 0.5 else s

    def cjk():
        return "".join(r.choice(CJK + [" ", "，", "。", "!", "a cat "]) for _ in range(r.randint(1, 6)))

    def emoji():
        return " ".join(r.choice(WORDS + EMOJI) for _ in range(r.randint(2, 10)))

    def entities():
        return " ".join(r.choice(WORDS + ENTITIES) for _ in range(r.randint(2, 10)))

    def bangs():
        return " ".join(r.choice(WORDS) + "!" * r.randint(0, 5) + r.choice(["", " !", "?!", "!?", "!.", "!'s"])
                        for _ in range(r.randint(1, 8)))

    def apostrophes():
        return " ".join(r.choice(APOS + WORDS) for _ in range(r.randint(2, 10)))

    def long_prompt():
        return " ".join(rand_words(r, r.randint(60, 200)))

    def whitespace():
        return "".join(r.choice(SPACES) + r.choice(WORDS + [""]) for _ in range(r.randint(1, 8))) + r.choice(SPACES)

    def mixed_case():
        return "".join(c.upper() if r.random() < 0.5 else c for c in plain()) + " " + r.choice(MIXED)

    def combining():
        s = []
        for _ in range(r.randint(1, 8)):
            s.append(r.choice(BASES))
            for _ in range(r.randint(0, 4)):
                s.append(chr(r.choice(COMBINING)))
        return "".join(s)

    def hangul():
        s = []
        for _ in range(r.randint(1, 6)):
            s.append(chr(0x1100 + r.randint(0, 20)))
            if r.random() < 0.8:
                s.append(chr(0x1161 + r.randint(0, 22)))
            if r.random() < 0.5:
                s.append(chr(0x11A7 + r.randint(0, 28)))
            if r.random() < 0.3:
                s.append(chr(0xAC00 + r.randint(0, 11171)))
        return "".join(s)

    def fuzz():
        return rand_unicode(r, r.randint(1, 40))

    def specials():
        bits = WORDS + ["<|endoftext|>", "<|startoftext|>", "<|ENDOFTEXT|>", "<|Startoftext|>", "!", "<|", "|>"]
        return r.choice(["", " "]).join(r.choice(bits) for _ in range(r.randint(1, 8)))

    gens = [(plain, 1500), (punct_runs, 500), (digits, 300), (accents, 400), (cjk, 300), (emoji, 300),
            (entities, 250), (bangs, 400), (apostrophes, 300), (long_prompt, 300), (whitespace, 250),
            (mixed_case, 300), (combining, 600), (hangul, 200), (fuzz, 800), (specials, 300)]
    for g, n in gens:
        for _ in range(n):
            P.append(g())
    # Long runs of combining marks (the C code sorts runs over 16 marks differently).
    for n in (15, 16, 17, 20, 33, 60):
        P.append("a" + "\u0301\u0316" * n + " x")
        P.append("e" + "".join(chr(r.choice(COMBINING)) for _ in range(n)) + "\u0338=" + "\u0338" * n)
    P += sweep()
    return P


def sweep():
    """Code point coverage: every 7th code point of U+0080..U+31FFF, plus every code point the
    tables treat specially (lowercase, decomposition, combining class), 8 per prompt, each
    after a letter so that letter/number/other/space classes all show in the split."""
    from tokenizers import normalizers
    low, nfd = normalizers.Lowercase(), normalizers.NFD()
    cps = set(range(0x80, 0x32000, 7))
    for c in range(0x80, 0x110000):
        if 0xD800 <= c < 0xE000:
            continue
        ch = chr(c)
        if low.normalize_str(ch) != ch or nfd.normalize_str(ch) != ch or unicodedata.combining(ch):
            cps.add(c)
    cps = sorted(c for c in cps if not 0xD800 <= c < 0xE000)
    out = []
    for i in range(0, len(cps), 8):
        out.append("".join("a" + chr(c) for c in cps[i:i + 8]))
    return out


def main():
    vocab, merges_txt = clip_vocab()
    with tempfile.TemporaryDirectory() as tmp:
        write_tokenizer_dir(os.path.join(tmp, "tokenizer"), vocab, merges_txt, "<|endoftext|>")
        write_tokenizer_dir(os.path.join(tmp, "tokenizer_2"), vocab, merges_txt, "!")
        t1 = CLIPTokenizer.from_pretrained(os.path.join(tmp, "tokenizer"))
        t2 = CLIPTokenizer.from_pretrained(os.path.join(tmp, "tokenizer_2"))
    print("reference classes:", type(t1).__module__, type(t1).__name__, type(t1).__mro__[1].__name__)
    print("normalizer:", json.loads(t1.backend_tokenizer.to_str())["normalizer"])
    assert t1.pad_token_id == 49407 and t2.pad_token_id == 0, (t1.pad_token_id, t2.pad_token_id)

    prompts = corpus()
    print("prompts:", len(prompts))
    assert len(prompts) >= 5000
    e1 = t1(prompts, padding="max_length", max_length=MAX_LEN, truncation=True)["input_ids"]
    e2 = t2(prompts, padding="max_length", max_length=MAX_LEN, truncation=True)["input_ids"]
    f1 = t1(prompts)["input_ids"]
    f2 = t2(prompts)["input_ids"]
    blob = bytearray(b"STKTOK01" + struct.pack("<II", len(prompts), MAX_LEN))
    n_trunc = n_bang = 0
    for p, a, b, fa, fb in zip(prompts, e1, e2, f1, f2):
        assert len(a) == MAX_LEN and len(b) == MAX_LEN
        raw = p.encode("utf-8")
        blob += struct.pack("<III", len(raw), len(fa), len(fb))
        blob += raw
        blob += struct.pack("<%dH" % MAX_LEN, *a)
        blob += struct.pack("<%dH" % MAX_LEN, *b)
        n_trunc += len(fa) > MAX_LEN
        n_bang += a[:MAX_LEN] != b[:MAX_LEN] and "!" in p
    os.makedirs(OUT, exist_ok=True)
    for name, data in (("vocab.json.gz", json.dumps(vocab, ensure_ascii=False).encode("utf-8")),
                       ("merges.txt.gz", merges_txt.encode("utf-8")), ("corpus.bin.gz", bytes(blob))):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(gzip.compress(data, compresslevel=9, mtime=0))
    print("truncated prompts:", n_trunc, " prompts where '!' changes tokenizer_2 ids:", n_bang)
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)))


if __name__ == "__main__":
    sys.exit(main())
