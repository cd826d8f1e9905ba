"""MNIST and Fashion-MNIST: find, download, verify, parse, and cut into minibatches.

The two data sets of the book are loaded by :func:`load_mnist` and
:func:`load_fashion_mnist`, which return ``(X_train, y_train), (X_test, y_test)``
with images as float32 in :math:`[0, 1]` and labels as int64.

**Where the files come from.** Each data set is four gzip-compressed IDX
files (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``). Each file is
looked for, in this order, in

1. ``data_dir/<name>/`` when the ``data_dir=`` argument is given (then nowhere
   else, and a missing file is downloaded into that folder);
2. ``$OPTLIB_DATA/<name>/`` when the environment variable ``OPTLIB_DATA`` is set;
3. the per-user cache ``$XDG_CACHE_HOME/optlib/<name>/`` (default
   ``~/.cache/optlib/<name>/``), see :func:`cache_dir`;

where ``<name>`` is ``mnist`` or ``fashion-mnist``. An uncompressed copy
(the same name without ``.gz``) is accepted too. A file found nowhere is
downloaded from the first mirror that works, into the cache (or ``data_dir``).

**Trust.** Every file is checked against the SHA-256 of its *decompressed*
content (embedded below) before it is parsed, because different mirrors wrap the same
content in different gzip headers. Nothing is ever deleted or overwritten: a
file that fails the check raises :class:`ChecksumError` and stays where it
is; a download goes to a temporary file in the target folder, is flushed to
disk and verified, and only then renamed into place with :func:`os.replace`,
so a failed or corrupt download never leaves anything behind. No pickle is
involved anywhere: the IDX parser reads raw bytes with :func:`numpy.frombuffer`.

**Speed.** Decompressing, hashing and converting MNIST takes about a second.
The parsed arrays are memoized in the process, keyed by each file's path, size and
modification time, so loading again (as the chapters do) costs nothing. The
arrays returned are therefore shared and **read-only**; ``X.copy()`` gives a
private writable copy. :func:`clear_cache` drops the memo.

**Synthetic data.** :func:`sparse_classification` draws a logistic-regression
data set whose rare indicator features carry much of the signal (the AdaGrad
chapter's sparse-feature experiment); nothing is downloaded.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import math
import numbers
import operator
import os
import sys
import tempfile
import threading
import urllib.parse
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from optlib._checks import check_int

__all__ = [
    "load_mnist",
    "load_fashion_mnist",
    "load_idx_pair",
    "read_idx",
    "parse_idx",
    "minibatches",
    "cache_dir",
    "clear_cache",
    "ChecksumError",
    "DownloadError",
    "MNIST_MIRRORS",
    "FASHION_MNIST_MIRRORS",
    "FASHION_MNIST_CLASSES",
    "sparse_classification",
    "wilson_separable",
    "sparse_feature_frequencies",
]

# --------------------------------------------------------------------------
# The data sets
# --------------------------------------------------------------------------

#: Public mirrors of MNIST, tried in order. The first is the one torchvision
#: uses, the second the CVDF copy that TensorFlow's tutorials used.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: Public mirrors of Fashion-MNIST, tried in order: Keras' copy, the authors'
#: GitHub repository, and the authors' S3 bucket (plain HTTP only, which is
#: safe here because every file is verified by SHA-256 anyway).
FASHION_MNIST_MIRRORS: tuple[str, ...] = (
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)

#: The ten classes of Fashion-MNIST, indexed by label.
FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

# IDX magic numbers: 0x00, 0x00, type code (0x08 = unsigned byte), number of dims.
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801


@dataclass(frozen=True)
class _File:
    """One of the four files: its name, decompressed SHA-256 and size in bytes."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class _DataSet:
    """A data set: its folder name, its four files and its default mirrors."""

    name: str
    train_images: _File
    train_labels: _File
    test_images: _File
    test_labels: _File
    mirrors: tuple[str, ...]

    @property
    def files(self) -> tuple[_File, ...]:
        # Labels first: they are tiny, so a dead or wrong mirror shows up
        # before megabytes of images have been transferred.
        return (self.train_labels, self.test_labels, self.train_images, self.test_images)


_TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
_TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
_TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
_TEST_LABELS = "t10k-labels-idx1-ubyte.gz"

