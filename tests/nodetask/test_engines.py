"""The Arrow and the Python engine against each other and against the tutorial's rule."""

from __future__ import annotations

import gzip
import hashlib
import random
import string
import sys
import threading
from collections import Counter
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pytest

import nodetask
import nodetask._arrow as arrow_module
import nodetask._count as count_module
import nodetask._report as report_module
from nodetask import InputError, UsageError, WordCounts, count_file, counts_file_bytes, read_counts_file
from nodetask._count import Engine
from tests.support.words import DATA, first_bad_byte, reference_counts, tutorial_counts

ENGINES: tuple[Engine, ...] = ("arrow", "python")
BOM = b"\xef\xbb\xbf"
#: Every code point ``str.split()`` splits on (surrogates cannot be encoded).
SPLIT_SPACES = [
    c
    for c in map(chr, range(sys.maxunicode + 1))
    if not 0xD800 <= ord(c) <= 0xDFFF and ("a" + c + "b").split() == ["a", "b"]
]
INVALID = [
    b"\xff",
    b"\x80",
    b"\xc3",  # a lead byte without its continuation
    b"\xe2\x82",  # a truncated three-byte sequence
    b"\xf0\x9f\x98",  # a truncated four-byte sequence
    b"\xc0\xaf",  # overlong
    b"\xe0\x80\xaf",  # overlong
    b"\xed\xa0\x80",  # a surrogate
    b"\xf4\x90\x80\x80",  # above U+10FFFF
    b"\xf8\x88\x80\x80\x80",  # five bytes
]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.param  # type: ignore[no-any-return]


def chunked(monkeypatch: pytest.MonkeyPatch, engine: str, size: int) -> None:
    """Make the engine read ``size`` bytes at a time."""
    monkeypatch.setattr(arrow_module if engine == "arrow" else count_module, "CHUNK_BYTES", size)


def write(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "input.txt"
    path.write_bytes(data)
    return str(path)


def tricky_text() -> str:
    """Every whitespace character, byte-order marks, punctuation and non-ASCII words."""
    words = ["naïve", "café,", "(東京)", "--", "...", "don't", "'quoted'", "Ölfeld.", "x", "😀!", "«a»"]
    parts = [f"{words[i % len(words)]}{space}" for i, space in enumerate(SPLIT_SPACES * 3)]
    return "\ufeffstart " + "".join(parts) + " \ufeffinner a\x1cb\x1dc\x1ed\x1fe!?! end"


class TestWhitespace:
    def test_arrow_splits_on_exactly_the_code_points_str_split_does(self):
        candidates = [c for c in map(chr, range(sys.maxunicode + 1)) if not 0xD800 <= ord(c) <= 0xDFFF]
        split = pc.utf8_split_whitespace(pa.array(["a" + c + "b" for c in candidates]))
        lengths = pc.list_value_length(split)
        arrow_spaces = [c for c, n in zip(candidates, lengths.to_pylist(), strict=True) if n == 2]
        assert len(SPLIT_SPACES) == 29
        assert arrow_spaces == SPLIT_SPACES
        assert list(arrow_module.WHITESPACE) == SPLIT_SPACES

    def test_ascii_split_covers_the_ascii_whitespace_but_the_separators(self):
        ascii_spaces = [c for c in SPLIT_SPACES if c.isascii()]
        split = pc.ascii_split_whitespace(pa.array(["a" + c + "b" for c in ascii_spaces]))
        lengths = pc.list_value_length(split).to_pylist()
        fast = [c.encode() for c, n in zip(ascii_spaces, lengths, strict=True) if n == 2]
        assert sorted(fast + list(arrow_module._SEPARATORS)) == sorted(c.encode() for c in ascii_spaces)


class TestSameAsTheTutorial:
    @pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 20])
    def test_tricky_text_at_every_chunk_size(self, tmp_path, monkeypatch, engine, chunk):
        chunked(monkeypatch, engine, chunk)
        data = tricky_text().encode()
        path = write(tmp_path, data)
        assert count_file(path, engine=engine).counts == reference_counts(data)
        assert count_file(path, engine=engine, ignore_case=True).counts == reference_counts(
            data, ignore_case=True
        )

    @pytest.mark.parametrize("sample", sorted(DATA.glob("*.txt")), ids=lambda p: p.name)
    def test_sample_texts(self, engine, sample):
        counts = count_file(str(sample), engine=engine).counts
        assert counts == tutorial_counts(sample.read_text(encoding="utf-8-sig"))

    @pytest.mark.parametrize(
        "data",
        [b"", b" \n\t", b"word", b"a b\n", b"!!! ... --", BOM, BOM + b"x", b"x " + BOM, b"a\xc2\xa0b"],
        ids=repr,
    )
    def test_small_shapes(self, tmp_path, engine, data):
        result = count_file(write(tmp_path, data), engine=engine)
        assert result.counts == reference_counts(data)
        assert result.bytes_read == len(data)
        assert result.sha256 == hashlib.sha256(data).hexdigest()

    def test_ignore_case_is_python_lower(self, tmp_path, engine):
        # Arrow's utf8_lower maps U+0130 to "i" and knows no final sigma: Python's must win.
        text = "İstanbul İ ΟΔΟΣ, ΟΔΟΣ.Α «ΣΑΣ» 'Σ ΣΣ. Straße STRASSE The the"
        path = write(tmp_path, text.encode())
        assert count_file(path, engine=engine, ignore_case=True).counts == tutorial_counts(
            text, ignore_case=True
        )

    @pytest.mark.parametrize("seed", range(8))
    def test_random_bytes_decoded_with_replacement(self, tmp_path, monkeypatch, engine, seed):
        rng = random.Random(seed)  # noqa: S311 (test data)
        alphabet = [*INVALID, *(c.encode() for c in SPLIT_SPACES), *(c.encode() for c in "ab.é,€😀'")]
        data = b"".join(rng.choice(alphabet) for _ in range(3000))
        chunked(monkeypatch, engine, rng.choice([5, 16, 100]))
        path = write(tmp_path, data)
        assert count_file(path, engine=engine, errors="replace").counts == reference_counts(
            data, errors="replace"
        )
        with pytest.raises(InputError, match=rf"not valid UTF-8 at byte offset {first_bad_byte(data)};"):
            count_file(path, engine=engine)


