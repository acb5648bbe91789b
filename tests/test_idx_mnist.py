"""IDX reading and MNIST subsets on tiny hand-written IDX files, plus one check on the real t10k files."""

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from imbrun.data import mnist
from imbrun.data.idx import read_idx, write_idx
from imbrun.data.mnist import load_mnist
from imbrun.errors import ImbrunError
from tests.conftest import SHARED_DATA, need_shared

# 12 test images with labels 0..9 then 9, 4; image i is filled with the value 10 * i
TEST_LABELS = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 4], dtype=np.uint8)
TRAIN_LABELS = np.array([4, 9, 9], dtype=np.uint8)


def _images(n: int, start: int = 0) -> np.ndarray:
    return np.stack([np.full((28, 28), 10 * (start + i), dtype=np.uint8) for i in range(n)])


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", _images(12))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", TEST_LABELS)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", _images(3, start=20))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", TRAIN_LABELS)
    return tmp_path


def test_read_idx_raw_and_gz_give_the_same_array(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", images)
    write_idx(tmp_path / "a", images)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), images)


def test_read_idx_rejects_wrong_magic(tmp_path):
    (tmp_path / "bad").write_bytes(bytes([0, 0, 0x0D, 1, 0, 0, 0, 1, 7]))
    with pytest.raises(ImbrunError, match=r"bad: expected IDX magic 0x00000801 .* got 0x00000d01"):
        read_idx(tmp_path / "bad")


def test_read_idx_rejects_size_mismatch(tmp_path):
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2, 3]))
    with pytest.raises(ImbrunError, match=r"short: expected 13 bytes for dims 5, got 11 bytes"):
        read_idx(tmp_path / "short")


