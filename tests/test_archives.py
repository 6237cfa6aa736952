"""utils/archives.safe_extract 테스트: 일부러 만든 위험한 tar·zip을 거부하고 정상 압축은 그대로 푸는지."""
from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from utils.archives import safe_extract
from utils.model_utils import CourseError

GOOD = b"good data\n"


def all_paths(root: Path) -> set[str]:
    """root 아래의 모든 파일·폴더·링크 (링크는 따라가지 않음)."""
    found = set()
    for folder, dirs, files in os.walk(root):
        found.update(os.path.relpath(os.path.join(folder, n), root) for n in dirs + files)
    return found


def tar_member(name, data=b"", kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data)
    return info, io.BytesIO(data)


def make_tar(path: Path, members, mode="w:gz") -> Path:
    # 정상 멤버를 맨 앞에 둡니다: 검사를 모두 마친 뒤에만 쓰는지(부분 풀기 없음) 확인하려고.
    with tarfile.open(path, mode) as tf:
        for info, data in [tar_member("ok.txt", GOOD)] + members:
            tf.addfile(info, data)
    return path


def zip_entry(name, data=b"", mode=0o644 | stat.S_IFREG):
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    return info, data


def make_zip(path: Path, entries) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in [zip_entry("ok.txt", GOOD)] + entries:
            zf.writestr(info, data)
    return path


@pytest.fixture
def sandbox(tmp_path):
    """tmp/in(압축), tmp/out(풀 곳), tmp/out2(이름이 out으로 시작하는 옆 폴더), tmp/victim.txt."""
    (tmp_path / "in").mkdir()
    (tmp_path / "out2").mkdir()
    (tmp_path / "victim.txt").write_bytes(b"original")
    return tmp_path


def assert_rejected(sandbox: Path, archive: Path):
    before = all_paths(sandbox)
    with pytest.raises(CourseError, match="위험한 항목") as info:
        safe_extract(archive, sandbox / "out")
    assert info.value.exit_code == 2
    assert all_paths(sandbox) == before  # 밖에도, out 안에도(ok.txt 포함) 아무것도 생기지 않음
    assert (sandbox / "victim.txt").read_bytes() == b"original"
    assert os.stat(sandbox / "victim.txt").st_nlink == 1  # 하드 링크가 걸리지 않음


# --- 거부해야 하는 tar --------------------------------------------------------------
@pytest.mark.parametrize("members", [
    pytest.param(lambda s: [tar_member("../evil.txt", b"x")], id="dotdot"),
    pytest.param(lambda s: [tar_member("a/../../evil.txt", b"x")], id="dotdot-inner"),
    pytest.param(lambda s: [tar_member(str(s / "abs_evil.txt"), b"x")], id="absolute"),
    pytest.param(lambda s: [tar_member("../out2/x.txt", b"x")], id="sibling-prefix"),
    pytest.param(lambda s: [tar_member("passwd", kind=tarfile.SYMTYPE, link="/etc/passwd")], id="symlink-abs"),
    pytest.param(lambda s: [tar_member("up", kind=tarfile.SYMTYPE, link=".."),
                            tar_member("up/evil.txt", b"x")], id="symlink-write-through"),
    pytest.param(lambda s: [tar_member("d/sib", kind=tarfile.SYMTYPE, link="../../out2")], id="symlink-sibling"),
    pytest.param(lambda s: [tar_member("a", kind=tarfile.SYMTYPE, link="."),
                            tar_member("a/b", kind=tarfile.SYMTYPE, link="..")], id="symlink-chain"),
    pytest.param(lambda s: [tar_member("hl", kind=tarfile.LNKTYPE, link=str(s / "victim.txt"))], id="hardlink-abs"),
    pytest.param(lambda s: [tar_member("hl", kind=tarfile.LNKTYPE, link="../victim.txt")], id="hardlink-dotdot"),
    pytest.param(lambda s: [tar_member("tty", kind=tarfile.CHRTYPE)], id="char-device"),
    pytest.param(lambda s: [tar_member("fifo", kind=tarfile.FIFOTYPE)], id="fifo"),
])
def test_rejects_malicious_tar(sandbox, members):
    archive = make_tar(sandbox / "in" / "evil.tar.gz", members(sandbox))
    assert_rejected(sandbox, archive)


def test_rejects_member_resolving_into_sibling_folder_with_same_prefix(sandbox):
    """dest 안에 이미 out2를 가리키는 링크가 있으면 'out/door/x'는 실제로 out2/x 입니다.
    문자열 앞부분 비교('/tmp/out' 으로 시작?)로는 통과하므로 resolve + is_relative_to 가 필요합니다."""
    dest = sandbox / "out"
    dest.mkdir()
    (dest / "door").symlink_to(sandbox / "out2")
    archive = make_tar(sandbox / "in" / "door.tar", [tar_member("door/x.txt", b"x")], mode="w")
    assert_rejected(sandbox, archive)
    assert all_paths(dest) == {"door"}
    assert not (sandbox / "out2" / "x.txt").exists()


