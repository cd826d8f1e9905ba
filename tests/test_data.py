"""Tests for optlib.data: the IDX parser, file lookup, verified downloads, minibatches.

Parser error paths use small IDX files built here with ``struct``; the full
loads use the real files of the shared data folder; downloads go through a
real HTTP server on 127.0.0.1 (tests/_http_server.py), never the internet.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from _http_server import dead_url, serve
from optlib import data
from optlib.data import (
    ChecksumError,
    DownloadError,
    clear_cache,
    load_fashion_mnist,
    load_idx_pair,
    load_mnist,
    minibatches,
    parse_idx,
    read_idx,
)

FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

# Class counts of MNIST as published with the data set (LeCun et al.), and
# Fashion-MNIST's exact balance of 6,000 / 1,000 examples per class.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# ---------------------------------------------------------------- helpers


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file written by hand: magic, big-endian uint32 sizes, big-endian data."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int16): 0x0B, np.dtype(np.float64): 0x0E}
    if magic is None:
        magic = (codes[array.dtype] << 8) | array.ndim
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_gz(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(content))
    return path


def expected_sums(shared: Path, name: str) -> dict[str, str]:
    """The published SHA-256 of the decompressed files, read from the shared folder."""
    lines = (shared / name / "SHA256SUMS.uncompressed").read_text().split("\n")
    return {f + ".gz": h for h, f in (line.split() for line in lines if line.strip())}


def raw_idx(path: Path, header: int) -> np.ndarray:
    """Decompress and skip the header, independently of optlib's parser."""
    return np.frombuffer(gzip.open(path).read(), dtype=np.uint8, offset=header)


def leftovers(folder: Path) -> list[str]:
    """Temporary download files left in a folder (there must never be any)."""
    return sorted(p.name for p in folder.glob(".*")) if folder.exists() else []


