"""CIFAR-10 찾기·내려받기·읽기 (레슨 03이 씁니다).

찾는 순서: 데이터 루트의 torchvision 공식 `cifar-10-batches-py/` → 이미지 폴더 `cifar10/{train,test}/<클래스>/*.jpg`
(JPEG 사본) → 공식 tar.gz 를 md5 로 확인하며 내려받기 → 눈에 띄는 안내와 함께 생성한 무늬 이미지(10종).
어떤 사본을 썼는지는 load 가 돌려주는 이름("official" | "jpeg" | "fallback")으로 metrics.json 에 남습니다.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from utils.archives import safe_extract
from utils.data_utils import ImageData, fetch_verified, locate_dataset, resolve_data_dir
from utils.model_utils import CourseError, load_checkpoint, save_checkpoint

CLASSES_EN = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CLASSES_KO = ["비행기", "자동차", "새", "고양이", "사슴", "개", "개구리", "말", "배", "트럭"]
STAND_IN_CLASSES = ["원", "사각형", "삼각형", "가로 줄무늬", "세로 줄무늬", "십자", "고리", "대각 줄무늬",
                    "물방울무늬", "체크무늬"]
QUICK_PER_CLASS = (200, 50)  # --quick: 클래스마다 앞에서부터 읽을 학습/테스트 이미지 수


def official_present(root: Path) -> bool:
    folder = root / "cifar-10-batches-py"
    return all((folder / f).is_file() for f in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"])


def jpeg_present(root: Path) -> bool:
    return all((root / "cifar10" / split / c).is_dir() for split in ("train", "test") for c in CLASSES_EN)


def expected_files(root: Path) -> list[str]:
    return [str(root / "cifar-10-batches-py" / "data_batch_1 … test_batch"),
            f"또는 {root / 'cifar10' / 'train' / '<클래스>' / '*.jpg'} (+ test)"]


def download(root: Path) -> bool:
    """강사용 미리 내려받기 (download_data.py): 공식 tar.gz를 md5로 확인하고 안전하게 풉니다."""
    from torchvision.datasets import CIFAR10

    root = Path(root)
    if official_present(root) or jpeg_present(root):
        return True
    archive = root / CIFAR10.filename
    if fetch_verified([CIFAR10.url], archive, CIFAR10.tgz_md5):
        safe_extract(archive, root)
    return official_present(root)


def read_official(root: Path, per_class: tuple[int, int] | None):
    """torchvision의 CIFAR10 클래스로 피클 배치를 읽습니다 (각 파일의 md5도 확인)."""
    from torchvision.datasets import CIFAR10

    parts = []
    for train, limit in [(True, per_class and per_class[0]), (False, per_class and per_class[1])]:
        try:
            ds = CIFAR10(str(root), train=train, download=False)
        except (RuntimeError, OSError, EOFError, ValueError) as err:
            raise CourseError(f"CIFAR-10 공식 파일이 손상되었거나 일부만 있습니다: {root / 'cifar-10-batches-py'}\n"
                              f"       그 폴더를 지우고 다시 내려받으세요. (원인: {err})") from None
        x = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # (N,32,32,3) → (N,3,32,32)
        y = torch.tensor(ds.targets, dtype=torch.long)
        if limit:
            keep = torch.cat([(y == c).nonzero().flatten()[:limit] for c in range(10)])
            x, y = x[keep], y[keep]
        parts += [x, y]
    return parts


def list_jpegs(split_dir: Path, limit: int | None):
    """클래스 폴더(알파벳순 = 공식 레이블 순서)마다 파일을 이름순으로. limit이면 앞에서부터 그만큼만."""
    paths, labels = [], []
    for label, name in enumerate(CLASSES_EN):
        found = sorted((split_dir / name).glob("*.jpg"))[:limit]
        paths += found
        labels += [label] * len(found)
    return paths, torch.tensor(labels, dtype=torch.long)


def decode_jpegs(paths: list[Path]) -> torch.Tensor:
    """JPEG들을 Pillow로 디코딩 → uint8 (N,3,32,32). (torchvision.io 의 디코더는 0.29부터 폐기 예정)"""
    images = []
    for p in paths:
        try:
            with Image.open(p) as img:
                images.append(np.asarray(img.convert("RGB")))
        except (OSError, ValueError) as err:
            raise CourseError(f"JPEG 파일을 읽을 수 없습니다: {p} ({err})") from None
        if images[-1].shape != (32, 32, 3):
            raise CourseError(f"CIFAR-10 이미지는 모두 32×32 컬러여야 합니다: {p} 의 크기 {images[-1].shape[1::-1]}")
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


def files_fingerprint(paths: list[Path]) -> str:
    """파일 이름·크기·수정 시각의 해시 (디코딩 없이 몇 분의 1초). 같은 수의 파일을 바꿔 넣어도 캐시를 새로 만듭니다."""
    digest = hashlib.sha1()
    for p in paths:
        stat = p.stat()
        digest.update(f"{p.parent.name}/{p.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return f"{len(paths)}_{digest.hexdigest()[:12]}"


def read_jpeg_folder(root: Path, per_class: tuple[int, int] | None, cache_dir: Path):
    """JPEG 6만 장 디코딩은 수 초 걸리므로, 전체를 읽을 때는 uint8 텐서를 캐시 파일로 남겨 재사용합니다."""
    (train_paths, train_y), (test_paths, test_y) = [
        list_jpegs(root / "cifar10" / split, per_class and per_class[i]) for i, split in enumerate(["train", "test"])]
    cache = cache_dir / f"cifar10_jpeg_{files_fingerprint(train_paths + test_paths)}.pt"  # 파일이 바뀌면 새 캐시
    if per_class is None and cache.is_file():
        try:
            state = load_checkpoint(cache)
            print(f"  디코딩해 둔 캐시를 씁니다: {cache}")
            return state["train_x"], train_y, state["test_x"], test_y
        except (CourseError, KeyError):  # 깨진 캐시는 무시하고 다시 디코딩
            pass
    t0 = time.perf_counter()
    train_x, test_x = decode_jpegs(train_paths), decode_jpegs(test_paths)
    print(f"  JPEG {len(train_paths) + len(test_paths):,}장 디코딩: {time.perf_counter() - t0:.1f}초")
    if per_class is None:
        save_checkpoint({"train_x": train_x, "test_x": test_x}, cache)
    return train_x, train_y, test_x, test_y


def pattern_stand_in(n_train: int = 100, n_test: int = 30, seed: int = 0):
    """대체 데이터: 무작위 색·위치·크기의 무늬 10종(32×32 컬러). 실제 사진은 아닙니다."""
    g = torch.Generator().manual_seed(seed)
    n = 10 * (n_train + n_test)
    labels = torch.arange(10).repeat_interleave(n_train + n_test)
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    cy, cx = (16 + 6 * (torch.rand(2, n, 1, 1, generator=g) - 0.5))
    r = 6 + 6 * torch.rand(n, 1, 1, generator=g)
    f = 0.6 + 0.5 * torch.rand(n, 1, 1, generator=g)
    dy, dx = yy - cy, xx - cx
    dist = (dy ** 2 + dx ** 2).sqrt()
    shapes = [dist < r, torch.maximum(dy.abs(), dx.abs()) < r, (dy < r / 2) & (dx.abs() < (dy + r) / 2),
              torch.sin(yy * f) > 0, torch.sin(xx * f) > 0, ((dy.abs() < 2) | (dx.abs() < 2)) & (dist < r + 3),
              (dist - r).abs() < 2, torch.sin((xx + yy) * f / 1.4) > 0,
              torch.sin(xx * f) * torch.sin(yy * f) > 0.5, torch.sin(xx * f) * torch.sin(yy * f) > 0]
    mask = torch.stack(shapes)[labels, torch.arange(n)].unsqueeze(1).float()      # (N,1,32,32)
    fg, bg = torch.rand(2, n, 3, 1, 1, generator=g)
    img = mask * fg + (1 - mask) * bg * 0.6 + 0.08 * torch.randn(n, 3, 32, 32, generator=g)
    x = (img.clamp(0, 1) * 255).to(torch.uint8)
    is_test = (torch.arange(n) % (n_train + n_test)) >= n_train
    return x[~is_test], labels[~is_test], x[is_test], labels[is_test]


def load(args, cache_dir: Path | None = None) -> tuple[ImageData, str]:
    """CIFAR-10을 uint8 텐서로 한 번만 읽습니다 (--quick 이면 클래스마다 앞의 QUICK_PER_CLASS 장만).

    돌려주는 값: (데이터, 사용한 사본 "official" | "jpeg" | "fallback"). 데이터의 source 는
    "local" | "downloaded" | "fallback". JPEG 디코딩 캐시는 cache_dir(기본 <결과 폴더>/cache)에 둡니다.
    """
    root = resolve_data_dir(args.data_dir)
    per_class = QUICK_PER_CLASS if args.quick else None
    source = locate_dataset(args, "CIFAR-10", expected_files(root),
                            present=lambda: official_present(root) or jpeg_present(root),
                            download=lambda: download(root))
    if source == "fallback":
        n_train, n_test = (100, 20) if args.quick else (300, 30)
        data = ImageData(*pattern_stand_in(n_train, n_test, args.seed), classes=STAND_IN_CLASSES,
                         source=source, name="CIFAR-10 대체 데이터(생성한 무늬)")
        return data, "fallback"
    if official_present(root):
        return ImageData(*read_official(root, per_class), classes=CLASSES_KO, source=source, name="CIFAR-10"), \
            "official"
    parts = read_jpeg_folder(root, per_class, Path(cache_dir or Path(args.out_dir) / "cache"))
    return ImageData(*parts, classes=CLASSES_KO, source=source, name="CIFAR-10 (JPEG 사본)"), "jpeg"
