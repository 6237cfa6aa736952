"""CelebA 얼굴 찾기·내려받기·읽기 (레슨 07이 씁니다).

찾는 순서: --image-dir(학습자의 이미지 폴더) → 데이터 루트의 `celeba64/` (64×64 표본 6,000장과 list.csv)
→ 공식 CelebA `celeba/img_align_celeba/*.jpg` → 공식 zip 을 md5 로 확인하며 내려받기
→ 눈에 띄는 안내와 함께 scikit-learn 손글씨 숫자를 32×32 로 키운 대체 데이터.
이미지는 한 번만 디코딩해 uint8 텐서 (N,C,H,W) 로 메모리에 둡니다.
CelebA 는 비상업적 연구 목적으로만 쓸 수 있습니다 (Liu et al., ICCV 2015).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm  # 노트북에서도 글자 진행 막대 (위젯 경고 없이)

from utils.archives import safe_extract
from utils.data_utils import collect_image_paths, locate_dataset, read_image, resolve_data_dir
from utils.model_utils import CourseError

IMAGE_SIZE = 64
QUICK_TRAIN, QUICK_TEST = 96, 32       # --quick 에서 읽는 얼굴 수 (전체를 디코딩하지 않음)
OFFICIAL_LIMIT = 6000                  # 공식 CelebA 에서는 앞의 6,000장만 (celeba64 표본과 같은 크기)
MANUAL_STEPS = (
    "공식 CelebA 는 Google Drive 에서 내려받는데, 하루 내려받기 한도 때문에 자주 실패합니다.\n"
    "       직접 받으려면: https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html → 'Align&Cropped Images' 의\n"
    "       img_align_celeba.zip 을 받아 <데이터 루트>/celeba/img_align_celeba/ 에 풀어 두세요.")


def celeba64_dir(root: Path) -> Path:
    return Path(root) / "celeba64"


def official_dir(root: Path) -> Path:
    return Path(root) / "celeba" / "img_align_celeba"


def present(root: Path) -> bool:
    return (celeba64_dir(root) / "list.csv").is_file() or official_dir(root).is_dir()


def expected_files(root: Path) -> list[str]:
    return [str(celeba64_dir(root) / "list.csv"), str(celeba64_dir(root) / "faces/*.jpg"),
            f"(또는) {official_dir(root)}/*.jpg"]


def download(root: Path) -> bool:
    """강사용 미리 받기 (download_data.py): 공식 img_align_celeba.zip(약 1.4GB)을 md5 로 확인하고 안전하게 풉니다."""
    root = Path(root)
    if present(root):
        return True
    try:
        from torchvision.datasets import CelebA
        from torchvision.datasets.utils import download_file_from_google_drive

        file_id, md5, filename = next(f for f in CelebA.file_list if f[2] == "img_align_celeba.zip")
        download_file_from_google_drive(file_id, root / "celeba", filename, md5)  # md5 가 다르면 RuntimeError
        safe_extract(root / "celeba" / filename, root / "celeba")
    except Exception as err:  # Google Drive 한도, 오프라인, gdown 없음, 손상된 zip 등
        print(f"  CelebA 내려받기 실패: {type(err).__name__}: {err}\n       {MANUAL_STEPS}")
    return present(root)


def center_square(img, size: int = IMAGE_SIZE) -> torch.Tensor:
    """가운데를 정사각형으로 자르고 size×size 로 줄여 (3,H,W) uint8 텐서로 (DCGAN 튜토리얼과 같은 전처리)."""
    from PIL import Image

    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side))
    if img.size != (size, size):
        img = img.resize((size, size), Image.LANCZOS)
    return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1)


def decode_images(paths: list[Path], desc: str) -> torch.Tensor:
    """파일 목록을 한 번에 디코딩합니다. 읽을 수 없는 파일(깨진 파일, 이미지가 아닌 파일)은 건너뛰고 알립니다."""
    images, bad = [], []
    for path in tqdm(paths, desc=desc, leave=False, mininterval=1.0, disable=None):
        try:
            images.append(center_square(read_image(path, "RGB")))
        except CourseError:
            bad.append(path)
    if bad:
        print(f"  [알림] 이미지로 읽을 수 없는 파일 {len(bad)}개를 건너뜁니다 (예: {bad[0]})")
    if not images:
        raise CourseError(f"이미지로 읽을 수 있는 파일이 하나도 없습니다 ({len(paths)}개 시도, 예: {paths[0]})")
    return torch.stack(images)


def celeba64_split(root: Path) -> tuple[list[Path], list[Path]]:
    """list.csv 의 source_split: test 는 평가용(학습에 쓰지 않음), 나머지는 학습용."""
    folder = celeba64_dir(root)
    with open(folder / "list.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    train = [folder / "faces" / r["filename"] for r in rows if r["source_split"] != "test"]
    test = [folder / "faces" / r["filename"] for r in rows if r["source_split"] == "test"]
    return train, test


def holdout_split(paths: list[Path], test_fraction: float, seed: int) -> tuple[list[Path], list[Path]]:
    """목록을 섞어 일부를 평가용으로 떼어 냅니다 (공식 CelebA)."""
    order = torch.randperm(len(paths), generator=torch.Generator().manual_seed(seed)).tolist()
    n_test = max(1, int(len(paths) * test_fraction))
    return [paths[i] for i in order[n_test:]], [paths[i] for i in order[:n_test]]


def shrink(paths: list[Path], n: int, seed: int) -> list[Path]:
    """--quick: 무작위로 n개만 골라 그 파일들만 디코딩합니다."""
    if len(paths) <= n:
        return paths
    idx = torch.randperm(len(paths), generator=torch.Generator().manual_seed(seed))[:n]
    return [paths[i] for i in sorted(idx.tolist())]


def digits_stand_in(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """대체 데이터: scikit-learn 내장 손글씨 숫자(8×8, 1,797장)를 32×32 흑백으로 키운 것 (학습, 평가 300장)."""
    from sklearn.datasets import load_digits

    x = torch.tensor(load_digits().images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=(24, 24), mode="bilinear", align_corners=False)
    x = (F.pad(x, (4, 4, 4, 4)).clamp(0, 1) * 255).round().to(torch.uint8)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    x = x[order]
    return x[300:], x[:300]


def load_image_dir(args) -> dict:
    """--image-dir: 아무 이미지 폴더나 정사각형으로 잘라 64×64 로. 10%를 평가용으로 떼어 둡니다."""
    paths = collect_image_paths([args.image_dir])
    if args.quick:
        paths = shrink(paths, QUICK_TRAIN + QUICK_TEST, args.seed)
    images = decode_images(paths, "이미지 디코딩")
    if len(images) < 8:
        raise CourseError(f"--image-dir 에 읽을 수 있는 이미지가 너무 적습니다 ({len(images)}장): "
                          f"{args.image_dir}\n       GAN 학습에는 수백 장 이상이 좋고, 최소 8장이 필요합니다.")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(args.seed))
    n_test = max(1, len(images) // 10)
    return {"train": images[order[n_test:]], "test": images[order[:n_test]],
            "name": f"이미지 폴더 {args.image_dir}", "source": "local"}


def load(args) -> dict:
    """학습/평가 이미지(uint8 (N,C,H,W))와 이름·출처("local" | "downloaded" | "fallback")를 담은 사전.

    args 에서 쓰는 값: image_dir, data_dir, quick, seed, no_download, require_data.
    평가용 이미지는 학습에 쓰지 않습니다 (생성 품질을 잴 때 '새 진짜 얼굴'의 기준).
    """
    if getattr(args, "image_dir", None):
        return load_image_dir(args)
    root = resolve_data_dir(args.data_dir)
    source = locate_dataset(args, "CelebA", expected_files(root), present=lambda: present(root),
                            download=lambda: download(root))
    if source == "fallback":
        train_x, test_x = digits_stand_in(args.seed)
        if args.quick:
            train_x, test_x = train_x[:QUICK_TRAIN], test_x[:QUICK_TEST]
        return {"train": train_x, "test": test_x, "name": "손글씨 숫자 대체 데이터 (32×32)", "source": "fallback"}
    if (celeba64_dir(root) / "list.csv").is_file():
        train, test = celeba64_split(root)
        name = "CelebA 얼굴 64×64 (6,000장 표본)"
    else:
        all_paths = sorted(official_dir(root).glob("*.jpg"))[:OFFICIAL_LIMIT]
        if not all_paths:
            raise CourseError(f"공식 CelebA 폴더에 jpg 파일이 없습니다: {official_dir(root)}\n       {MANUAL_STEPS}")
        train, test = holdout_split(all_paths, 0.1, args.seed)
        name = "CelebA img_align_celeba (앞 6,000장)"
    if args.quick:
        train, test = shrink(train, QUICK_TRAIN, args.seed), shrink(test, QUICK_TEST, args.seed)
    return {"train": decode_images(train, "학습 이미지 디코딩"), "test": decode_images(test, "평가 이미지 디코딩"),
            "name": name, "source": source}