# --- 거부해야 하는 zip --------------------------------------------------------------
@pytest.mark.parametrize("entries", [
    pytest.param(lambda s: [zip_entry("../evil.txt", b"x")], id="dotdot"),
    pytest.param(lambda s: [zip_entry(str(s / "abs_evil.txt"), b"x")], id="absolute"),
    pytest.param(lambda s: [zip_entry("../out2/x.txt", b"x")], id="sibling-prefix"),
    pytest.param(lambda s: [zip_entry("link", b"/etc/passwd", 0o777 | stat.S_IFLNK)], id="symlink-abs"),
    pytest.param(lambda s: [zip_entry("d/link", b"../../out2", 0o777 | stat.S_IFLNK)], id="symlink-outside"),
    pytest.param(lambda s: [zip_entry("tty", b"", 0o644 | stat.S_IFCHR)], id="char-device"),
])
def test_rejects_malicious_zip(sandbox, entries):
    archive = make_zip(sandbox / "in" / "evil.zip", entries(sandbox))
    assert_rejected(sandbox, archive)


# --- 정상 압축 ------------------------------------------------------------------------
def test_extracts_good_tar_gz(sandbox):
    archive = make_tar(sandbox / "in" / "good.tar.gz", [
        tar_member("data/", kind=tarfile.DIRTYPE),
        tar_member("data/a.txt", b"alpha"),
        tar_member("data/link.txt", kind=tarfile.SYMTYPE, link="a.txt"),  # 안쪽을 가리키는 링크는 허용
    ])
    dest = sandbox / "out" / "new"  # 없는 폴더도 만들어 줍니다
    assert safe_extract(archive, dest) == dest
    assert (dest / "ok.txt").read_bytes() == GOOD
    assert (dest / "data" / "a.txt").read_bytes() == b"alpha"
    assert (dest / "data" / "link.txt").read_bytes() == b"alpha"
    assert all_paths(dest) == {"ok.txt", "data", os.path.join("data", "a.txt"), os.path.join("data", "link.txt")}


def test_extracts_good_zip(sandbox):
    archive = make_zip(sandbox / "in" / "good.zip", [zip_entry("images/1.txt", b"one"),
                                                     zip_entry("images/2.txt", b"two" * 1000),
                                                     zip_entry("images/link", b"1.txt", 0o777 | stat.S_IFLNK)])
    dest = sandbox / "out"
    assert safe_extract(archive, dest) == dest
    # 안쪽을 가리키는 링크는 허용. zipfile은 링크를 만들지 않고 대상 경로를 글로 씁니다.
    assert (dest / "images" / "link").read_bytes() == b"1.txt"
    assert (dest / "ok.txt").read_bytes() == GOOD
    assert (dest / "images" / "1.txt").read_bytes() == b"one"
    assert (dest / "images" / "2.txt").read_bytes() == b"two" * 1000


# --- 손상·모르는 형식 -----------------------------------------------------------------
def big_tar(path: Path, mode: str) -> Path:
    data = bytes(range(256)) * 400
    return make_tar(path, [tar_member("big.bin", data), tar_member("big2.bin", data)], mode=mode)


@pytest.mark.parametrize("mode, suffix, cut", [
    ("w:gz", ".tar.gz", 200), ("w:gz", ".tar.gz", 0.5), ("w:gz", ".tar.gz", -20),
    ("w:bz2", ".tar.bz2", 0.5), ("w", ".tar", 0.5),
])
def test_truncated_tar_reports_korean_message(sandbox, mode, suffix, cut):
    archive = big_tar(sandbox / "in" / f"cut{suffix}", mode)
    raw = archive.read_bytes()
    archive.write_bytes(raw[:cut] if isinstance(cut, int) else raw[:int(len(raw) * cut)])
    with pytest.raises(CourseError) as info:
        safe_extract(archive, sandbox / "out")
    message = str(info.value)
    assert message.startswith(f"압축 파일이 손상되었거나 일부만 있습니다: {archive}")
    assert "파일을 지우고 다시 내려받으세요." in message
    assert info.value.exit_code == 2
    assert not (sandbox / "out").exists()


def test_truncated_and_corrupt_zip(sandbox):
    archive = make_zip(sandbox / "in" / "a.zip", [zip_entry("b.txt", bytes(range(256)) * 100)])
    raw = archive.read_bytes()
    archive.write_bytes(raw[: len(raw) // 2])  # 끝의 목록(central directory)이 사라짐
    with pytest.raises(CourseError, match="압축 파일이 손상되었거나 일부만 있습니다"):
        safe_extract(archive, sandbox / "out")
    # 데이터 한가운데 바이트를 바꾸면 CRC가 어긋남: 아무것도 풀지 않아야 합니다
    corrupt = bytearray(raw)
    corrupt[raw.index(b"b.txt") + 40] ^= 0xFF
    archive.write_bytes(bytes(corrupt))
    with pytest.raises(CourseError, match="압축 파일이 손상되었거나 일부만 있습니다"):
        safe_extract(archive, sandbox / "out")
    assert not (sandbox / "out").exists()


def test_unknown_format_and_missing_file(sandbox):
    text = sandbox / "in" / "notes.txt"
    text.write_text("그냥 글자입니다\n" * 50, encoding="utf-8")
    with pytest.raises(CourseError, match="tar나 zip 압축 파일이 아닙니다"):
        safe_extract(text, sandbox / "out")
    with pytest.raises(CourseError, match="압축 파일이 없습니다"):
        safe_extract(sandbox / "in" / "nope.zip", sandbox / "out")
    assert not (sandbox / "out").exists()