class TestBadInput:
    @pytest.mark.parametrize("bad", INVALID, ids=repr)
    @pytest.mark.parametrize("where", ["start", "word", "space", "end", "bom"])
    def test_invalid_sequences(self, tmp_path, monkeypatch, engine, bad, where):
        chunked(monkeypatch, engine, 4)
        data = {
            "start": bad + b"abc def",
            "word": b"abc d" + bad + b"ef ghi",
            "space": b"abc " + bad + b" def",
            "end": b"abc def" + bad,
            "bom": BOM + bad + b"abc def",
        }[where]
        path = write(tmp_path, data)
        expected = reference_counts(data, errors="replace")
        assert count_file(path, engine=engine, errors="replace").counts == expected
        offset = first_bad_byte(data)
        with pytest.raises(InputError, match=rf"input\.txt: not valid UTF-8 at byte offset {offset};"):
            count_file(path, engine=engine)

    @pytest.mark.parametrize("errors", ["strict", "replace"])
    def test_nul_byte_names_its_offset(self, tmp_path, monkeypatch, engine, errors):
        chunked(monkeypatch, engine, 64)
        data = b"word " * 100 + b"\x00" + b" more" * 10
        with pytest.raises(InputError, match=r"binary file \(NUL byte at offset 500\)"):
            count_file(write(tmp_path, data), engine=engine, errors=errors)

    def test_first_error_in_the_file_wins(self, tmp_path, monkeypatch, engine):
        chunked(monkeypatch, engine, 16)
        data = b"word " * 20 + b"\xff " + b"word " * 20 + b"\x00"
        # The Python engine's processes finish in any order: it reports the first to fail.
        workers = 2 if engine == "arrow" else 1
        with pytest.raises(InputError, match="byte offset 100;"):
            count_file(write(tmp_path, data), engine=engine, workers=workers)

    @pytest.mark.parametrize("word", ["x" * 101, "é" * 101, "x" * 1000])
    def test_overlong_word_is_refused(self, tmp_path, monkeypatch, engine, word):
        monkeypatch.setattr(count_module, "MAX_TOKEN_CHARS", 100)
        chunked(monkeypatch, engine, 32)
        path = write(tmp_path, f"short {word} tail".encode())
        with pytest.raises(InputError, match="single word longer than 100"):
            count_file(path, engine=engine)

    @pytest.mark.parametrize("text", ["€" * 100 + " x", "a\u3000" * 500, "ab\x1c" * 300])
    def test_long_runs_that_are_not_one_long_word(self, tmp_path, monkeypatch, engine, text):
        # Over 100 bytes but at most 100 characters, or split by non-ASCII whitespace.
        monkeypatch.setattr(count_module, "MAX_TOKEN_CHARS", 100)
        chunked(monkeypatch, engine, 32)
        data = text.encode()
        assert count_file(write(tmp_path, data), engine=engine).counts == reference_counts(data)

    @pytest.mark.parametrize(
        ("make", "message"),
        [(lambda p: p / "missing.txt", "no such file"), (lambda p: p, "is a directory")],
    )
    def test_unreadable_paths(self, tmp_path, engine, make, message):
        with pytest.raises(InputError, match=message):
            count_file(str(make(tmp_path)), engine=engine)