def test_read_idx_rejects_truncated_gzip(tmp_path):
    write_idx(tmp_path / "full.gz", np.zeros((3, 28, 28), dtype=np.uint8))
    data = (tmp_path / "full.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImbrunError, match=r"cut.gz: expected a complete gzip file, got a truncated"):
        read_idx(tmp_path / "cut.gz")


def test_load_all_test_rows_scaled_and_flat(folder):
    data = load_mnist(folder)
    assert data.X.shape == (12, 784) and data.X.dtype == np.float32
    np.testing.assert_allclose(data.X[:, 0], np.arange(12) * 10 / 255, rtol=1e-6)
    np.testing.assert_array_equal(data.y, TEST_LABELS)
    np.testing.assert_array_equal(data.row_ids, np.arange(12))
    assert data.class_names == [str(d) for d in range(10)]
    assert [Path(s["path"]).name for s in data.sources] == list(mnist.MNIST_FILES["test"])
    images_gz = (folder / "t10k-images-idx3-ubyte.gz").read_bytes()
    assert data.sources[0]["sha256"] == hashlib.sha256(images_gz).hexdigest()


def test_binary_nine_vs_four_relabel(folder):
    data = load_mnist(folder, classes=[4, 9], relabel={9: 1, 4: 0})
    np.testing.assert_array_equal(data.row_ids, [4, 9, 10, 11])
    np.testing.assert_array_equal(data.y, [0, 1, 1, 0])
    assert data.class_names == ["4", "9"]
    named = load_mnist(folder, relabel={9: 1, 4: 0}, class_names=["four", "nine"])
    np.testing.assert_array_equal(named.row_ids, [4, 9, 10, 11])
    assert named.class_names == ["four", "nine"]


def test_classes_without_relabel_get_sorted_codes_and_merges_join_names(folder):
    data = load_mnist(folder, classes=[9, 2])
    np.testing.assert_array_equal(data.y, [0, 1, 1])
    assert data.class_names == ["2", "9"]
    merged = load_mnist(folder, variant="mnist", relabel={0: 0, 1: 0, 2: 1})
    assert merged.class_names == ["0+1", "2"]
    np.testing.assert_array_equal(merged.y, [0, 0, 1])


def test_per_class_cap_is_seeded_and_sorted(folder):
    data = load_mnist(folder, classes=[4, 9], per_class={9: 1}, subset_seed=0)
    nines = data.row_ids[data.y == 1]
    assert len(nines) == 1 and nines[0] in (9, 10)
    np.testing.assert_array_equal(data.row_ids[data.y == 0], [4, 11])
    assert np.all(np.diff(data.row_ids) > 0)
    again = load_mnist(folder, classes=[4, 9], per_class={9: 1}, subset_seed=0)
    np.testing.assert_array_equal(again.row_ids, data.row_ids)
    picks = {int(load_mnist(folder, classes=[9], per_class={9: 1}, subset_seed=s).row_ids[0]) for s in range(20)}
    assert picks == {9, 10}


def test_per_class_fraction_rounds_half_up(folder):
    data = load_mnist(folder, classes=[4, 9], per_class={4: 0.5, 9: 1.0})
    assert np.bincount(data.y).tolist() == [1, 2]
    assert load_mnist(folder, classes=[4], per_class={4: 0.25}).y.tolist() == [0]  # 0.5 -> 1


def test_bad_per_class_and_relabel_are_one_line_errors(folder):
    with pytest.raises(ImbrunError, match=r"per_class\[9\]: expected a fraction <= 1 \(or an int count\), got 1.5"):
        load_mnist(folder, classes=[9], per_class={9: 1.5})
    with pytest.raises(ImbrunError, match=r"per_class: expected keys among kept classes \[4, 9\], got \[3\]"):
        load_mnist(folder, classes=[4, 9], per_class={3: 1})
    with pytest.raises(ImbrunError, match=r"relabel: expected new codes 0..1 each used, got \[0, 2\]"):
        load_mnist(folder, relabel={4: 0, 9: 2})
    with pytest.raises(ImbrunError, match=r"classes: expected class ids 0..9, got \[12\]"):
        load_mnist(folder, classes=[12])
    with pytest.raises(ImbrunError, match=r"classes: expected distinct class ids, at least one, got \[4, 4\]"):
        load_mnist(folder, classes=[4, 4])


def test_both_parts_offsets_test_rows_and_unflattened_shape(folder):
    data = load_mnist(folder, part="both", classes=[9], flatten=False, scale=1.0)
    assert data.X.shape == (4, 28, 28)
    np.testing.assert_array_equal(data.row_ids, [1, 2, 12, 13])
    np.testing.assert_array_equal(data.X[:, 0, 0], [210, 220, 90, 100])


def test_missing_files_without_download_names_files_and_folder(tmp_path):
    with pytest.raises(ImbrunError) as err:
        load_mnist(tmp_path, variant="fashion", part="test")
    message = str(err.value)
    assert message == (
        f"fashion files missing: put t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (or the same without .gz) "
        f"in {tmp_path} (from {mnist.MIRRORS['fashion'][0]}) or set download: true"
    )


def test_raw_idx_files_are_read_like_gz_and_gz_wins_when_both_exist(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", _images(3))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", TEST_LABELS[:3])
    data = load_mnist(tmp_path, flatten=False, scale=1.0)
    np.testing.assert_array_equal(data.X[:, 0, 0], [0, 10, 20])
    assert data.y.tolist() == [0, 1, 2]
    assert [Path(s["path"]).name for s in data.sources] == ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", TEST_LABELS[3:6])  # mixed: .gz labels, raw images
    mixed = load_mnist(tmp_path)
    assert mixed.y.tolist() == [3, 4, 5]
    assert [Path(s["path"]).name for s in mixed.sources] == ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte.gz"]


def test_download_without_network_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(mnist.MIRRORS, "mnist", ["http://127.0.0.1:9/"])
    with pytest.raises(ImbrunError, match=r"^could not download t10k-images-idx3-ubyte.gz \(.*127.0.0.1:9") as err:
        load_mnist(tmp_path / "new", download=True)
    assert "\n" not in str(err.value)
    assert list((tmp_path / "new").iterdir()) == []  # no partial file left behind


def test_download_that_cannot_connect_lists_every_missing_file_and_the_folder(tmp_path, monkeypatch):
    def no_network(url, timeout=None):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setitem(mnist.MIRRORS, "mnist", ["https://a.example/", "https://b.example/"])
    write_idx(tmp_path / "train-images-idx3-ubyte", _images(3))  # present (raw): not downloaded, not listed
    with pytest.raises(ImbrunError) as err:
        load_mnist(tmp_path, part="both", download=True)
    reason = "[Errno -3] Temporary failure in name resolution"
    assert str(err.value) == (
        f"could not download train-labels-idx1-ubyte.gz (https://a.example/train-labels-idx1-ubyte.gz: {reason}; "
        f"https://b.example/train-labels-idx1-ubyte.gz: {reason}); put train-labels-idx1-ubyte.gz, "
        f"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz in {tmp_path} by hand (from https://a.example/)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train-images-idx3-ubyte"]


def test_download_checks_md5_and_tries_next_mirror(tmp_path, monkeypatch):
    bad, good, dest = tmp_path / "bad", tmp_path / "good", tmp_path / "dest"
    for d in (bad, good, dest):
        d.mkdir()
    write_idx(bad / "t10k-labels-idx1-ubyte.gz", TEST_LABELS[:3])  # bad mirror: wrong content, no images
    write_idx(good / "t10k-labels-idx1-ubyte.gz", TEST_LABELS)
    write_idx(good / "t10k-images-idx3-ubyte.gz", _images(12))
    md5s = {n: hashlib.md5((good / n).read_bytes()).hexdigest() for n in mnist.MNIST_FILES["test"]}
    monkeypatch.setitem(mnist.MD5, "mnist", md5s)
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [bad.as_uri() + "/", good.as_uri() + "/"])
    data = load_mnist(dest, download=True)
    np.testing.assert_array_equal(data.y, TEST_LABELS)
    assert sorted(p.name for p in dest.iterdir()) == sorted(mnist.MNIST_FILES["test"])
    (dest / "t10k-labels-idx1-ubyte.gz").unlink()  # only the labels are missing now
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [bad.as_uri() + "/"])
    with pytest.raises(ImbrunError, match=r"t10k-labels-idx1-ubyte.gz: md5 expected [0-9a-f]{32}, got [0-9a-f]{32}"):
        load_mnist(dest, download=True)
    assert sorted(p.name for p in dest.iterdir()) == ["t10k-images-idx3-ubyte.gz"]


def test_real_mnist_t10k_label_counts():
    folder = SHARED_DATA / "mnist"
    need_shared(folder / "t10k-images-idx3-ubyte.gz")
    data = load_mnist(folder, part="test")
    assert data.X.shape == (10000, 784)
    assert float(data.X.min()) == 0.0 and float(data.X.max()) == 1.0
    assert np.bincount(data.y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    for name in mnist.MNIST_FILES["test"]:  # the md5 table used for downloads matches the real files
        assert hashlib.md5((folder / name).read_bytes()).hexdigest() == mnist.MD5["mnist"][name]
    sub = load_mnist(folder, classes=[4, 9], relabel={4: 0, 9: 1}, per_class={9: 0.1}, subset_seed=3)
    assert np.bincount(sub.y).tolist() == [982, 101]


def test_real_fashion_label_files_read_as_idx():
    folder = SHARED_DATA / "fashion_mnist_labels"
    need_shared(folder / "t10k-labels-idx1-ubyte.gz")
    assert np.bincount(read_idx(folder / "t10k-labels-idx1-ubyte.gz")).tolist() == [1000] * 10
    assert np.bincount(read_idx(folder / "train-labels-idx1-ubyte.gz")).tolist() == [6000] * 10
