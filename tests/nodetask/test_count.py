from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import nodetask._count as count_module
from nodetask import InputError, count_file, top_words
from tests.support.words import tutorial_counts

DATA = Path(__file__).resolve().parents[2] / "data"


def write(tmp_path: Path, content: str | bytes, name: str = "input.txt") -> str:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return str(path)


class TestTutorialRule:
    def test_known_text(self, tmp_path):
        path = write(tmp_path, 'Hello, hello! "world"... (world) -- the_end\n')
        counts = count_file(path).counts
        assert counts == Counter({"Hello": 1, "hello": 1, "world": 2, "the_end": 1})

    def test_punctuation_only_tokens_are_dropped(self, tmp_path):
        path = write(tmp_path, "a -- b ... c !!! ?")
        result = count_file(path)
        assert result.counts == Counter({"a": 1, "b": 1, "c": 1})
        assert result.total_words == 3

    def test_inner_punctuation_is_kept(self, tmp_path):
        path = write(tmp_path, "rabbit-hole rabbit-hole. don't 'don't'")
        assert count_file(path).counts == Counter({"rabbit-hole": 2, "don't": 2})

    @pytest.mark.parametrize("sample", sorted(DATA.glob("*.txt")), ids=lambda p: p.name)
    def test_sample_texts_match_the_tutorial(self, sample):
        expected = tutorial_counts(sample.read_text(encoding="utf-8-sig"))
        result = count_file(str(sample))
        assert result.counts == expected
        assert result.bytes_read == sample.stat().st_size

    @pytest.mark.parametrize("chunk", [1, 3, 1024])
    def test_ignore_case_final_sigma_across_chunks(self, tmp_path, monkeypatch, chunk):
        # Lower-casing Σ depends on its neighbours: a cut word must not change it.
        monkeypatch.setattr(count_module, "CHUNK_BYTES", chunk)
        text = "ΟΔΟΣ, ΟΔΟΣ.Α «ΣΑΣ» 'Σ ΟΔΟΣ"
        path = write(tmp_path, text)
        assert count_file(path, ignore_case=True).counts == tutorial_counts(text, ignore_case=True)

    def test_ignore_case_lowercases_after_stripping(self, tmp_path):
        path = write(tmp_path, "The the THE, Straße STRASSE")
        counts = count_file(path, ignore_case=True).counts
        assert counts == Counter({"the": 3, "straße": 1, "strasse": 1})


class TestEncoding:
    def test_leading_byte_order_mark_is_removed(self, tmp_path):
        path = write(tmp_path, b"\xef\xbb\xbfFour score four")
        counts = count_file(path).counts
        assert counts == Counter({"Four": 1, "score": 1, "four": 1})

    def test_unicode_words_and_whitespace(self, tmp_path):
        # NBSP and the ideographic space split words, as str.split() does.
        text = "naïve café\u00a0café 東京\u3000東京 — «Ölfeld»"
        path = write(tmp_path, text)
        counts = count_file(path).counts
        assert counts == tutorial_counts(text)
        assert counts["café"] == 2
        assert counts["東京"] == 2
        assert counts["«Ölfeld»"] == 1  # guillemets are not ASCII punctuation
        assert counts["—"] == 1

    def test_undecodable_bytes_are_an_error_naming_the_offset(self, tmp_path):
        path = write(tmp_path, b"good words \xff\xfe here")
        with pytest.raises(
            InputError, match=r"input\.txt: not valid UTF-8 at byte offset 11.*--errors replace"
        ):
            count_file(path)

    def test_error_offset_counts_the_byte_order_mark(self, tmp_path):
        path = write(tmp_path, b"\xef\xbb\xbfab \xff")
        with pytest.raises(InputError, match="byte offset 6"):
            count_file(path)

    def test_byte_order_mark_later_in_the_file_is_kept(self, tmp_path):
        path = write(tmp_path, "a \ufeffb")
        assert count_file(path).counts == Counter({"a": 1, "\ufeffb": 1})

    def test_errors_replace_counts_replacement_characters(self, tmp_path):
        path = write(tmp_path, b"good \xff words")
        assert count_file(path, errors="replace").counts == Counter({"good": 1, "\ufffd": 1, "words": 1})

    def test_binary_file_is_refused(self, tmp_path):
        path = write(tmp_path, bytes(range(256)) * 4)
        with pytest.raises(InputError, match="binary file"):
            count_file(path, errors="replace")


