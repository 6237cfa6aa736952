"""tar·zip 압축을 안전하게 푸는 공용 함수 하나: safe_extract(archive, dest).

내려받은 압축 파일은 믿을 수 없는 입력입니다. 멤버 이름이나 링크가 풀 폴더 밖을 가리키면
다른 파일을 덮어쓸 수 있으므로("zip slip"), 모든 멤버를 먼저 검사하고 하나라도 문제가
있으면 아무것도 쓰지 않은 채 CourseError(종료 코드 2)로 멈춥니다.
"""
from __future__ import annotations

import lzma
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from utils.model_utils import CourseError

# 목록조차 못 읽을 만큼 잘린 파일도 "손상" 안내를 받도록 압축 형식의 머리 바이트로 알아봅니다.
_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"PK")  # gzip, bzip2, xz, zip
_BROKEN = (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error, lzma.LZMAError)


def _damaged(archive: Path, why) -> CourseError:
    return CourseError(f"압축 파일이 손상되었거나 일부만 있습니다: {archive} ({why})\n"
                       "       파일을 지우고 다시 내려받으세요.")


def _unsafe(name: str, why: str) -> CourseError:
    return CourseError(f"압축 파일에 위험한 항목이 있어 아무것도 풀지 않았습니다: {name} ({why})\n"
                       "       믿을 수 있는 곳에서 다시 내려받으세요.")


def _check(root: Path, name: str, link: str | None = None, link_dir: str = "") -> None:
    """멤버 이름과 (있으면) 링크 대상이 root 안에 머무는지 확인합니다."""
    for path, base, what in ((name, root, "경로"), (link, root / link_dir, "링크 대상")):
        if path is None:
            continue
        pure = PurePosixPath(path)
        # 링크 대상의 '..'도 막습니다: 링크를 이어 붙이면(a→., a/b→..) 하나씩 검사해서는 못 잡습니다.
        if pure.is_absolute() or ".." in pure.parts:
            raise _unsafe(name, f"{what}에 절대 경로나 '..': {path}")
        # 문자열 앞부분 비교는 /a/b 와 /a/bc 를 구분하지 못하므로 resolve + is_relative_to 로 봅니다.
        # resolve는 dest에 이미 있는 심볼릭 링크도 따라가 줍니다.
        if not (base / path).resolve().is_relative_to(root):
            raise _unsafe(name, f"풀 폴더 밖으로 나가는 {what}: {path}")


def _extract_tar(archive: Path, dest: Path, root: Path) -> None:
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        while tf.fileobj.read(1 << 20):  # 끝까지 읽어 gzip 등의 CRC·끝 표시까지 쓰기 전에 확인합니다
            pass
        for m in members:
            if m.issym() or m.islnk():  # 심볼릭 링크는 자기 폴더, 하드 링크는 압축 루트 기준
                _check(root, m.name, m.linkname, str(PurePosixPath(m.name).parent) if m.issym() else "")
            elif m.isfile() or m.isdir():
                _check(root, m.name)
            else:
                raise _unsafe(m.name, "장치·FIFO 같은 특수 파일")
        dest.mkdir(parents=True, exist_ok=True)
        try:  # filter="data": 위 검사를 통과해도 권한 비트 정리 등 한 겹 더 지킵니다
            tf.extractall(root, members, filter="data")
        except tarfile.FilterError as err:
            raise _unsafe(err.tarinfo.name, str(err)) from None


def _extract_zip(archive: Path, dest: Path, root: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            kind = stat.S_IFMT(info.external_attr >> 16)  # 유닉스에서 만든 zip만 종류 비트가 있음
            if kind == stat.S_IFLNK:  # zipfile은 링크를 일반 파일로 쓰지만 가리키는 곳은 검사합니다
                target = zf.read(info).decode("utf-8", "replace")
                _check(root, info.filename, target, str(PurePosixPath(info.filename).parent))
            elif kind in (0, stat.S_IFREG, stat.S_IFDIR):
                _check(root, info.filename)
            else:
                raise _unsafe(info.filename, "장치·FIFO 같은 특수 파일")
        bad = zf.testzip()  # CRC를 먼저 확인해 손상된 zip이 반쯤 풀린 채 남지 않게 합니다
        if bad is not None:
            raise _damaged(archive, f"CRC 불일치: {bad}")
        dest.mkdir(parents=True, exist_ok=True)
        zf.extractall(root)


def safe_extract(archive: Path, dest: Path) -> Path:
    """tar(gz·bz2·xz 포함) 또는 zip을 dest에 풀고 dest를 돌려줍니다.

    거부하는 것: 절대 경로, '..', dest 밖으로 풀리는 경로, 밖을 가리키는 링크, 장치 파일.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise CourseError(f"압축 파일이 없습니다: {archive}")
    with archive.open("rb") as f:
        head = f.read(6)
    root = dest.resolve()
    try:
        if tarfile.is_tarfile(archive):  # zip 검사는 느슨해(끝부분만 봄) tar를 먼저 봅니다
            _extract_tar(archive, dest, root)
        elif zipfile.is_zipfile(archive):
            _extract_zip(archive, dest, root)
        elif head.startswith(_ARCHIVE_MAGIC):
            raise _damaged(archive, "목록을 읽을 수 없음")
        else:
            raise CourseError(f"tar나 zip 압축 파일이 아닙니다: {archive}\n"
                              "       파일을 지우고 다시 내려받으세요.")
    except _BROKEN as err:
        raise _damaged(archive, f"{type(err).__name__}: {err}") from None
    return dest