class TestWorkers:
    @pytest.mark.parametrize("workers", [1, 2, 3])
    def test_many_pieces_give_identical_counts_and_hash(self, tmp_path, monkeypatch, engine, workers):
        chunked(monkeypatch, engine, 4096)
        monkeypatch.setattr(arrow_module, "HANDOFF_ROWS", 100)  # many small batches to Acero
        monkeypatch.setattr(count_module, "VARIANTS_LIMIT", 50)
        text = "\ufeff" + "\n".join(f"Zeile {i}: naïve—word{i % 311}, the end." for i in range(20_000))
        data = text.encode()
        result = count_file(write(tmp_path, data), engine=engine, workers=workers)
        assert result.counts == reference_counts(data)
        assert result.sha256 == hashlib.sha256(data).hexdigest()
        assert result.bytes_read == len(data)

    def test_progress_reaches_the_end(self, tmp_path, monkeypatch, engine):
        chunked(monkeypatch, engine, 1000)
        data = b"some words here\n" * 1000
        seen: list[tuple[int, int]] = []
        count_file(write(tmp_path, data), engine=engine, workers=2, progress=lambda d, t: seen.append((d, t)))
        assert seen[-1] == (len(data), len(data))
        assert [done for done, _ in seen] == sorted(done for done, _ in seen)


class TestStopping:
    """An error or Ctrl-C mid-file stops the Arrow engine's threads, the aggregation's too."""

    @staticmethod
    def counting_threads() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith("nodetask-")]

    def test_interrupt_while_handing_over_stops_every_thread(self, tmp_path, monkeypatch):
        chunked(monkeypatch, "arrow", 4096)
        monkeypatch.setattr(arrow_module, "HANDOFF_ROWS", 50)
        seen: list[int] = []

        def interrupt(done: int, total: int) -> None:
            seen.append(done)
            if len(seen) == 3:
                raise KeyboardInterrupt

        data = b"alpha beta gamma delta\n" * 20_000
        with pytest.raises(KeyboardInterrupt):
            count_file(write(tmp_path, data), engine="arrow", workers=2, progress=interrupt)
        assert len(seen) == 3
        assert self.counting_threads() == []

    def test_bad_byte_late_in_the_file_stops_every_thread(self, tmp_path, monkeypatch):
        chunked(monkeypatch, "arrow", 4096)
        data = b"alpha beta gamma delta\n" * 20_000 + b"\x00"
        with pytest.raises(InputError, match="NUL byte"):
            count_file(write(tmp_path, data), engine="arrow", workers=2)
        assert self.counting_threads() == []
        # And the engine counts the next file as usual.
        assert count_file(write(tmp_path, b"a b a"), engine="arrow").counts == {"a": 2, "b": 1}