# SHA-256 of the decompressed IDX content and its length in bytes
# (16-byte header + 28*28 bytes per image; 8-byte header + 1 byte per label).
_MNIST = _DataSet(
    name="mnist",
    train_images=_File(_TRAIN_IMAGES, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47_040_016),
    train_labels=_File(_TRAIN_LABELS, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60_008),
    test_images=_File(_TEST_IMAGES, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7_840_016),
    test_labels=_File(_TEST_LABELS, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10_008),
    mirrors=MNIST_MIRRORS,
)
_FASHION_MNIST = _DataSet(
    name="fashion-mnist",
    train_images=_File(_TRAIN_IMAGES, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 47_040_016),
    train_labels=_File(_TRAIN_LABELS, "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60_008),
    test_images=_File(_TEST_IMAGES, "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7_840_016),
    test_labels=_File(_TEST_LABELS, "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10_008),
    mirrors=FASHION_MNIST_MIRRORS,
)

_DEFAULT_TIMEOUT = 30.0
_CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A data file's decompressed content is not what it should be.

    Raised when the SHA-256 of the decompressed content differs from the
    expected one, or when a ``.gz`` file cannot be decompressed at all.
    The file is never deleted: the message says which file, the expected and
    actual hashes, and what to do.
    """


class DownloadError(OSError):
    """A data file could not be obtained from any mirror.

    ``failures`` lists ``(url, reason)`` for every mirror tried; the message
    lists them too and says where to put the files by hand.
    """

    def __init__(self, message: str, failures: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.failures = list(failures)


# --------------------------------------------------------------------------
# The IDX format
# --------------------------------------------------------------------------

# IDX type codes (third byte of the magic number); multi-byte types are big-endian.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(data: bytes, name: str = "<bytes>", *, magic: int | None = None) -> np.ndarray:
    """Parse the bytes of an (uncompressed) IDX file, strictly.

    An IDX file is a 4-byte magic number ``0x0000TTNN`` (``TT`` the element
    type, ``0x08`` for unsigned bytes; ``NN`` the number of dimensions), then
    ``NN`` big-endian uint32 sizes :math:`d_1, \\dots, d_{NN}`, then exactly
    :math:`d_1 \\cdots d_{NN}` elements in row-major order.

    Parameters
    ----------
    data : bytes
        The whole decompressed file.
    name : str
        What to call the file in error messages (usually its path).
    magic : int, optional
        If given, the magic number the file must start with, e.g.
        ``0x00000803`` for uint8 images or ``0x00000801`` for uint8 labels.

    Returns
    -------
    numpy.ndarray
        Array of shape :math:`(d_1, \\dots, d_{NN})` in native byte order.
        For uint8 data it is a read-only view of ``data`` (no copy).

    Raises
    ------
    ValueError
        Naming the file and the problem: bad or unexpected magic number,
        file shorter than its header, or data shorter or longer than the
        header says.
    """
    if len(data) < 4:
        raise ValueError(
            f"{name}: truncated IDX file: {len(data)} bytes, but the magic number alone needs 4"
        )
    found = int.from_bytes(data[:4], "big")
    type_code, ndim = data[2], data[3]
    if data[:2] != b"\x00\x00" or type_code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(
            f"{name}: bad magic number 0x{found:08X}: not an IDX file (an IDX file starts "
            "with 0x0000TTNN, TT a type code such as 08 for unsigned bytes and NN >= 1 the "
            "number of dimensions). Is it a gzip file that was not decompressed, or another format?"
        )
    if magic is not None and found != magic:
        raise ValueError(
            f"{name}: magic number is 0x{found:08X} ({_describe_magic(found)}), expected "
            f"0x{magic:08X} ({_describe_magic(magic)}). Is it the right file (images vs labels)?"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{name}: truncated IDX file: {len(data)} bytes, but the header of a "
            f"{ndim}-dimensional IDX file alone needs {header}"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    count = math.prod(shape)  # Python int: cannot overflow
    expected = count * dtype.itemsize
    body = len(data) - header
    if body < expected:
        raise ValueError(
            f"{name}: truncated IDX file: the header promises shape {shape} "
            f"({expected} bytes of data) but only {body} bytes follow it"
        )
    if body > expected:
        raise ValueError(
            f"{name}: size disagrees with the header: shape {shape} needs {expected} bytes "
            f"of data but {body} follow the header ({body - expected} extra)"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(shape)
    # Big-endian multi-byte types are converted once so arithmetic is not slowed down.
    return array if dtype.itemsize == 1 else array.astype(dtype.newbyteorder("="))


def _describe_magic(magic: int) -> str:
    """Human words for an IDX magic number, for error messages."""
    type_code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    dtype = _IDX_DTYPES.get(type_code)
    kind = "unknown type" if dtype is None else dtype.name
    return f"{kind}, {ndim} dimension{'s' if ndim != 1 else ''}"


def _gunzip(source, name: str, limit: int | None = None) -> bytes:
    """gunzip ``source`` (a path or bytes); content that is not valid gzip is a :class:`ChecksumError`.

    ``limit`` caps the output at ``limit + 1`` bytes, so a broken or malicious
    file cannot expand into gigabytes before the hash check rejects it.
    """
    fileobj = io.BytesIO(source) if isinstance(source, bytes) else None
    try:
        with gzip.GzipFile(filename=None if fileobj else source, fileobj=fileobj, mode="rb") as stream:
            return stream.read() if limit is None else stream.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ChecksumError(
            f"{name}: cannot be decompressed as gzip ({type(exc).__name__}: {exc}): the file "
            "is corrupt or truncated. Nothing was deleted: replace it with a good copy, or "
            "delete it so that it is downloaded again."
        ) from None


def _read_content(path: Path) -> bytes:
    """The decompressed content of ``path`` (``.gz`` or already decompressed)."""
    return _gunzip(path, str(path)) if path.suffix == ".gz" else path.read_bytes()


def _check_sha256(content: bytes, expected: str, name: str, advice: str) -> None:
    actual = hashlib.sha256(content).hexdigest()
    if actual != expected:
        raise ChecksumError(
            f"{name}: SHA-256 of the decompressed content is {actual}, expected {expected} "
            f"({len(content)} bytes). The file is corrupt, truncated, or not the file it is "
            f"named after. {advice}"
        )


def read_idx(
    path: str | os.PathLike, *, sha256: str | None = None, magic: int | None = None
) -> np.ndarray:
    """Read an IDX file (gzip-compressed if its name ends in ``.gz``), strictly.

    Parameters
    ----------
    path : str or path-like
        The file.
    sha256 : str, optional
        Expected SHA-256 (hex) of the decompressed content; checked before parsing.
    magic : int, optional
        Required magic number, see :func:`parse_idx`.

    Returns
    -------
    numpy.ndarray
        The array the file holds (see :func:`parse_idx`).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ChecksumError
        If the content cannot be decompressed or its hash differs from ``sha256``.
        The file is left untouched.
    ValueError
        If the content is not a well-formed IDX file (the message names the file).
    """
    path = Path(path)
    content = _read_content(path)
    if sha256 is not None:
        _check_sha256(
            content, sha256.lower(), str(path),
            "Nothing was deleted: replace it with a good copy, or delete it so that it is "
            "downloaded again.",
        )
    return parse_idx(content, str(path), magic=magic)


def _images_and_labels(
    images: np.ndarray, labels: np.ndarray, images_name: str, labels_name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Check that images and labels belong together; return ``X`` (n, h*w) float32 and ``y`` int64.

    Pixel values :math:`p \\in \\{0, \\dots, 255\\}` become :math:`x = p / 255 \\in [0, 1]`.
    """
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{images_name}: expected uint8 images of shape (n, rows, cols), "
            f"got {images.dtype} of shape {images.shape}"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(
            f"{labels_name}: expected uint8 labels of shape (n,), "
            f"got {labels.dtype} of shape {labels.shape}"
        )
    if len(labels) != len(images):
        raise ValueError(
            f"{labels_name} holds {len(labels)} labels but {images_name} holds {len(images)} "
            "images: the two files do not belong together"
        )
    X = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
    y = labels.astype(np.int64)
    return X, y


def load_idx_pair(
    images_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    *,
    flatten: bool = True,
    images_sha256: str | None = None,
    labels_sha256: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load a pair of IDX files (uint8 images, uint8 labels) as ``(X, y)``.

    Works for MNIST-format data sets in general (MNIST, Fashion-MNIST,
    KMNIST, ...). Pixels :math:`p \\in \\{0,\\dots,255\\}` become
    :math:`x = p/255 \\in [0, 1]`.

    Parameters
    ----------
    images_path, labels_path : str or path-like
        IDX files, gzip-compressed if the name ends in ``.gz``. The images must
        have magic number ``0x00000803``, the labels ``0x00000801``.
    flatten : bool
        If True, ``X`` has shape ``(n, rows*cols)``, else ``(n, rows, cols)``.
    images_sha256, labels_sha256 : str, optional
        Expected SHA-256 of the decompressed contents.

    Returns
    -------
    X : numpy.ndarray
        float32 images in :math:`[0, 1]`, writable (a fresh array).
    y : numpy.ndarray
        int64 labels, shape ``(n,)``.

    Raises
    ------
    ValueError
        A malformed file, or a label count that differs from the image count;
        the message names the file(s). :class:`ChecksumError` for a hash mismatch.
    """
    images = read_idx(images_path, sha256=images_sha256, magic=_IMAGES_MAGIC)
    labels = read_idx(labels_path, sha256=labels_sha256, magic=_LABELS_MAGIC)
    X, y = _images_and_labels(images, labels, str(images_path), str(labels_path))
    return (X if flatten else X.reshape(images.shape)), y


# --------------------------------------------------------------------------
# Where the files live
# --------------------------------------------------------------------------


def cache_dir() -> Path:
    """The per-user cache folder: ``$XDG_CACHE_HOME/optlib``, default ``~/.cache/optlib``.

    As the XDG specification asks, a relative ``XDG_CACHE_HOME`` is ignored.
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "optlib"


def _search_folders(dataset: _DataSet, data_dir: str | os.PathLike | None) -> list[Path]:
    """Folders to look in, in order; the last one is where downloads go."""
    if data_dir is not None:
        return [Path(data_dir).expanduser() / dataset.name]
    folders = []
    env = os.environ.get("OPTLIB_DATA", "")
    if env:
        folders.append(Path(env).expanduser() / dataset.name)
    folders.append(cache_dir() / dataset.name)
    return folders


def _find(file: _File, folders: Sequence[Path]) -> Path | None:
    """The first existing copy of ``file`` (compressed, then uncompressed), or None."""
    for folder in folders:
        for candidate in (folder / file.name, folder / file.name[: -len(".gz")]):
            if candidate.is_file():
                return candidate
    return None


def _manual_instructions(dataset: _DataSet, target: Path, mirrors: Sequence[str]) -> str:
    names = ", ".join(f.name for f in dataset.files)
    where = "\n".join(f"  {m}" for m in mirrors) or "  (no mirror given)"
    return (
        f"To install the files by hand, download the four files\n  {names}\n"
        f"from one of\n{where}\ninto the folder\n  {target}\n"
        f"or into DIR/{dataset.name}/ for a folder DIR of your choice and set the environment "
        f"variable OPTLIB_DATA=DIR (or pass data_dir=DIR)."
    )


# --------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------


def _check_mirrors(mirrors: Sequence[str]) -> tuple[str, ...]:
    if isinstance(mirrors, (str, bytes)):
        raise TypeError(f"mirrors must be a list of base URLs, not a single string: {mirrors!r}")
    checked = []
    for mirror in mirrors:
        scheme = urllib.parse.urlsplit(str(mirror)).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"mirrors: {mirror!r} is not an http:// or https:// URL")
        checked.append(str(mirror) if str(mirror).endswith("/") else f"{mirror}/")
    return tuple(checked)


def _fetch(url: str, limit: int, timeout: float) -> bytes:
    """GET ``url`` into memory (at most ``limit`` bytes); ``timeout`` is per socket operation."""
    import urllib.request  # here, not at the top: it pulls in ssl and email (~25 ms)

    request = urllib.request.Request(url, headers={"User-Agent": "optlib (python urllib)"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        chunks, total = [], 0
        while chunk := response.read(_CHUNK):
            total += len(chunk)
            if total > limit:
                raise ValueError(f"response is larger than {limit} bytes, not the expected file")
            chunks.append(chunk)
    return b"".join(chunks)


def _write_atomically(target: Path, payload: bytes) -> None:
    """Write ``payload`` to ``target`` via a temporary file in the same folder, fsync, os.replace."""
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(payload)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        # The temporary file is ours: remove it so a failure leaves nothing behind.
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (POSIX); silently skipped where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _download(
    dataset: _DataSet, file: _File, target: Path, mirrors: Sequence[str], timeout: float
) -> None:
    """Download ``file`` into ``target`` from the first mirror whose copy verifies.

    The payload is verified in memory and only then written (atomically), so a
    corrupt download never touches the folder.
    """
    import http.client  # only needed when downloading

    failures: list[tuple[str, str]] = []
    corrupt = False
    # A gzip file barely larger than its content is the worst legitimate case.
    limit = file.size + file.size // 100 + (1 << 16)
    for mirror in mirrors:
        url = mirror + file.name
        print(f"optlib: downloading {url}", file=sys.stderr, flush=True)
        try:
            payload = _fetch(url, limit, timeout)
            content = _gunzip(payload, url, limit=file.size)
            _check_sha256(content, file.sha256, url, "The mirror serves a bad copy.")
        except ChecksumError as exc:
            corrupt = True
            failures.append((url, str(exc)))
            continue
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # OSError covers URLError, HTTPError, timeouts and refused connections.
            failures.append((url, f"{type(exc).__name__}: {exc}"))
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(target, payload)
        except OSError as exc:
            raise DownloadError(
                f"Downloaded {url} but could not write it to {target}: {exc}. "
                "Make the folder writable, or point OPTLIB_DATA (or data_dir=) somewhere writable.",
                failures,
            ) from exc
        return
    tried = "\n".join(f"  - {url}: {reason}" for url, reason in failures) or "  (no mirror given)"
    why = "no mirror served a copy that passes the SHA-256 check" if corrupt else "every mirror failed"
    message = (
        f"Could not obtain {dataset.name}/{file.name}: {why}. "
        f"Mirrors tried:\n{tried}\nNo part of {file.name} was written to {target.parent}.\n"
        + _manual_instructions(dataset, target.parent, mirrors)
    )
    if corrupt:
        raise ChecksumError(message)
    raise DownloadError(message, failures)


def _locate_or_download(
    dataset: _DataSet,
    file: _File,
    data_dir: str | os.PathLike | None,
    mirrors: Sequence[str],
    download: bool,
    timeout: float,
) -> Path:
    folders = _search_folders(dataset, data_dir)
    found = _find(file, folders)
    if found is not None:
        return found
    target = folders[-1] / file.name
    if not download:
        looked = "\n".join(f"  {f}" for f in folders)
        raise FileNotFoundError(
            f"{dataset.name}/{file.name} was found in none of\n{looked}\nand download=False.\n"
            + _manual_instructions(dataset, folders[-1], mirrors)
        )
    _download(dataset, file, target, mirrors, timeout)
    return target


# --------------------------------------------------------------------------
# Loading, with an in-process memo
# --------------------------------------------------------------------------

_memo: dict[tuple, tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]] = {}
_memo_lock = threading.Lock()


def clear_cache() -> None:
    """Forget the arrays memoized by :func:`load_mnist` / :func:`load_fashion_mnist`.

    Frees their memory; files on disk are not touched.
    """
    with _memo_lock:
        _memo.clear()


def _stamp(path: Path) -> tuple[str, int, int]:
    """What identifies a file's version for the memo: resolved path, size, mtime."""
    stat = path.stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _in_cache(path: Path) -> bool:
    """Whether ``path`` lies in optlib's cache folder (only the error advice depends on it)."""
    try:
        path.resolve().relative_to(cache_dir().resolve())
    except ValueError:
        return False
    return True


def _read_verified(file: _File, path: Path, magic: int) -> np.ndarray:
    """Decompress, check the SHA-256, then parse; a bad file is reported and left alone."""
    content = _read_content(path)
    if _in_cache(path):
        advice = f"Nothing was deleted. Delete {path} and load again to download a fresh copy."
    else:
        advice = ("Nothing was deleted. Replace it with a good copy (or remove it, or unset "
                  "OPTLIB_DATA / data_dir, so that a fresh copy is downloaded into the cache).")
    _check_sha256(content, file.sha256, str(path), advice)
    return parse_idx(content, str(path), magic=magic)


def _read_split(
    images_file: _File, labels_file: _File, paths: Mapping[_File, Path]
) -> tuple[np.ndarray, np.ndarray]:
    """One split (train or test) as read-only ``(X, y)``."""
    images = _read_verified(images_file, paths[images_file], _IMAGES_MAGIC)
    labels = _read_verified(labels_file, paths[labels_file], _LABELS_MAGIC)
    X, y = _images_and_labels(images, labels, str(paths[images_file]), str(paths[labels_file]))
    # Memoized and shared between calls, so nobody may change them in place.
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def _load(
    dataset: _DataSet,
    *,
    flatten: bool,
    data_dir: str | os.PathLike | None,
    mirrors: Sequence[str] | None,
    download: bool,
    timeout: float,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    mirrors = dataset.mirrors if mirrors is None else _check_mirrors(mirrors)
    if isinstance(timeout, bool) or not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    paths = {
        file: _locate_or_download(dataset, file, data_dir, mirrors, download, timeout)
        for file in dataset.files
    }
    # A file replaced on disk has a new size or mtime, hence a new key: it is read again.
    key = (dataset.name,) + tuple(_stamp(paths[file]) for file in dataset.files)
    with _memo_lock:
        cached = _memo.get(key)
    if cached is None:
        cached = (_read_split(dataset.train_images, dataset.train_labels, paths),
                  _read_split(dataset.test_images, dataset.test_labels, paths))
        with _memo_lock:
            _memo[key] = cached
    (X_train, y_train), (X_test, y_test) = cached
    if not flatten:
        # Reshaped views of read-only arrays are read-only too; MNIST-format images are 28x28.
        X_train = X_train.reshape(-1, 28, 28)
        X_test = X_test.reshape(-1, 28, 28)
    return (X_train, y_train), (X_test, y_test)


_LOAD_DOC = """Load {title} as ``(X_train, y_train), (X_test, y_test)``.

    {blurb} Pixels :math:`p \\in \\{{0, \\dots, 255\\}}` become
    :math:`x = p / 255 \\in [0, 1]`.

    The files are looked for in ``data_dir/{name}/`` if given, else in
    ``$OPTLIB_DATA/{name}/`` and then in ``cache_dir()/{name}/``; missing ones
    are downloaded from ``mirrors`` into the cache (or ``data_dir``). Every
    file is verified by the SHA-256 of its decompressed content before use.
    See the module docstring for the details.

    Parameters
    ----------
    flatten : bool
        If True (default) images have shape ``(n, 784)``, else ``(n, 28, 28)``.
    data_dir : str or path-like, optional
        A folder holding ``{name}/``; if given, it is the only place looked in
        and the place downloads go to (existing files there are never changed).
    mirrors : sequence of str, optional
        Base URLs to download from, tried in order (default
        ``{mirrors_name}``).
    download : bool
        If False, a missing file is a ``FileNotFoundError`` instead of a download.
    timeout : float
        Seconds each network operation (connect, read) may take before the
        next mirror is tried.

    Returns
    -------
    (X_train, y_train), (X_test, y_test) : tuple of tuples of numpy.ndarray
        float32 images (60,000 train, 10,000 test) and int64 labels 0..9.
        The arrays are **read-only** and shared between calls (they are
        memoized in the process); use ``X.copy()`` to get a writable copy.

    Raises
    ------
    ChecksumError
        A file (found or downloaded) whose content is not the expected one;
        nothing is deleted.
    DownloadError
        No mirror could deliver a missing file (an ``OSError``); the message
        lists each mirror with its failure and where to put the files by hand.
    FileNotFoundError
        A file is missing and ``download=False``.
    ValueError
        A malformed IDX file, or a bad argument.
    """


def load_mnist(
    *,
    flatten: bool = True,
    data_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    download: bool = True,
    timeout: float = _DEFAULT_TIMEOUT,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    return _load(_MNIST, flatten=flatten, data_dir=data_dir, mirrors=mirrors,
                 download=download, timeout=timeout)


def load_fashion_mnist(
    *,
    flatten: bool = True,
    data_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    download: bool = True,
    timeout: float = _DEFAULT_TIMEOUT,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    return _load(_FASHION_MNIST, flatten=flatten, data_dir=data_dir, mirrors=mirrors,
                 download=download, timeout=timeout)


load_mnist.__doc__ = _LOAD_DOC.format(
    title="MNIST", name="mnist", mirrors_name="MNIST_MIRRORS",
    blurb="The handwritten digits of LeCun, Cortes and Burges: 28x28 grayscale images, labels 0..9.",
)
load_fashion_mnist.__doc__ = _LOAD_DOC.format(
    title="Fashion-MNIST", name="fashion-mnist", mirrors_name="FASHION_MNIST_MIRRORS",
    blurb=("Zalando's 28x28 grayscale images of clothing (Xiao, Rasul and Vollgraf, 2017); "
           "label ``k`` is ``FASHION_MNIST_CLASSES[k]``."),
)


# --------------------------------------------------------------------------
# Minibatches
# --------------------------------------------------------------------------


def minibatches(
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    rng: np.random.Generator | int | None,
    shuffle: bool = True,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of minibatches ``(X_batch, y_batch)``.

    With ``shuffle=True`` the examples are visited in the order of a random
    permutation :math:`\\pi` of :math:`\\{0, \\dots, n-1\\}` drawn from ``rng``,
    and batch :math:`j` holds examples :math:`\\pi(jB), \\dots, \\pi(jB + B - 1)`
    for batch size :math:`B`: every example appears exactly once per epoch.
    The last batch has :math:`n \\bmod B` examples unless ``drop_last=True``
    drops it (then every batch has exactly :math:`B`).

    Parameters
    ----------
    X, y : numpy.ndarray
        Inputs and targets, indexed along the first axis; same length.
    batch_size : int
        :math:`B \\ge 1`.
    rng : numpy.random.Generator or int
        Source of the permutation, or a seed for ``numpy.random.default_rng``.
        A Generator advances, so passing the same Generator every epoch gives a
        new order each epoch; an int gives the same order every time. May be
        None only when ``shuffle=False``.
    shuffle : bool
        If False, batches are consecutive slices (views) in the original order.
    drop_last : bool
        Drop the final, smaller batch.

    Returns
    -------
    generator of (numpy.ndarray, numpy.ndarray)
        Arguments are checked when ``minibatches`` is called, not when the
        generator is first advanced.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(
            "X and y must be arrays with a first (example) axis, "
            f"got shapes {X.shape} and {y.shape}"
        )
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got len(X)={len(X)} and len(y)={len(y)}")
    if isinstance(batch_size, (bool, np.bool_)):
        raise TypeError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    try:
        batch_size = operator.index(batch_size)
    except TypeError:
        raise TypeError(f"batch_size must be an integer >= 1, got {batch_size!r}") from None
    if batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size}")
    order = _permutation(len(X), rng) if shuffle else None
    return _batches(X, y, batch_size, order, drop_last)


def _permutation(n: int, rng: np.random.Generator | int | None) -> np.ndarray:
    if isinstance(rng, np.random.Generator):
        return rng.permutation(n)
    if rng is None or isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (int, np.integer)):
        raise TypeError(
            f"rng must be a numpy.random.Generator or an int seed when shuffle=True, got {rng!r}; "
            "e.g. rng=np.random.default_rng(0) or rng=0"
        )
    if rng < 0:
        raise ValueError(f"rng: a seed must be a non-negative integer, got {rng}")
    return np.random.default_rng(int(rng)).permutation(n)


def _batches(
    X: np.ndarray, y: np.ndarray, batch_size: int, order: np.ndarray | None, drop_last: bool
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    n = len(X)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if order is None:
            yield X[start:start + batch_size], y[start:start + batch_size]
        else:
            index = order[start:start + batch_size]
            yield X[index], y[index]


# --------------------------------------------------------------------------
# A synthetic data set with rare features (appended for the AdaGrad chapter)
# --------------------------------------------------------------------------

def sparse_feature_frequencies(d: int = 100, rare_fraction: float = 0.5,
                               rare_prob: float | tuple[float, float] = (0.002, 0.05),
                               common_prob: float = 0.5) -> np.ndarray:
    r"""The probabilities :math:`p_j = P(x_j = 1)` of :func:`sparse_classification`'s features.

    The first :math:`d_c = d - d_r` features are *common*, with
    :math:`p_j` = ``common_prob``; the last :math:`d_r = \mathrm{round}(`
    ``rare_fraction`` :math:`\cdot d)` are *rare*. With ``rare_prob`` a number
    every rare feature has that probability; with a pair ``(low, high)`` the
    rare probabilities are spaced geometrically from ``low`` to ``high``
    (``np.geomspace``), so the rare features cover a range of frequencies.

    Returns
    -------
    ndarray, float64, shape (d,)
    """
    d = check_int("d", d, 1)
    if isinstance(rare_fraction, bool) or not isinstance(rare_fraction, numbers.Real) \
            or not 0.0 <= rare_fraction <= 1.0:
        raise ValueError(f"rare_fraction must be a number in [0, 1], got {rare_fraction!r}")

    def probability(name: str, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not 0.0 < value <= 1.0:
            raise ValueError(f"{name} must be a probability in (0, 1], got {value!r}")
        return float(value)

    common = probability("common_prob", common_prob)
    if isinstance(rare_prob, (tuple, list)):
        if len(rare_prob) != 2:
            raise ValueError(f"rare_prob must be a number or a pair (low, high), got {rare_prob!r}")
        low = probability("rare_prob[0]", rare_prob[0])
        high = probability("rare_prob[1]", rare_prob[1])
        if low > high:
            raise ValueError(f"rare_prob must be (low, high) with low <= high, got {rare_prob!r}")
    else:
        low = high = probability("rare_prob", rare_prob)
    n_rare = int(round(rare_fraction * d))
    return np.concatenate([np.full(d - n_rare, common), np.geomspace(low, high, n_rare)])


def sparse_classification(
    n: int,
    d: int = 100,
    rare_fraction: float = 0.5,
    rare_prob: float | tuple[float, float] = (0.002, 0.05),
    common_prob: float = 0.5,
    common_scale: float = 0.3,
    rare_scale: float = 3.0,
    weights: np.ndarray | None = None,
    seed: int | Sequence[int] | np.random.Generator | None = None,
    dtype: type = np.float64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""A logistic-regression data set in which rare features carry much of the signal.

    Every feature is an indicator :math:`x_{ij} \in \{0, 1\}` (a word occurs, a
    category is present), drawn independently with
    :math:`P(x_{ij} = 1) = p_j` from :func:`sparse_feature_frequencies`: the
    first :math:`d_c` features are common (:math:`p_j` = ``common_prob``),
    the last :math:`d_r` are rare. The true weights are

    .. math::

        w_j \sim \mathcal N(0, \sigma_c^2) \ (j \le d_c), \qquad
        w_j = \pm\, w_r \ \text{(a fair random sign)} \ (j > d_c),

    with :math:`\sigma_c` = ``common_scale`` and :math:`w_r` = ``rare_scale``,
    so a rare feature is seldom present but moves the log-odds by
    :math:`\pm w_r` when it is. The labels are
    :math:`y_i \sim \mathrm{Bernoulli}(\sigma(x_i^\top w))` with
    :math:`\sigma(z) = 1/(1 + e^{-z})`; the model has no intercept. Fit it
    with :func:`optlib.nn.logistic_loss_and_grad`.

    Draws come from ``np.random.default_rng(seed)`` in this order: the
    weights (unless ``weights`` is given), then ``X``, then ``y``. To draw a
    test set from the same distribution, pass the training set's
    ``w_true`` as ``weights`` with another seed.

    Parameters
    ----------
    n : int
        Number of examples.
    d, rare_fraction, rare_prob, common_prob
        The features, as in :func:`sparse_feature_frequencies`.
    common_scale, rare_scale : float
        :math:`\sigma_c \ge 0` and :math:`w_r \ge 0`.
    weights : ndarray of shape (d,), optional
        Use these true weights instead of drawing them.
    seed : int, sequence of int, Generator or None
        Seed of the generator (a Generator is used as it is, and advances).
    dtype : np.float32 or np.float64
        dtype of ``X``.

    Returns
    -------
    X : ndarray, shape (n, d), of 0.0 and 1.0
    y : ndarray, int64, shape (n,), of 0 and 1
    w_true : ndarray, float64, shape (d,)
    """
    n = check_int("n", n, 1)
    probs = sparse_feature_frequencies(d, rare_fraction, rare_prob, common_prob)
    for name, value in (("common_scale", common_scale), ("rare_scale", rare_scale)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be np.float32 or np.float64, got {dtype}")
    rng = np.random.default_rng(seed)
    n_rare = int(round(rare_fraction * d))
    if weights is None:
        w_true = np.concatenate([
            common_scale * rng.standard_normal(d - n_rare),
            rare_scale * rng.choice(np.array([-1.0, 1.0]), size=n_rare),
        ])
    else:
        w_true = np.array(weights, dtype=np.float64)
        if w_true.shape != (d,) or not np.all(np.isfinite(w_true)):
            raise ValueError(f"weights must be a finite array of shape ({d},), "
                             f"got shape {w_true.shape}")
    X = (rng.random((int(n), d)) < probs).astype(dtype)
    logits = X.astype(np.float64) @ w_true
    # P(y = 1) = σ(z), written with tanh so that no exp can overflow
    y = (rng.random(int(n)) < 0.5 * (1.0 + np.tanh(0.5 * logits))).astype(np.int64)
    return X, y, w_true


def wilson_separable(
    n_train: int,
    n_test: int,
    p: float = 0.7,
    seed: int | Sequence[int] | np.random.Generator | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    r"""The linearly separable problem of Wilson et al. (2017, section 3.3).

    Labels :math:`y_i \in \{-1, +1\}` are independent with
    :math:`P(y_i = +1) = p`. Every example :math:`i` (training and test
    examples are numbered together, training first) has
    :math:`d = 3 + 5(n_{\text{train}} + n_{\text{test}})` features:

    .. math::

        x_{i1} = y_i, \qquad x_{i2} = x_{i3} = 1, \qquad
        x_{ij} = 1 \ \text{for}\ j = 4 + 5(i-1), \dots, 4 + 5(i-1) + 2(1 - y_i),

    and 0 otherwise (1-based :math:`j`): a block of five features that only
    example :math:`i` uses, of which it sets one when :math:`y_i = +1` and
    all five when :math:`y_i = -1`. The first feature is the label, so the
    classes are linearly separable; a test example shares only the first
    three features with the training set. Fit by least squares
    :math:`\min_w \tfrac{1}{2n}\lVert Xw - y\rVert^2`.

    Parameters
    ----------
    n_train, n_test : int
        Numbers of training (>= 1) and test (>= 0) examples.
    p : float
        Probability of the label +1, in (0, 1).
    seed : int, sequence of int, Generator or None
        Seed of ``np.random.default_rng``; the labels are its only draws.

    Returns
    -------
    (X_train, y_train), (X_test, y_test)
        float64 arrays; ``X`` has ``d`` columns, ``y`` holds -1.0 and +1.0.
    """
    n_train, n_test = check_int("n_train", n_train, 1), check_int("n_test", n_test, 0)
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 < p < 1:
        raise ValueError(f"p must be a number in (0, 1), got {p!r}")
    n = n_train + n_test
    y = np.where(np.random.default_rng(seed).random(n) < p, 1.0, -1.0)
    X = np.zeros((n, 3 + 5 * n))
    X[:, 0] = y
    X[:, 1:3] = 1.0
    for i in range(n):      # 0-based i: the block starts at column 3 + 5i
        X[i, 3 + 5 * i: 4 + 5 * i + (4 if y[i] < 0 else 0)] = 1.0
    return (X[:n_train], y[:n_train]), (X[n_train:], y[n_train:])