class TestShapes:
    def test_empty_file(self, tmp_path):
        result = count_file(write(tmp_path, b""))
        assert result.counts == Counter()
        assert result.bytes_read == 0
        assert result.sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    def test_whitespace_only_file(self, tmp_path):
        result = count_file(write(tmp_path, " \n\t\r\n   \u00a0\n"))
        assert result.counts == Counter()
        assert result.total_words == 0

    def test_one_enormous_line_across_many_chunks(self, tmp_path):
        words = [f"w{i % 997}," for i in range(1_500_000)]
        text = " ".join(words)  # about 9 MB, no newline at all
        path = write(tmp_path, text)
        assert len(text) > 4 * count_module.CHUNK_BYTES
        assert count_file(path).counts == tutorial_counts(text)

    @pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
    def test_chunk_boundaries_never_change_counts(self, monkeypatch, chunk):
        # Tiny chunks cut words and multi-byte characters at every position.
        monkeypatch.setattr(count_module, "CHUNK_BYTES", chunk)
        for sample in sorted(DATA.glob("*.txt")):
            expected = tutorial_counts(sample.read_text(encoding="utf-8-sig"))
            assert count_file(str(sample)).counts == expected, sample.name

    @pytest.mark.parametrize("workers", [1, 2])
    def test_folding_raw_tokens_never_changes_counts(self, monkeypatch, tmp_path, workers):
        # Fold the raw tokens into words after (almost) every chunk.
        monkeypatch.setattr(count_module, "VARIANTS_LIMIT", 3)
        monkeypatch.setattr(count_module, "CHUNK_BYTES", 256)
        text = "".join((DATA / name).read_text(encoding="utf-8-sig") for name in sorted(DATA.iterdir()))
        path = write(tmp_path, text * 3)
        assert count_file(path, workers=workers).counts == tutorial_counts(text * 3)
        lowered = count_file(path, workers=workers, ignore_case=True).counts
        assert lowered == tutorial_counts(text * 3, ignore_case=True)

    def test_error_offset_is_exact_across_chunks(self, tmp_path, monkeypatch):
        monkeypatch.setattr(count_module, "CHUNK_BYTES", 5)
        path = write(tmp_path, "ää ää ää".encode() + b"\xc3(")
        with pytest.raises(InputError, match="byte offset 14"):
            count_file(path)

    def test_overlong_token_is_refused(self, tmp_path, monkeypatch):
        monkeypatch.setattr(count_module, "MAX_TOKEN_CHARS", 100)
        monkeypatch.setattr(count_module, "CHUNK_BYTES", 64)
        path = write(tmp_path, "short " + "x" * 1000)
        with pytest.raises(InputError, match="single word longer than 100"):
            count_file(path)


class TestWorkers:
    @pytest.mark.parametrize("workers", [2, 3, 5])
    def test_workers_give_identical_counts_and_hash(self, tmp_path, workers, monkeypatch):
        monkeypatch.setattr(count_module, "CHUNK_BYTES", 4096)
        text = "\ufeff" + "\n".join(f"Zeile {i}: naïve—word{i % 31}, the end." for i in range(20_000))
        path = write(tmp_path, text)
        single = count_file(path)
        parallel = count_file(path, workers=workers)
        assert parallel.counts == single.counts == tutorial_counts(text.lstrip("\ufeff"))
        assert parallel.sha256 == single.sha256
        assert parallel.bytes_read == single.bytes_read

    def test_split_points_fall_after_whitespace(self, tmp_path):
        path = write(tmp_path, "alpha beta\tgamma\ndelta " * 1000)
        size = Path(path).stat().st_size
        points = count_module.split_points(path, size, 4)
        data = Path(path).read_bytes()
        assert points[0] == 0
        assert points[-1] == size
        assert points == sorted(set(points))
        for point in points[1:-1]:
            assert data[point - 1 : point] in (b" ", b"\t", b"\n")

    def test_decode_error_in_a_worker_names_the_absolute_offset(self, tmp_path, monkeypatch):
        monkeypatch.setattr(count_module, "CHUNK_BYTES", 1024)
        data = b"word " * 2000 + b"\xff" + b" word" * 10
        path = write(tmp_path, data)
        with pytest.raises(InputError, match="byte offset 10000"):
            count_file(path, workers=2)


class TestTopWords:
    def test_ties_are_broken_by_the_word(self):
        counts = Counter({"pear": 2, "apple": 2, "Zebra": 2, "fig": 5, "kiwi": 1})
        assert top_words(counts, 4) == [("fig", 5), ("Zebra", 2), ("apple", 2), ("pear", 2)]

    def test_more_than_the_vocabulary_returns_everything(self):
        counts = Counter({"b": 1, "a": 1})
        assert top_words(counts, 50) == [("a", 1), ("b", 1)]

    def test_same_order_whatever_the_insertion_order(self):
        items = [(f"w{i}", i % 3) for i in range(30)]
        forward = Counter(dict(items))
        backward = Counter(dict(reversed(items)))
        assert top_words(forward, 10) == top_words(backward, 10)