class TestChoosingTheEngine:
    def test_auto_takes_python_for_small_files_and_arrow_for_large(self):
        limit = count_module.AUTO_ARROW_MIN_BYTES
        assert count_module._pick_engine("auto", limit - 1) is None
        assert count_module._pick_engine("auto", limit) is arrow_module
        assert count_module._pick_engine("python", 10 * limit) is None
        assert count_module._pick_engine("arrow", 0) is arrow_module
        with pytest.raises(ValueError, match="engine must be one of"):
            count_module._pick_engine("fast", 0)  # type: ignore[arg-type]

    def test_auto_falls_back_to_python_without_pyarrow(self, tmp_path, monkeypatch):
        # A node where pyarrow has no wheel: importing it fails.
        monkeypatch.setitem(sys.modules, "pyarrow", None)
        monkeypatch.setitem(sys.modules, "pyarrow.compute", None)
        monkeypatch.delitem(sys.modules, "nodetask._arrow")
        monkeypatch.delattr(nodetask, "_arrow")  # what `from . import _arrow` finds first
        monkeypatch.setattr(count_module, "AUTO_ARROW_MIN_BYTES", 0)
        monkeypatch.setattr(report_module, "ARROW_MIN_WORDS", 0)
        assert count_module._pick_engine("auto", 1 << 30) is None
        data = tricky_text().encode()
        result = count_file(write(tmp_path, data))
        assert result.counts == reference_counts(data)
        assert read_counts_file(counts_file_bytes(result)) == dict(result.counts)
        with pytest.raises(UsageError, match="arrow engine needs pyarrow"):
            count_file(write(tmp_path, data), engine="arrow")


class TestCountsFile:
    @staticmethod
    def counts() -> Counter[str]:
        rng = random.Random(7)  # noqa: S311 (test data)
        words = ["", "a", "B", "é", "z", "😀", "\ufffd", "\uffff", "ab", "a'b", string.ascii_letters]
        return Counter({w + str(i) * (i % 3): rng.randint(1, 4) for i, w in enumerate(words * 40)})

    def test_arrow_and_python_write_the_same_bytes(self, monkeypatch):
        counts = WordCounts(self.counts(), 0, "")
        monkeypatch.setattr(report_module, "ARROW_MIN_WORDS", 0)
        by_arrow = counts_file_bytes(counts)
        monkeypatch.setattr(report_module, "ARROW_MIN_WORDS", 1 << 60)
        by_python = counts_file_bytes(counts)
        assert by_arrow == by_python

    def test_layout_is_the_ranked_tsv(self, monkeypatch):
        monkeypatch.setattr(report_module, "ARROW_MIN_WORDS", 0)
        counts = self.counts()
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        expected = "word\tcount\n" + "".join(f"{word}\t{count}\n" for word, count in ranked)
        data = counts_file_bytes(WordCounts(counts, 0, ""))
        assert gzip.decompress(data) == expected.encode()
        assert data[4:8] == b"\0\0\0\0"  # mtime 0: reproducible
        assert read_counts_file(data) == dict(counts)
        assert gzip.decompress(counts_file_bytes(WordCounts(Counter(), 0, ""))) == b"word\tcount\n"

    def test_ties_rank_the_same_with_both_engines(self, tmp_path, monkeypatch):
        monkeypatch.setattr(report_module, "ARROW_MIN_WORDS", 0)
        data = "pear apple Zebra fig fig kiwi pear apple Zebra éclair éclair Ä Ä".encode()
        path = write(tmp_path, data)
        results = [count_file(path, engine=engine) for engine in ENGINES]
        assert results[0].counts == results[1].counts
        assert counts_file_bytes(results[0]) == counts_file_bytes(results[1])
        assert count_module.top_words(results[0].counts, 10) == [
            ("Zebra", 2),
            ("apple", 2),
            ("fig", 2),
            ("pear", 2),
            ("Ä", 2),
            ("éclair", 2),
            ("kiwi", 1),
        ]

    def test_arrow_top_words_cut_through_ties_as_python_does(self, tmp_path):
        # The Arrow engine keeps its counts in Arrow (no dict per word) and selects the top there.
        rng = random.Random(11)  # noqa: S311 (test data)
        words = [f"w{rng.randint(0, 300)}" for _ in range(5000)] + ["é", "Z", "a", "Ä"] * 17
        path = write(tmp_path, " ".join(words).encode())
        arrow, python = (count_file(path, engine=engine) for engine in ("arrow", "python"))
        assert not isinstance(arrow.counts, dict)
        for numwords in (1, 2, 3, 10, 57, 1000):
            assert count_module.top_words(arrow.counts, numwords) == count_module.top_words(
                python.counts, numwords
            )
        assert (arrow.total_words, arrow.distinct_words) == (python.total_words, python.distinct_words)
        assert arrow.counts["w7"] == python.counts["w7"]