@pytest.fixture
def empty_env(monkeypatch, tmp_path):
    """No OPTLIB_DATA, an empty cache under tmp_path; the memo is cleared afterwards."""
    monkeypatch.delenv("OPTLIB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    yield tmp_path / "xdg" / "optlib"
    clear_cache()  # downloaded copies are keyed by path: free their memory


@pytest.fixture
def shared_env(monkeypatch, tmp_path, shared_data_dir):
    """OPTLIB_DATA points at the shared data; the cache is empty and must stay unused."""
    monkeypatch.setenv("OPTLIB_DATA", str(shared_data_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return shared_data_dir


@pytest.fixture
def served_copy(tmp_path, shared_data_dir):
    """A folder to serve: a copy of the shared data that a test may corrupt."""
    root = tmp_path / "www"
    for name in ("mnist", "fashion-mnist"):
        (root / name).mkdir(parents=True)
        for f in FILES:
            shutil.copyfile(shared_data_dir / name / f, root / name / f)
    return root


# ---------------------------------------------------------------- IDX parser


def test_parse_idx_reads_uint8_and_big_endian_types():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    parsed = parse_idx(idx_bytes(images))
    assert parsed.dtype == np.uint8 and parsed.shape == (2, 3, 4)
    np.testing.assert_array_equal(parsed, images)

    shorts = np.array([[-2, 300], [7, -32768]], dtype=np.int16)
    parsed = parse_idx(idx_bytes(shorts))
    assert parsed.dtype == np.int16 and parsed.dtype.isnative
    np.testing.assert_array_equal(parsed, shorts)

    doubles = np.array([0.5, -1e300, 3.25])
    np.testing.assert_array_equal(parse_idx(idx_bytes(doubles)), doubles)


@pytest.mark.parametrize("magic", [0x12345678, 0x00000800, 0x00000A01, 0x01000801])
def test_parse_idx_rejects_a_bad_magic_number(magic):
    content = idx_bytes(np.zeros(3, np.uint8), magic=magic)
    with pytest.raises(ValueError, match=rf"labels\.idx: bad magic number 0x{magic:08X}"):
        parse_idx(content, "labels.idx")


def test_parse_idx_rejects_a_gzip_file_that_was_not_decompressed():
    compressed = gzip.compress(idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(ValueError, match=r"f\.gz: bad magic number 0x1F8B.*gzip"):
        parse_idx(compressed, "f.gz")


def test_parse_idx_rejects_the_wrong_kind_of_file():
    labels = idx_bytes(np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match=r"x\.idx: magic number is 0x00000801 .*expected 0x00000803"):
        parse_idx(labels, "x.idx", magic=0x00000803)


@pytest.mark.parametrize(
    "cut, what",
    [
        (2, r"2 bytes, but the magic number alone needs 4"),
        (10, r"10 bytes, but the header of a 3-dimensional IDX file alone needs 16"),
        (16 + 23, r"header promises shape \(2, 3, 4\) \(24 bytes of data\) but only 23"),
        (16, r"header promises shape \(2, 3, 4\) \(24 bytes of data\) but only 0 bytes follow"),
    ],
)
def test_parse_idx_rejects_a_truncated_file(cut, what):
    content = idx_bytes(np.ones((2, 3, 4), np.uint8))[:cut]
    with pytest.raises(ValueError, match=r"img\.idx: truncated IDX file: (the )?" + what):
        parse_idx(content, "img.idx")


def test_parse_idx_rejects_data_longer_than_the_header_says():
    content = idx_bytes(np.ones((2, 3, 4), np.uint8)) + b"\x00\x00\x00"
    with pytest.raises(ValueError, match=r"img\.idx: size disagrees with the header: .*24 bytes.*27 follow.*3 extra"):
        parse_idx(content, "img.idx")


def test_read_idx_reads_compressed_and_plain_files(tmp_path):
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    gz = write_gz(tmp_path / "l.gz", idx_bytes(labels))
    plain = tmp_path / "l"
    plain.write_bytes(idx_bytes(labels))
    np.testing.assert_array_equal(read_idx(gz), labels)
    np.testing.assert_array_equal(read_idx(plain, magic=0x00000801), labels)


def test_read_idx_checksum_mismatch_names_the_file_and_both_hashes_and_keeps_it(tmp_path):
    content = idx_bytes(np.array([1, 2, 3], np.uint8))
    path = write_gz(tmp_path / "labels.gz", content)
    before = path.read_bytes()
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as info:
        read_idx(path, sha256=wrong)
    message = str(info.value)
    assert str(path) in message
    assert wrong in message and hashlib.sha256(content).hexdigest() in message
    assert "Nothing was deleted" in message
    assert isinstance(info.value, ValueError)
    assert path.read_bytes() == before
    # and the right hash is accepted
    read_idx(path, sha256=hashlib.sha256(content).hexdigest().upper())


def test_read_idx_corrupt_gzip_is_a_checksum_error_naming_the_file(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(1000, np.uint8)))[:-12])
    with pytest.raises(ChecksumError, match=r"broken\.gz: cannot be decompressed as gzip"):
        read_idx(path)
    assert path.exists()


def test_load_idx_pair_converts_to_float32_in_unit_interval(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(6, 2, 3), dtype=np.uint8)
    pixels[0, 0, 0], pixels[0, 0, 1] = 0, 255
    labels = np.array([0, 9, 3, 3, 1, 2], np.uint8)
    images_path = write_gz(tmp_path / "i.gz", idx_bytes(pixels))
    labels_path = write_gz(tmp_path / "l.gz", idx_bytes(labels))

    X, y = load_idx_pair(images_path, labels_path)
    assert X.dtype == np.float32 and X.shape == (6, 6)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_allclose(X, pixels.reshape(6, 6) / 255.0, rtol=1e-7, atol=0)
    assert X.min() == 0.0 and X.max() == 1.0
    X3, _ = load_idx_pair(images_path, labels_path, flatten=False)
    assert X3.shape == (6, 2, 3)


def test_load_idx_pair_rejects_label_count_that_disagrees_with_images(tmp_path):
    images_path = write_gz(tmp_path / "imgs.gz", idx_bytes(np.zeros((4, 2, 2), np.uint8)))
    labels_path = write_gz(tmp_path / "lbls.gz", idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(ValueError, match=r"lbls\.gz holds 3 labels but .*imgs\.gz holds 4 images"):
        load_idx_pair(images_path, labels_path)


def test_load_idx_pair_rejects_swapped_files(tmp_path):
    images_path = write_gz(tmp_path / "imgs.gz", idx_bytes(np.zeros((4, 2, 2), np.uint8)))
    labels_path = write_gz(tmp_path / "lbls.gz", idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(ValueError, match=r"lbls\.gz: magic number is 0x00000801.*expected 0x00000803"):
        load_idx_pair(labels_path, images_path)


# ---------------------------------------------------------------- full loads from the shared data


def test_embedded_checksums_match_the_published_ones(shared_data_dir):
    for dataset in (data._MNIST, data._FASHION_MNIST):
        published = expected_sums(shared_data_dir, dataset.name)
        assert {f.name: f.sha256 for f in dataset.files} == published
        for f in dataset.files:  # the sizes the README of each data set gives
            assert f.size == {"train-images": 47_040_016, "train-labels": 60_008,
                              "t10k-images": 7_840_016, "t10k-labels": 10_008}[f.name.split("-idx")[0]]


def test_load_mnist_shapes_dtypes_ranges_and_labels(shared_env):
    (X_train, y_train), (X_test, y_test) = load_mnist(download=False)
    assert X_train.shape == (60_000, 784) and X_test.shape == (10_000, 784)
    assert X_train.dtype == X_test.dtype == np.float32
    assert y_train.shape == (60_000,) and y_test.shape == (10_000,)
    assert y_train.dtype == y_test.dtype == np.int64
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    assert X_test.min() == 0.0 and X_test.max() == 1.0
    assert y_train[0] == 5 and y_test[0] == 7
    assert np.bincount(y_train).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(y_test).tolist() == MNIST_TEST_COUNTS
    # pixels are byte / 255, byte for byte, against a decompression done here
    raw = raw_idx(shared_env / "mnist" / "t10k-images-idx3-ubyte.gz", header=16).reshape(10_000, 784)
    # p/255 in float64, rounded to float32 (a table of the 256 possible values)
    assert np.array_equal(X_test, (np.arange(256) / 255.0).astype(np.float32)[raw])
    raw_labels = raw_idx(shared_env / "mnist" / "train-labels-idx1-ubyte.gz", header=8)
    np.testing.assert_array_equal(y_train, raw_labels)
    assert not (shared_env.parent / "xdg").exists() or not any((shared_env.parent / "xdg").iterdir())


def test_load_mnist_unflattened_and_read_only_and_memoized(shared_env):
    (X_train, y_train), (X_test, _) = load_mnist(download=False)
    (X3_train, y3_train), (X3_test, _) = load_mnist(flatten=False, download=False)
    assert X3_train.shape == (60_000, 28, 28) and X3_test.shape == (10_000, 28, 28)
    np.testing.assert_array_equal(X3_train[[0, 1, -1]].reshape(3, 784), X_train[[0, 1, -1]])
    # shared between calls (memoized), hence read-only
    assert np.shares_memory(X3_train, X_train) and np.shares_memory(y3_train, y_train)
    for array in (X_train, y_train, X3_test):
        assert not array.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        X_train[0, 0] = 1.0
    private = X_train[:10].copy()
    private[0, 0] = 1.0  # a copy is the user's to change
    clear_cache()
    (X_again, _), _ = load_mnist(download=False)
    assert not np.shares_memory(X_again, X_train)
    assert np.array_equal(X_again, X_train)


def test_load_fashion_mnist_shapes_dtypes_and_balanced_labels(shared_env):
    (X_train, y_train), (X_test, y_test) = load_fashion_mnist(download=False)
    assert X_train.shape == (60_000, 784) and X_test.shape == (10_000, 784)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0.0 <= X_train.min() and X_train.max() <= 1.0 and X_train.max() == 1.0
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert data.FASHION_MNIST_CLASSES[y_train[0]] == "Ankle boot"
    raw = raw_idx(shared_env / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz", header=8)
    np.testing.assert_array_equal(y_test, raw)
    (X3, _), _ = load_fashion_mnist(flatten=False, download=False)
    assert X3.shape == (60_000, 28, 28)


def test_data_dir_accepts_uncompressed_copies(empty_env, tmp_path, shared_data_dir):
    folder = tmp_path / "mine" / "mnist"
    folder.mkdir(parents=True)
    for f in FILES[:3]:
        os.symlink(shared_data_dir / "mnist" / f, folder / f)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(
        gzip.open(shared_data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz").read())
    _, (_, y_test) = load_mnist(data_dir=tmp_path / "mine", mirrors=[dead_url()])
    assert y_test[0] == 7 and np.bincount(y_test).tolist() == MNIST_TEST_COUNTS
    assert not empty_env.exists()  # the cache was not touched


@pytest.mark.parametrize("where", ["OPTLIB_DATA", "data_dir"])
def test_corrupt_user_file_is_reported_and_never_deleted(where, empty_env, tmp_path, shared_data_dir, monkeypatch):
    root = tmp_path / "mine"
    (root / "mnist").mkdir(parents=True)
    for f in FILES:
        shutil.copyfile(shared_data_dir / "mnist" / f, root / "mnist" / f)
    labels = bytearray(gzip.open(root / "mnist" / "train-labels-idx1-ubyte.gz").read())
    labels[8] = (labels[8] + 1) % 10  # relabel the first example
    bad = write_gz(root / "mnist" / "train-labels-idx1-ubyte.gz", bytes(labels))
    before = bad.read_bytes()
    kwargs = {}
    if where == "OPTLIB_DATA":
        monkeypatch.setenv("OPTLIB_DATA", str(root))
    else:
        kwargs["data_dir"] = root
    with pytest.raises(ChecksumError) as info:
        load_mnist(mirrors=[dead_url()], **kwargs)
    message = str(info.value)
    assert str(bad) in message
    assert expected_sums(shared_data_dir, "mnist")["train-labels-idx1-ubyte.gz"] in message
    assert hashlib.sha256(bytes(labels)).hexdigest() in message
    assert "Nothing was deleted" in message and "good copy" in message
    assert bad.read_bytes() == before
    assert not empty_env.exists()  # no silent fallback to a download


def test_missing_files_with_download_false_say_where_to_put_them(empty_env):
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(download=False)
    message = str(info.value)
    assert str(empty_env / "mnist") in message and "OPTLIB_DATA" in message
    assert "download=False" in message
    assert not empty_env.exists()


def test_cache_dir_respects_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.cache_dir() == tmp_path / "xdg" / "optlib"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as XDG says
    assert data.cache_dir() == tmp_path / "home" / ".cache" / "optlib"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data.cache_dir() == tmp_path / "home" / ".cache" / "optlib"


# ---------------------------------------------------------------- downloads over a local HTTP server


def test_download_into_empty_cache_then_load_offline(empty_env, shared_data_dir, capsys):
    with serve(shared_data_dir) as server:
        (X_train, y_train), (X_test, y_test) = load_mnist(mirrors=[server.url + "mnist"])
    assert sorted(server.requests) == sorted(f"/mnist/{f}" for f in FILES)
    assert "downloading " + server.url + "mnist/" in capsys.readouterr().err
    for f in FILES:  # the cached files are the served ones, byte for byte
        assert (empty_env / "mnist" / f).read_bytes() == (shared_data_dir / "mnist" / f).read_bytes()
    assert leftovers(empty_env / "mnist") == []
    assert X_train.shape == (60_000, 784) and y_train[0] == 5 and y_test[0] == 7
    assert np.bincount(y_test).tolist() == MNIST_TEST_COUNTS
    # the server is gone: a second load, even after forgetting the memo, uses the cache
    clear_cache()
    _, (X_again, _) = load_mnist(mirrors=[dead_url()], download=False)
    np.testing.assert_array_equal(X_again, X_test)


def test_download_fashion_mnist(empty_env, shared_data_dir):
    with serve(shared_data_dir) as server:
        (_, y_train), (X_test, _) = load_fashion_mnist(mirrors=[server.url + "fashion-mnist/"])
    assert X_test.shape == (10_000, 784) and np.bincount(y_train).tolist() == [6000] * 10
    assert sorted(p.name for p in (empty_env / "fashion-mnist").iterdir()) == sorted(FILES)


def test_download_into_data_dir(empty_env, tmp_path, shared_data_dir):
    with serve(shared_data_dir) as server:
        (_, y_train), _ = load_mnist(data_dir=tmp_path / "mine", mirrors=[server.url + "mnist/"])
    assert y_train[0] == 5
    assert sorted(p.name for p in (tmp_path / "mine" / "mnist").iterdir()) == sorted(FILES)
    assert not empty_env.exists()


def test_corrupt_download_raises_and_leaves_the_cache_clean(empty_env, served_copy, shared_data_dir):
    labels = bytearray(gzip.open(served_copy / "mnist" / "t10k-labels-idx1-ubyte.gz").read())
    labels[-1] ^= 1
    write_gz(served_copy / "mnist" / "t10k-labels-idx1-ubyte.gz", bytes(labels))
    with serve(served_copy) as server:
        with pytest.raises(ChecksumError) as info:
            load_mnist(mirrors=[server.url + "mnist/"])
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte.gz" in message
    assert expected_sums(shared_data_dir, "mnist")["t10k-labels-idx1-ubyte.gz"] in message
    assert hashlib.sha256(bytes(labels)).hexdigest() in message
    assert server.url + "mnist/t10k-labels-idx1-ubyte.gz" in message
    assert str(empty_env / "mnist") in message  # where to put the files by hand
    assert not (empty_env / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    assert leftovers(empty_env / "mnist") == []


def test_truncated_download_is_rejected(empty_env, served_copy):
    path = served_copy / "mnist" / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:1000])
    with serve(served_copy) as server:
        with pytest.raises(ChecksumError, match=r"train-labels-idx1-ubyte\.gz: cannot be decompressed"):
            load_mnist(mirrors=[server.url + "mnist/"])
    assert not (empty_env / "mnist" / "train-labels-idx1-ubyte.gz").exists()
    assert leftovers(empty_env / "mnist") == []


def test_failed_write_raises_download_error_and_leaves_nothing(empty_env, shared_data_dir, monkeypatch):
    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(data.os, "fsync", disk_full)
    with serve(shared_data_dir) as server:
        with pytest.raises(DownloadError, match=r"could not write it to .*train-labels-idx1-ubyte\.gz.*No space"):
            load_mnist(mirrors=[server.url + "mnist/"])
    assert list((empty_env / "mnist").iterdir()) == []


def test_corrupt_file_in_the_cache_is_kept_and_the_advice_is_to_delete_it(empty_env, shared_data_dir):
    folder = empty_env / "mnist"
    folder.mkdir(parents=True)
    for f in FILES:
        shutil.copyfile(shared_data_dir / "mnist" / f, folder / f)
    bad = folder / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + bytes(12)))
    before = bad.read_bytes()
    with pytest.raises(ChecksumError, match=rf"Nothing was deleted\. Delete {bad} and load again"):
        load_mnist(mirrors=[dead_url()])
    assert bad.read_bytes() == before


def test_dead_mirror_then_good_mirror(empty_env, shared_data_dir, capsys):
    dead = dead_url()
    with serve(shared_data_dir) as server:
        _, (_, y_test) = load_mnist(mirrors=[dead + "mnist/", server.url + "mnist/"], timeout=5)
    assert y_test[0] == 7
    err = capsys.readouterr().err
    assert dead + "mnist/" in err and server.url + "mnist/" in err


def test_corrupt_mirror_then_good_mirror(empty_env, served_copy, shared_data_dir):
    (served_copy / "mnist" / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with serve(served_copy) as bad, serve(shared_data_dir) as good:
        (_, y_train), _ = load_mnist(mirrors=[bad.url + "mnist/", good.url + "mnist/"])
    assert y_train[0] == 5
    assert "/mnist/train-labels-idx1-ubyte.gz" in good.requests


def test_no_network_lists_every_mirror_and_where_to_put_files(empty_env, tmp_path):
    dead = dead_url() + "mnist/"
    (tmp_path / "empty").mkdir()
    with serve(tmp_path / "empty") as server:  # answers 404 for everything
        with pytest.raises(DownloadError) as info:
            load_mnist(mirrors=[dead, server.url], timeout=5)
    error = info.value
    assert isinstance(error, OSError)
    message = str(error)
    assert dead + "train-labels-idx1-ubyte.gz: " in message
    assert "refused" in message.lower()
    assert server.url + "train-labels-idx1-ubyte.gz: HTTPError: HTTP Error 404" in message
    assert [url for url, _ in error.failures] == [dead + "train-labels-idx1-ubyte.gz",
                                                  server.url + "train-labels-idx1-ubyte.gz"]
    assert str(empty_env / "mnist") in message and "OPTLIB_DATA" in message
    for f in FILES:
        assert f in message
    assert not (empty_env / "mnist").exists() or not any((empty_env / "mnist").iterdir())


def test_bad_mirror_and_timeout_arguments(empty_env):
    with pytest.raises(ValueError, match=r"mirrors: 'ftp://example\.org/' is not an http"):
        load_mnist(mirrors=["ftp://example.org/"])
    with pytest.raises(TypeError, match="mirrors must be a list"):
        load_mnist(mirrors="https://example.org/")
    with pytest.raises(ValueError, match="timeout must be a positive"):
        load_mnist(mirrors=["https://example.org/"], timeout=0)


# ---------------------------------------------------------------- minibatches


def example_arrays(n: int) -> tuple[np.ndarray, np.ndarray]:
    """X row i is (3i, 3i+1, 3i+2) and y_i = i, so a pairing error is visible."""
    return np.arange(3 * n).reshape(n, 3), np.arange(n)


def test_an_epoch_covers_every_example_exactly_once():
    X, y = example_arrays(103)
    batches = list(minibatches(X, y, 10, rng=0))
    assert [len(yb) for _, yb in batches] == [10] * 10 + [3]
    seen = np.concatenate([yb for _, yb in batches])
    np.testing.assert_array_equal(np.sort(seen), np.arange(103))
    assert not np.array_equal(seen, np.arange(103))  # it did shuffle
    for Xb, yb in batches:
        np.testing.assert_array_equal(Xb[:, 0], 3 * yb)


def test_drop_last_drops_only_the_short_batch():
    X, y = example_arrays(103)
    batches = list(minibatches(X, y, 10, rng=1, drop_last=True))
    assert [len(yb) for _, yb in batches] == [10] * 10
    seen = np.concatenate([yb for _, yb in batches])
    assert len(np.unique(seen)) == 100
    assert [len(b[1]) for b in minibatches(X[:100], y[:100], 10, 1, drop_last=True)] == [10] * 10
    assert list(minibatches(X, y, 200, 1, drop_last=True)) == []
    (only,) = minibatches(X, y, 200, 1)
    assert len(only[1]) == 103


def test_order_is_numpys_permutation_and_deterministic():
    X, y = example_arrays(50)
    expected = np.random.default_rng(42).permutation(50)
    for rng in (42, np.random.default_rng(42), np.int64(42)):
        seen = np.concatenate([yb for _, yb in minibatches(X, y, 7, rng)])
        np.testing.assert_array_equal(seen, expected)
    other = np.concatenate([yb for _, yb in minibatches(X, y, 7, 43)])
    assert not np.array_equal(other, expected)
    generator = np.random.default_rng(0)
    first = np.concatenate([yb for _, yb in minibatches(X, y, 7, generator)])
    second = np.concatenate([yb for _, yb in minibatches(X, y, 7, generator)])
    assert not np.array_equal(first, second)  # a Generator advances: a new order each epoch


def test_without_shuffle_batches_are_consecutive_slices():
    X, y = example_arrays(10)
    batches = list(minibatches(X, y, 4, None, shuffle=False))
    assert [yb.tolist() for _, yb in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    np.testing.assert_array_equal(batches[2][0], X[8:10])
    assert list(minibatches(X[:0], y[:0], 4, 0)) == []


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"batch_size": 0}, ValueError, r"batch_size must be an integer >= 1, got 0"),
        ({"batch_size": -3}, ValueError, r"batch_size must be an integer >= 1, got -3"),
        ({"batch_size": 2.5}, TypeError, r"batch_size must be an integer >= 1, got 2\.5"),
        ({"batch_size": True}, TypeError, r"batch_size must be an integer >= 1, got True"),
        ({"rng": None}, TypeError, r"rng must be a numpy\.random\.Generator or an int seed"),
        ({"rng": 1.5}, TypeError, r"rng must be a numpy\.random\.Generator or an int seed"),
        ({"rng": np.random.RandomState(0)}, TypeError, r"rng must be"),
        ({"rng": -1}, ValueError, r"rng: a seed must be a non-negative integer, got -1"),
        ({"y": np.arange(9)}, ValueError, r"same length, got len\(X\)=10 and len\(y\)=9"),
        ({"X": np.float64(1.0)}, ValueError, r"X and y must be arrays with a first"),
    ],
)
def test_minibatches_rejects_bad_arguments_at_call_time(kwargs, error, pattern):
    X, y = example_arrays(10)
    args = {"X": X, "y": y, "batch_size": 4, "rng": 0, **kwargs}
    with pytest.raises(error, match=pattern):
        minibatches(**args)  # not even advanced: errors come at the call
