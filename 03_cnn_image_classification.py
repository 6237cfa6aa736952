"""03. CNN 이미지 분류 — 합성곱·풀링·특성 맵·데이터 증강·전이 학습으로 CIFAR-10 분류

학습 목표
  - 합성곱(convolution)과 풀링(pooling)을 텐서 연산만으로 직접 만들고 출력 크기 공식을 확인한다.
  - 배치 정규화(batch normalization)를 쓴 CNN을 CIFAR-10 전체로 학습해 2코어 CPU에서 30분 안에
    테스트 정확도 90%에 도전한다 (짧은 예산용 학습법: 원사이클 학습률, 라벨 스무딩, 점진적 해상도,
    테스트 때 뒤집기·이동 평균; 이 강의의 측정 CPU에서 낸 값은 docs/RESULTS.md).
  - 첫 층 필터, 층별 특성 맵(feature map), Grad-CAM으로 모델이 무엇을 보는지 들여다본다.
  - 데이터 증강(data augmentation)과 전이 학습(transfer learning)의 효과를 '주장'이 아니라 측정으로 확인한다.

데이터셋
  CIFAR-10 (32×32 컬러 사진 10종, 학습 50,000장 / 테스트 10,000장).
  데이터 루트에 torchvision 공식 `cifar-10-batches-py/` 가 있으면 그것을, 없으면 이미지 폴더
  `cifar10/{train,test}/<클래스>/*.jpg` (JPEG 사본)를 읽습니다. 둘 다 없으면 공식 파일을 체크섬과 함께
  내려받고, 그것도 안 되면 눈에 띄는 안내와 함께 생성한 무늬 이미지(10종)로 대신합니다.
  어떤 사본을 썼는지는 metrics.json 의 cifar_copy("official" | "jpeg" | "fallback")에 남습니다.

핵심 개념
  합성곱(커널·채널·스트라이드·패딩), 출력 크기 공식, 최대/평균 풀링, 특성 맵, 배치 정규화, GELU,
  파라미터 수와 연산량(FLOPs), 원사이클 학습률, 라벨 스무딩, 네스테로프 SGD, 가중치 감쇠(weight decay),
  데이터 증강(무작위 자르기·좌우 뒤집기), 점진적 해상도(progressive resizing), 테스트 시 증강(TTA),
  채널 마지막(channels_last)·bfloat16, 혼동 행렬, Grad-CAM, 전이 학습과 미세 조정(fine-tuning)

실행 방법
  python 03_cnn_image_classification.py                   # 전체 학습 (CIFAR-10)
  python 03_cnn_image_classification.py --quick           # 작은 부분집합으로 몇 초 만에 흐름만 확인
  python 03_cnn_image_classification.py --predict 사진.jpg  # 저장된 모델로 내 사진 분류 (상위 3개)
  python 03_cnn_image_classification.py --epochs 20 --widths 96,384,384   # GPU에서 더 길게 (93% 이상 목표)

예상 시간 (측정값은 docs/RESULTS.md): 2코어 CPU에서 전체 실행 약 29분, --quick 은 20초 안팎.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
from PIL import Image
import torch
import torch.nn.functional as F
from torch import nn

from utils.data_utils import (ImageData, TensorBatches, fetch_hub_weights, fetch_verified, hub_weights_path,
                              load_user_images, locate_dataset, resolve_data_dir, safe_extract_tar,
                              split_train_val, take_subset)
from utils.model_utils import (CourseError, add_threads_option, count_parameters, cpu_threads, evaluate, fit,
                               lesson_main, load_checkpoint, make_parser, print_predictions, save_checkpoint,
                               start_run)
from utils.visualization import (confusion_matrix, new_figure, plot_bars, plot_confusion_matrix,
                                 plot_image_grid, plot_learning_curves, save_figure)

LESSON = "03_cnn_image_classification"
CLASSES_EN = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CLASSES_KO = ["비행기", "자동차", "새", "고양이", "사슴", "개", "개구리", "말", "배", "트럭"]
STAND_IN_CLASSES = ["원", "사각형", "삼각형", "가로 줄무늬", "세로 줄무늬", "십자", "고리", "대각 줄무늬",
                    "물방울무늬", "체크무늬"]
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)  # 학습 세트 전체의 채널별 평균·표준편차 (널리 쓰는 값)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
DEFAULT_WIDTHS = "40,160,160"
VAL_SIZE = 2500            # 학습 세트에서 떼어 내는 검증 세트 (테스트 세트는 마지막에 한 번만)
CROP_PAD = 2               # 무작위 자르기: 가장자리를 2픽셀 넓혀 32×32를 다시 잘라 냄(최대 2픽셀 이동)
LOW_RES = 24               # 점진적 해상도: 학습 앞부분은 24×24로 줄여서 (ProgressiveResize 참고)
LOW_RES_FRACTION = 0.5     # 전체 에폭 중 줄인 해상도로 학습하는 비율 (앞쪽)
LABEL_SMOOTHING = 0.2
WEIGHT_DECAY = 5e-4
MIN_SCHEDULE_STEPS = 8     # 원사이클 스케줄의 최소 길이 (make_optimizer 참고)
QUICK_PER_CLASS = (200, 50)        # --quick: 클래스마다 앞에서부터 읽을 학습/테스트 파일 수
SMALL_WIDTHS = (16, 64, 64)        # 작은 모델: --quick 본 학습과 비교 실험(증강·전이 학습)용 — 본 학습에 시간을 남김
QUICK_EPOCHS, QUICK_BATCH = 4, 64   # --quick 본 학습: 1에폭(15단계)으로는 원사이클 워밍업만 하다 끝나 우연 수준
# 증강 on/off 비교 예산: 적은 이미지를 여러 번 볼수록 외워 버리는(과적합) 쪽이 드러납니다. 같은 계산량으로
# 이 CPU에서 잰 값: 2,500장×24에폭 증강 있음 0.676 / 없음 0.616 (너비 20/80/80; 16/64/64는 0.667 / 0.586),
# 10,000장×6에폭(20/80/80) 0.707 / 0.714 (아직 외우기 전이라 차이 없음).
COMPARE_SIZE, COMPARE_EPOCHS = 2500, 24
COMPARE_VAL_SIZE = 1000   # 비교 실험의 검증 곡선은 검증 세트 앞 1,000장으로 (에폭마다 재므로 시간을 아낌)
PRETRAIN_SIZE, PRETRAIN_EPOCHS = 10000, 5  # 전이 학습 대체 경로: 앞 5개 클래스로 사전 학습
FEW_PER_CLASS, FINETUNE_EPOCHS = 100, 20   # 뒤 5개 클래스에서 클래스마다 100장만 라벨이 있다고 가정
RESNET18_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"


# 1. 합성곱과 풀링을 직접 만들기 ------------------------------------------------
def conv_output_size(n: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """출력 크기 = ⌊(입력 + 2×패딩 - 커널) / 스트라이드⌋ + 1 (합성곱과 풀링이 같은 공식)."""
    return (n + 2 * padding - kernel) // stride + 1


def pad2d(x: torch.Tensor, padding: int, value: float = 0.0) -> torch.Tensor:
    """가장자리를 value로 채운 큰 텐서를 만들고 가운데에 x를 복사합니다."""
    if padding == 0:
        return x
    n, c, h, w = x.shape
    out = x.new_full((n, c, h + 2 * padding, w + 2 * padding), value)
    out[:, :, padding:padding + h, padding:padding + w] = x
    return out


def sliding_windows(x: torch.Tensor, kh: int, kw: int, stride: int) -> torch.Tensor:
    """(N,C,H,W) → (N,C,H_out,W_out,kh,kw): 출력 한 칸이 보는 창(window)을 복사 없이 한꺼번에 꺼냅니다."""
    return x.unfold(2, kh, stride).unfold(3, kw, stride)


def conv2d_manual(x, weight, bias=None, stride: int = 1, padding: int = 0):
    """다채널 2D 합성곱: 각 창과 필터를 곱해 (입력 채널·세로·가로에 대해) 모두 더합니다."""
    windows = sliding_windows(pad2d(x, padding), weight.shape[2], weight.shape[3], stride)
    out = torch.einsum("nchwij,ocij->nohw", windows, weight)  # o: 출력 채널(필터 하나가 채널 하나)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def max_pool2d_manual(x, kernel: int, stride: int | None = None, padding: int = 0):
    """최대 풀링: 창마다 가장 큰 값. 패딩은 -무한대로 채워 최댓값에 끼어들지 않게 합니다."""
    windows = sliding_windows(pad2d(x, padding, float("-inf")), kernel, kernel, stride or kernel)
    return windows.amax(dim=(-2, -1))


def avg_pool2d_manual(x, kernel: int, stride: int | None = None, padding: int = 0):
    """평균 풀링: 창마다 평균 (PyTorch 기본값처럼 0으로 채운 패딩도 개수에 넣습니다)."""
    windows = sliding_windows(pad2d(x, padding, 0.0), kernel, kernel, stride or kernel)
    return windows.mean(dim=(-2, -1))


def convolution_demo(seed: int) -> dict:
    """출력 크기 공식을 몇 가지 경우로 보여 주고, 직접 만든 연산을 PyTorch와 비교합니다."""
    print("  출력 크기 = ⌊(입력 + 2×패딩 - 커널) / 스트라이드⌋ + 1")
    for n, k, s, p in [(32, 3, 1, 1), (32, 3, 2, 1), (32, 5, 1, 0), (32, 2, 2, 0), (7, 3, 2, 0)]:
        print(f"    입력 {n:>2}, 커널 {k}, 스트라이드 {s}, 패딩 {p} → 출력 {conv_output_size(n, k, s, p)}")
    g = torch.Generator().manual_seed(seed)
    x, w, b = torch.randn(2, 3, 9, 9, generator=g), torch.randn(4, 3, 3, 3, generator=g), torch.randn(4, generator=g)
    diffs = {
        "conv2d": (conv2d_manual(x, w, b, 2, 1) - F.conv2d(x, w, b, stride=2, padding=1)).abs().max().item(),
        "max_pool2d": (max_pool2d_manual(x, 3, 2, 1) - F.max_pool2d(x, 3, 2, 1)).abs().max().item(),
        "avg_pool2d": (avg_pool2d_manual(x, 2) - F.avg_pool2d(x, 2)).abs().max().item(),
    }
    for name, d in diffs.items():
        print(f"  직접 만든 {name:<10} vs F.{name}: 최대 차이 {d:.1e}")
    print("  → 합성곱은 작은 필터를 이미지 위로 밀며(sliding) 같은 가중치를 재사용합니다 (파라미터 공유).")
    return diffs


# 2. CIFAR-10 읽기 (공식 파일 → JPEG 이미지 폴더 → 내려받기 → 대체 데이터) -----------
def official_present(root: Path) -> bool:
    folder = root / "cifar-10-batches-py"
    return all((folder / f).is_file() for f in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"])


def jpeg_present(root: Path) -> bool:
    return all((root / "cifar10" / split / c).is_dir() for split in ("train", "test") for c in CLASSES_EN)


def expected_files(root: Path) -> list[str]:
    return [str(root / "cifar-10-batches-py" / "data_batch_1 … test_batch"),
            f"또는 {root / 'cifar10' / 'train' / '<클래스>' / '*.jpg'} (+ test)"]


def download_dataset(root) -> bool:
    """강사용 미리 내려받기 (download_data.py가 부릅니다): 공식 tar.gz를 md5로 확인하고 풉니다."""
    from torchvision.datasets import CIFAR10

    root = Path(root)
    if official_present(root) or jpeg_present(root):
        return True
    archive = root / CIFAR10.filename
    if fetch_verified([CIFAR10.url], archive, CIFAR10.tgz_md5):
        safe_extract_tar(archive, root)
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
    """클래스 폴더(알파벳순 = 공식 라벨 순서)마다 파일을 이름순으로. limit이면 앞에서부터 그만큼만."""
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


def load_cifar10(args, cache_dir: Path) -> tuple[ImageData, str]:
    """CIFAR-10을 uint8 텐서로 한 번만 읽습니다. 돌려주는 값: (데이터, 사용한 사본 이름)."""
    root = resolve_data_dir(args.data_dir)
    per_class = QUICK_PER_CLASS if args.quick else None
    source = locate_dataset(args, "CIFAR-10", expected_files(root),
                            present=lambda: official_present(root) or jpeg_present(root),
                            download=lambda: download_dataset(root))
    if source == "fallback":
        n_train, n_test = (100, 20) if args.quick else (300, 30)
        data = ImageData(*pattern_stand_in(n_train, n_test, args.seed), classes=STAND_IN_CLASSES,
                         source=source, name="CIFAR-10 대체 데이터(생성한 무늬)")
        return data, "fallback"
    if official_present(root):
        parts, copy_name, label = read_official(root, per_class), "official", "CIFAR-10"
    else:
        parts, copy_name, label = read_jpeg_folder(root, per_class, cache_dir), "jpeg", "CIFAR-10 (JPEG 사본)"
    return ImageData(*parts, classes=CLASSES_KO, source=source, name=label), copy_name


# 3. 배치 단위 전처리와 데이터 증강 ------------------------------------------------
class BatchTransform:
    """uint8 배치 → 정규화한 실수 배치. augment=True면 무작위 자르기 + 좌우 뒤집기를 배치 통째로 합니다.

    이미지 한 장씩 PIL로 바꾸는 대신 텐서 연산 몇 번으로 끝내므로 CPU 시간을 거의 쓰지 않습니다.
    """

    def __init__(self, augment: bool = False, pad: int = CROP_PAD, seed: int = 0,
                 channels_last: bool = False, mean=CIFAR_MEAN, std=CIFAR_STD):
        self.augment, self.pad, self.channels_last = augment, pad, channels_last
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)
        self.generator = torch.Generator().manual_seed(seed)

    def random_crop(self, x: torch.Tensor) -> torch.Tensor:
        """가장자리를 거울처럼 pad픽셀 넓힌 뒤, 이미지마다 다른 위치에서 원래 크기만큼 잘라 냅니다."""
        n, _, h, w = x.shape
        padded = F.pad(x, (self.pad,) * 4, mode="reflect").permute(0, 2, 3, 1)    # (N,H+2p,W+2p,C)
        dy, dx = torch.randint(0, 2 * self.pad + 1, (2, n, 1), generator=self.generator)
        rows, cols = dy + torch.arange(h), dx + torch.arange(w)                     # (N,H), (N,W)
        crops = padded[torch.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
        return crops.permute(0, 3, 1, 2)

    def random_flip(self, x: torch.Tensor) -> torch.Tensor:
        """절반의 이미지를 좌우로 뒤집습니다 (위아래 뒤집기는 사진의 의미를 바꾸므로 쓰지 않음)."""
        flip = torch.rand(len(x), generator=self.generator) < 0.5
        return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)

    def __call__(self, x_uint8: torch.Tensor) -> torch.Tensor:
        x = (x_uint8.float() / 255.0 - self.mean) / self.std
        if self.augment:
            x = self.random_flip(self.random_crop(x))
        # channels_last(NHWC) 메모리 배치는 CPU/GPU의 합성곱 커널이 더 빨리 읽습니다.
        return x.contiguous(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)


def show_augmentations(image: torch.Tensor, path: Path, seed: int) -> Path:
    """한 장의 이미지에 증강을 여러 번 적용해 격자로: 라벨은 그대로, 모양만 조금씩 달라집니다."""
    t = BatchTransform(augment=True, seed=seed, mean=(0, 0, 0), std=(1, 1, 1))   # 학습과 같은 변환, 정규화만 뺌
    views = t(image.unsqueeze(0).repeat(15, 1, 1, 1))
    images = torch.cat([image.unsqueeze(0).float() / 255, views])
    return plot_image_grid(images, ["원본"] + [f"증강 {i + 1}" for i in range(15)], path,
                           title=f"데이터 증강: 무작위 자르기(최대 {CROP_PAD}픽셀 이동) + 좌우 뒤집기", ncols=8)


def low_res_epochs(epochs: int) -> int:
    """학습 앞쪽에서 LOW_RES 로 줄여 학습하는 에폭 수."""
    return int(epochs * LOW_RES_FRACTION)


class ProgressiveResize:
    """점진적 해상도(progressive resizing): 학습 앞부분은 이미지를 32→24로 줄여 빠르게, 뒷부분은 원래 크기로.

    24×24는 합성곱 연산량이 (24/32)² ≈ 0.56배라 같은 시간에 에폭을 더 돌 수 있습니다. 합성곱은 어떤 크기에도
    같은 필터를 쓰고 끝의 전역 풀링이 공간 크기를 없애므로 모델은 그대로입니다. 학습률이 내려가는 뒷부분은
    테스트와 같은 32×32로 학습해 크기 차이에 맞춥니다. 이 강의 CPU에서 측정: 너비 16/64/64·8에폭 중
    앞 4에폭을 24×24로 해도 정확도가 그대로(83.7% vs 83.7%)였고, 같은 시간이면 에폭을 늘릴 수 있어 더 높았습니다.
    지금이 몇 번째 에폭인지는 스케줄러가 밟은 단계 수로 알아내므로 --resume 으로 이어도 맞습니다.
    """

    def __init__(self, batches: TensorBatches, scheduler, low_res_epochs: int, size: int = LOW_RES):
        self.batches, self.scheduler = batches, scheduler
        self.low_res_epochs, self.size = low_res_epochs, size

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        low_res = self.scheduler.last_epoch // len(self.batches) < self.low_res_epochs
        for x, y in self.batches:
            if low_res:   # antialias: 줄일 때 생기는 계단 무늬(에일리어싱)를 막음
                x = F.interpolate(x, size=self.size, mode="bilinear", antialias=True, align_corners=False)
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, y


# 4. CNN 모델과 층별 요약 -------------------------------------------------------
def cpu_has_fast_bf16() -> bool:
    """CPU에 bfloat16 행렬 연산 장치(AMX)가 있는지. 없으면 bf16이 오히려 느립니다.

    AVX512-BF16만 있는 이 강의의 측정 CPU에서는 float32가 1.35배 빨랐습니다 (배치 512 한 단계 2.16초 vs 2.94초).
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return "amx_bf16" in flags.split()


class ConvBlock(nn.Sequential):
    """합성곱 → 최대 풀링(가로세로 절반) → 배치 정규화 → GELU → 합성곱 → 배치 정규화 → GELU."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),  # 바로 뒤 배치 정규화가 편향 역할을 하므로 bias 없음
            nn.MaxPool2d(2),
            nn.BatchNorm2d(c_out),
            nn.GELU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.GELU(),
        )


class CifarCNN(nn.Module):
    """짧은 예산에 맞춘 배치 정규화 CNN (ResNet-9 / airbench 계열을 단순화한 구조).

    32×32 → 줄기(stem) 합성곱 → 블록 3개(각각 해상도 절반: 16 → 8 → 4) → 전역 최대 풀링 → 선형 분류기.
    """

    def __init__(self, widths=(64, 256, 256), n_classes: int = 10):
        super().__init__()
        stem = max(widths[0] // 2, 8)
        self.widths = tuple(widths)
        self.stem = nn.Sequential(nn.Conv2d(3, stem, 3, padding=1, bias=False), nn.BatchNorm2d(stem), nn.GELU())
        self.blocks = nn.Sequential(ConvBlock(stem, widths[0]), ConvBlock(widths[0], widths[1]),
                                    ConvBlock(widths[1], widths[2]))
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(widths[2], n_classes, bias=False)
        self.logit_scale = 0.125   # 처음 로짓을 작게 → 초반 손실이 안정적이고 큰 학습률을 견딥니다
        self.use_bf16 = False      # CPU에서 bfloat16 자동 혼합 정밀도 (지원하는 CPU에서만 켭니다)

    def forward(self, x):
        # CUDA의 혼합 정밀도는 utils의 학습 루프가 켭니다. 여기서는 CPU의 bfloat16만 다룹니다.
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.use_bf16 and x.device.type == "cpu"):
            features = self.pool(self.blocks(self.stem(x))).flatten(1)
            logits = self.head(features) * self.logit_scale
        return logits.float()


class TestTimeAugment(nn.Module):
    """테스트 시 증강(TTA): 원본·좌우 뒤집기·1픽셀 이동한 모습들의 로짓을 가중 평균합니다 (추가 학습 없음).

    모두 학습 때 본 변환(뒤집기, 최대 2픽셀 이동)이라 모델이 같은 물체로 알아보고, 애매한 이미지에서는
    여러 모습의 평균이 한 번의 예측보다 안정적입니다. 이 강의 CPU에서 측정: 좌우 뒤집기 평균만으로 +1.2%p
    (너비 40/160/160·16에폭), 1픽셀 이동을 더하면 +0.3~0.6%p 더 (16/64/64·8에폭 실험 12번 모두).
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def flip_mean(self, x):
        return (self.model(x) + self.model(x.flip(3))) / 2

    def forward(self, x):
        padded = F.pad(x, (1, 1, 1, 1), mode="reflect")       # 가장자리를 거울처럼 1픽셀 넓혀
        window_up_left, window_down_right = padded[..., :-2, :-2], padded[..., 2:, 2:]  # 자르는 창을 대각선으로 1픽셀
        return (0.5 * self.flip_mean(x) + 0.25 * self.flip_mean(window_up_left)
                + 0.25 * self.flip_mean(window_down_right))


def build_model(widths, n_classes: int, device: torch.device) -> CifarCNN:
    model = CifarCNN(widths, n_classes).to(device).to(memory_format=torch.channels_last)
    model.use_bf16 = device.type == "cpu" and cpu_has_fast_bf16()
    return model


def layer_summary(model: nn.Module, input_shape=(1, 3, 32, 32)) -> list[dict]:
    """층마다 출력 모양·파라미터 수·곱셈-덧셈 횟수(MAC, FLOPs ≈ 2×MAC)를 hook으로 재서 표로 출력합니다."""
    rows, hooks = [], []

    def record(name):
        def hook(module, inputs, output):
            params = sum(p.numel() for p in module.parameters(recurse=False))
            macs = 0
            if isinstance(module, nn.Conv2d):   # 출력 한 칸마다 (입력 채널 × 커널 크기)번 곱하고 더함
                macs = output.numel() * module.in_channels * module.kernel_size[0] * module.kernel_size[1]
            elif isinstance(module, nn.Linear):
                macs = output.numel() * module.in_features
            rows.append({"layer": name, "type": type(module).__name__, "shape": tuple(output.shape[1:]),
                         "params": params, "macs": macs})
        return hook

    for name, module in model.named_modules():
        if len(list(module.children())) == 0:
            hooks.append(module.register_forward_hook(record(name)))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(input_shape, device=next(model.parameters()).device))
    model.train(was_training)
    for h in hooks:
        h.remove()
    print(f"  {'층':<16}{'종류':<14}{'출력 모양 (C,H,W)':<20}{'파라미터':>10}{'MFLOPs':>10}")
    for r in rows:
        print(f"  {r['layer']:<16}{r['type']:<14}{str(r['shape']):<20}{r['params']:>10,}{2 * r['macs'] / 1e6:>10.1f}")
    total_flops = 2 * sum(r["macs"] for r in rows)
    print(f"  합계: 파라미터 {count_parameters(model):,}개, 이미지 한 장 순전파 {total_flops / 1e6:.0f} MFLOPs"
          " (학습은 역전파까지 약 3배)")
    return rows


# 5. 짧은 예산용 학습 ---------------------------------------------------------------
def make_optimizer(model: nn.Module, lr: float, epochs: int, steps_per_epoch: int):
    """네스테로프 SGD + 원사이클: 앞 25% 동안 학습률을 올리고(워밍업) 이후 0 근처까지 선형으로 내립니다."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True,
                                weight_decay=WEIGHT_DECAY)
    # 몇 단계뿐인 아주 작은 실험(--quick·대체 데이터)에서는 워밍업 구간이 정확히 1단계가 되면 OneCycleLR 이
    # 0으로 나눕니다. 그래서 스케줄 길이를 최소 MIN_SCHEDULE_STEPS 로 잡습니다 (기본 실행은 수천 단계라 영향 없음).
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=max(epochs * steps_per_epoch, MIN_SCHEDULE_STEPS), pct_start=0.25,
        anneal_strategy="linear", div_factor=10.0, final_div_factor=100.0)
    return optimizer, scheduler


def train_cnn(model, train_xy, val_xy, *, epochs: int, lr: float, batch_size: int, augment: bool,
              seed: int, device, run=None, resume: bool = False, checkpoint_extra=None, name: str = ""):
    """하나의 학습 레시피를 모든 실험(본 학습, 증강 비교, 전이 학습)이 함께 씁니다."""
    batches = TensorBatches(*train_xy, batch_size, shuffle=True, seed=seed,
                            transform=BatchTransform(augment=augment, seed=seed, channels_last=True))
    val = TensorBatches(*val_xy, 1000, transform=BatchTransform(channels_last=True)) if val_xy else None
    optimizer, scheduler = make_optimizer(model, lr, epochs, len(batches))
    train = ProgressiveResize(batches, scheduler, low_res_epochs(epochs))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING)  # 정답에 0.8, 나머지에 고르게 0.2
    return fit(model, train, val, loss_fn, optimizer, device, epochs, scheduler=scheduler, run=run,
               resume=resume, checkpoint_extra=checkpoint_extra, name=name)


def test_accuracy(model, x, y, device, tta: bool = False) -> dict:
    """테스트 세트 평가. tta=True면 뒤집기·1픽셀 이동 평균(TestTimeAugment)으로 예측합니다."""
    batches = TensorBatches(x, y, 1000, transform=BatchTransform(channels_last=True))
    return evaluate(TestTimeAugment(model) if tta else model, batches, nn.CrossEntropyLoss(), device)


# 6. 모델이 무엇을 보는가: 틀린 예시, 필터, 특성 맵, Grad-CAM ---------------------------
def show_mistakes(data: ImageData, result: dict, path: Path) -> Path:
    wrong = (result["predictions"] != result["targets"]).nonzero().flatten()[:24]
    titles = [f"{data.classes[result['targets'][i]]}→{data.classes[result['predictions'][i]]}" for i in wrong]
    return plot_image_grid(data.test_x[wrong], titles, path, title="틀린 예시 (정답→예측)", ncols=8)


def show_filters(model: CifarCNN, path: Path) -> Path:
    """첫 합성곱 층의 3×3 컬러 필터: 색 대비나 방향이 있는 가장자리를 찾는 필터가 보입니다."""
    w = model.stem[0].weight.detach().float().cpu()
    lo, hi = w.amin(dim=(1, 2, 3), keepdim=True), w.amax(dim=(1, 2, 3), keepdim=True)
    w = (w - lo) / (hi - lo + 1e-8)   # 필터마다 0~1로 늘려 색으로 보이게
    return plot_image_grid(w, [f"필터 {i}" for i in range(len(w))], path,
                           title=f"첫 층 합성곱 필터 {len(w)}개 (3×3, RGB)", ncols=8)


@torch.no_grad()
def feature_maps(model: CifarCNN, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """한 장의 이미지가 층을 지나며 바뀌는 모습: 해상도는 줄고 채널(특성)은 늘어납니다."""
    model.eval()
    maps, h = [], x
    for name, layer in [("줄기(stem)", model.stem), *((f"블록 {i + 1}", b) for i, b in enumerate(model.blocks))]:
        h = layer(h)
        maps.append((name, h[0].float().cpu()))
    return maps


def show_feature_maps(model, image_uint8, label: str, path: Path, device, n_channels: int = 8) -> Path:
    x = BatchTransform(channels_last=True)(image_uint8.unsqueeze(0)).to(device)
    maps = feature_maps(model, x)
    fig, axes = new_figure(ncols=n_channels + 1, nrows=len(maps), size=(1.3, 1.4))
    for row, (name, fmap) in enumerate(maps):
        axes[row, 0].imshow(image_uint8.permute(1, 2, 0).numpy())
        axes[row, 0].set_title(f"입력 ({label})" if row == 0 else "", fontsize=8)
        strongest = fmap.mean(dim=(1, 2)).argsort(descending=True)[:n_channels]   # 가장 많이 켜진 채널
        for col, ch in enumerate(strongest.tolist(), start=1):
            axes[row, col].imshow(fmap[ch].numpy(), cmap="viridis")
            axes[row, col].set_title(f"{name} 채널 {ch}\n{fmap.shape[1]}×{fmap.shape[2]}", fontsize=7)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle("층별 특성 맵: 앞쪽은 가장자리·색, 뒤쪽은 더 작고 추상적인 특징")
    return save_figure(fig, path)


def grad_cam(model: CifarCNN, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Grad-CAM: 블록 2의 특성 맵(8×8)에 '정답 점수의 그래디언트 평균'을 가중치로 곱해 더합니다.

    어느 위치의 특징이 정답 점수를 올렸는지가 열지도(heatmap)로 나타납니다. 돌려주는 값: (N,32,32), 0~1.
    """
    model.eval()
    with torch.enable_grad():
        h = model.blocks[1](model.blocks[0](model.stem(x))).float()
        h.retain_grad()
        logits = model.head(model.pool(model.blocks[2](h)).flatten(1))
        logits.gather(1, target.view(-1, 1)).sum().backward()
    weights = h.grad.mean(dim=(2, 3), keepdim=True)           # 채널별 중요도
    cam = F.relu((weights * h).sum(dim=1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    cam = cam / (cam.amax(dim=(1, 2), keepdim=True) + 1e-8)
    model.zero_grad(set_to_none=True)
    return cam.cpu()


def show_grad_cam(model, data: ImageData, path: Path, device, n: int = 8) -> Path:
    idx = torch.arange(n) * (len(data.test_y) // n)   # 여러 클래스가 섞이도록 고르게 뽑기
    images, labels = data.test_x[idx], data.test_y[idx]
    cams = grad_cam(model, BatchTransform(channels_last=True)(images).to(device), labels.to(device))
    fig, axes = new_figure(ncols=n, nrows=2, size=(1.5, 1.6))
    for i in range(n):
        rgb = images[i].permute(1, 2, 0).numpy()
        axes[0, i].imshow(rgb)
        axes[0, i].set_title(data.classes[labels[i]], fontsize=8)
        axes[1, i].imshow(rgb)
        axes[1, i].imshow(cams[i].numpy(), cmap="jet", alpha=0.45)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle("Grad-CAM: 정답 클래스 점수에 크게 기여한 위치 (빨강일수록 큼)")
    return save_figure(fig, path)


# 7. 데이터 증강의 효과 측정 (같은 모델·같은 예산, 증강만 다르게) ----------------------
def compare_augmentation(data: ImageData, train_xy, val_xy, args, device, widths, size: int, epochs: int) -> dict:
    """부분집합은 검증 세트를 뗀 학습 세트에서 고릅니다 (검증 곡선이 본 적 없는 이미지로 재도록)."""
    x, y = take_subset(*train_xy, size, seed=args.seed)
    results, histories = {}, {}
    for augment in (True, False):
        torch.manual_seed(args.seed)    # 같은 초기 가중치
        model = build_model(widths, len(data.classes), device)
        label = "증강 있음" if augment else "증강 없음"
        histories[label] = train_cnn(model, (x, y), val_xy, epochs=epochs, lr=args.lr,
                                     batch_size=min(args.batch_size, 256), augment=augment, seed=args.seed,
                                     device=device, name=f"[{label}] ")
        results[augment] = test_accuracy(model, data.test_x, data.test_y, device)["accuracy"]
    print(f"  학습 {len(y):,}장 × {epochs}에폭: 증강 있음 {results[True]:.4f} / 증강 없음 {results[False]:.4f}")
    return {"aug_accuracy": results[True], "noaug_accuracy": results[False], "histories": histories,
            "aug_compare_train_size": len(y), "aug_compare_epochs": epochs}


# 8. 전이 학습: 사전 학습한 특징을 적은 라벨로 미세 조정 --------------------------------
def choose_transfer_path(allow_download: bool) -> str:
    """'imagenet_resnet18' (가중치가 캐시에 있거나 받을 수 있을 때) 또는 'cifar5_standin'."""
    reason = fetch_hub_weights(RESNET18_URL, allow_download)
    if reason is None:
        return "imagenet_resnet18"
    print(f"  ImageNet 가중치를 쓸 수 없습니다: {reason}")
    return "cifar5_standin"


def few_labels(x, y, classes: list[int], per_class: int):
    """classes의 각 클래스에서 앞의 per_class장만 고르고 라벨을 0부터 다시 매깁니다."""
    keep = torch.cat([(y == c).nonzero().flatten()[:per_class] for c in classes])
    remap = torch.full((int(y.max()) + 1,), -1, dtype=torch.long)
    remap[torch.tensor(classes)] = torch.arange(len(classes))
    return x[keep], remap[y[keep]]


def finetune_vs_scratch(pretrained: nn.Module, scratch: nn.Module, few_xy, test_xy, args, device,
                        epochs: int) -> tuple[float, float]:
    """같은 구조·같은 적은 라벨·같은 학습 설정으로: 사전 학습 가중치에서 시작 vs 무작위 초기값에서 시작."""
    accs = []
    for label, model in [("미세 조정", pretrained), ("처음부터", scratch)]:
        train_cnn(model, few_xy, None, epochs=epochs, lr=args.lr / 4, batch_size=64, augment=True,
                  seed=args.seed, device=device, name=f"[{label}] ")
        accs.append(test_accuracy(model, *test_xy, device)["accuracy"])
    return accs[0], accs[1]


class ResizeForResNet(nn.Module):
    """32×32 CIFAR 이미지를 64×64로 키워 ResNet-18(ImageNet 224×224용)에 넣습니다."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(F.interpolate(x, size=64, mode="bilinear", align_corners=False))


def imagenet_transfer(data: ImageData, args, device, few_per_class: int, epochs: int) -> dict:
    """가중치가 있을 때: ImageNet ResNet-18을 CIFAR-10의 적은 라벨로 미세 조정 vs 같은 구조를 처음부터."""
    from torchvision.models import resnet18

    classes = list(range(len(data.classes)))
    few = few_labels(data.train_x, data.train_y, classes, few_per_class)
    test = take_subset(data.test_x, data.test_y, 2000, seed=args.seed)
    pretrained = resnet18()
    pretrained.load_state_dict(load_checkpoint(hub_weights_path(RESNET18_URL)))
    pretrained.fc = nn.Linear(pretrained.fc.in_features, len(classes))   # 1000개 → 10개 클래스 머리만 새로
    torch.manual_seed(args.seed)
    scratch = resnet18(num_classes=len(classes))
    models = [ResizeForResNet(m).to(device).to(memory_format=torch.channels_last) for m in (pretrained, scratch)]
    transfer, scratch_acc = finetune_vs_scratch(*models, few, test, args, device, epochs)
    return {"transfer_accuracy": transfer, "scratch_accuracy": scratch_acc,
            "transfer_labels_per_class": few_per_class, "transfer_classes": len(classes),
            "finetune_epochs": epochs, "transfer_test_size": len(test[1])}


def cifar5_transfer(data: ImageData, args, device, widths, pretrain_size: int, pretrain_epochs: int,
                    few_per_class: int, epochs: int) -> dict:
    """가중치가 없을 때의 대체 경로: 앞 5개 클래스로 사전 학습 → 뒤 5개 클래스를 적은 라벨로 미세 조정."""
    source, target = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]
    src_x, src_y = few_labels(data.train_x, data.train_y, source, pretrain_size // len(source))
    torch.manual_seed(args.seed)
    pretrained = build_model(widths, len(source), device)
    print(f"  사전 학습: {', '.join(data.classes[c] for c in source)} ({len(src_y):,}장, {pretrain_epochs}에폭)")
    train_cnn(pretrained, (src_x, src_y), None, epochs=pretrain_epochs, lr=args.lr,
              batch_size=min(args.batch_size, 256), augment=True, seed=args.seed, device=device, name="[사전 학습] ")
    pretrained.head = nn.Linear(widths[2], len(target), bias=False).to(device)  # 분류기 머리만 새로 붙임
    torch.manual_seed(args.seed + 1)
    scratch = build_model(widths, len(target), device)
    few = few_labels(data.train_x, data.train_y, target, few_per_class)
    test = few_labels(data.test_x, data.test_y, target, len(data.test_y))
    print(f"  미세 조정 대상: {', '.join(data.classes[c] for c in target)} (클래스마다 {few_per_class}장)")
    transfer, scratch_acc = finetune_vs_scratch(pretrained, scratch, few, test, args, device, epochs)
    return {"transfer_accuracy": transfer, "scratch_accuracy": scratch_acc,
            "transfer_labels_per_class": few_per_class, "transfer_classes": len(target),
            "finetune_epochs": epochs, "transfer_test_size": len(test[1]),
            "pretrain_train_size": len(src_y), "pretrain_epochs": pretrain_epochs}


# 9. 내 사진으로 예측하기 (--predict) ---------------------------------------------
def predict(args, run) -> list[dict]:
    """저장된 체크포인트로 학습자의 사진(크기·형식 무관)을 32×32로 줄여 분류하고 상위 3개를 보여 줍니다."""
    state = load_checkpoint(run.checkpoint_path, map_location=run.device)
    if "widths" not in state or "classes" not in state:
        raise CourseError(f"이 레슨의 체크포인트가 아닙니다: {run.checkpoint_path}")
    model = build_model(tuple(state["widths"]), len(state["classes"]), run.device)
    model.load_state_dict(state["model"])
    paths, images = load_user_images(args.predict, size=32, channels=3, dark_background=False)
    return print_predictions(model, images, paths, state["classes"], run.device,
                             BatchTransform(channels_last=True))


# 실행 순서 ---------------------------------------------------------------------
def parse_widths(text: str) -> tuple[int, int, int]:
    try:
        widths = tuple(int(v) for v in text.split(","))
    except ValueError:
        widths = ()
    if len(widths) != 3 or min(widths) < 1:
        raise CourseError(f"--widths 는 쉼표로 구분한 양의 정수 3개여야 합니다 (예: 64,256,256). 받은 값: {text!r}")
    return widths


def build_parser():
    p = make_parser(LESSON, "CNN으로 CIFAR-10 분류: 합성곱·풀링·특성 맵·데이터 증강·전이 학습",
                    epochs=23, batch_size=128, lr=0.2)
    p.add_argument("--widths", default=DEFAULT_WIDTHS,
                   help=f"세 블록의 채널 수 (기본 {DEFAULT_WIDTHS}; 작게 하면 빠르지만 정확도가 내려감)")
    add_threads_option(p)
    p.add_argument("--no-tta", action="store_true", help="테스트 시 증강(뒤집기·1픽셀 이동 평균)을 쓰지 않음")
    p.add_argument("--predict", nargs="+", metavar="IMAGE",
                   help="저장된 모델로 사진 파일(또는 폴더)을 분류 (--quick과 함께 쓰면 quick 체크포인트 사용)")
    return p


def summarize_curve(history: dict) -> list[list[float]]:
    """[누적 학습 초, 검증 정확도] 목록: 정확도가 시간에 따라 어떻게 올랐는지 결과에 남깁니다."""
    seconds = np.cumsum(history["epoch_seconds"])
    return [[round(float(s), 1), round(float(a), 4)] for s, a in zip(seconds, history["val_accuracy"])]


@lesson_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    widths = parse_widths(args.widths)
    run = start_run(LESSON, args, argv)
    if args.predict:
        predict(args, run)
        return
    with cpu_threads(args.threads):
        train_and_report(args, run, widths)


def train_and_report(args, run, widths):
    """레슨의 본 흐름: 손으로 만든 합성곱 → 데이터 → 모델 → 학습 → 평가·그림 → 비교 실험 → metrics.json."""
    print("\n# 1. 합성곱과 풀링을 직접 만들기")
    convolution_demo(args.seed)

    print("\n# 2. CIFAR-10 불러오기 (uint8 텐서로 한 번만 디코딩)")
    data, cifar_copy = load_cifar10(args, Path(args.out_dir) / "cache")
    if args.quick:
        widths, args.epochs = SMALL_WIDTHS, QUICK_EPOCHS
        args.batch_size = min(args.batch_size, QUICK_BATCH)
    val_size = min(VAL_SIZE, len(data.train_y) // 10)
    train_x, train_y, val_x, val_y = split_train_val(data.train_x, data.train_y, val_size / len(data.train_y),
                                                     args.seed)
    print(f"  {data.name}: 학습 {len(train_y):,}장 + 검증 {len(val_y):,}장, 테스트 {len(data.test_y):,}장"
          f" (출처: {data.source}, 사본: {cifar_copy})")
    plot_image_grid(data.train_x[:16], [data.classes[i] for i in data.train_y[:16]], run.path("samples.png"),
                    title="학습 데이터 예시")

    print("\n# 3. 데이터 증강: 배치 단위 무작위 자르기 + 좌우 뒤집기")
    show_augmentations(data.train_x[0], run.path("augmentation.png"), args.seed)

    print("\n# 4. CNN 모델: 층마다 출력 모양·파라미터·연산량")
    torch.manual_seed(args.seed)
    model = build_model(widths, len(data.classes), run.device)
    summary = layer_summary(model)
    print(f"  계산: {run.device}, channels_last"
          + (", bfloat16 자동 혼합 정밀도(AMX CPU)" if model.use_bf16 else ""))

    n_low_res = low_res_epochs(args.epochs)
    print(f"\n# 5. 본 학습: {args.epochs}에폭 (앞 {n_low_res}에폭은 {LOW_RES}×{LOW_RES}),"
          f" 배치 {args.batch_size}, 최대 학습률 {args.lr}")
    t0 = time.perf_counter()
    history = train_cnn(model, (train_x, train_y), (val_x, val_y), epochs=args.epochs, lr=args.lr,
                        batch_size=args.batch_size, augment=True, seed=args.seed, device=run.device, run=run,
                        resume=args.resume, checkpoint_extra={"classes": data.classes, "widths": list(widths)})
    train_seconds = time.perf_counter() - t0
    plain = test_accuracy(model, data.test_x, data.test_y, run.device)
    test = plain if args.no_tta else test_accuracy(model, data.test_x, data.test_y, run.device, tta=True)
    print(f"  테스트 정확도: {plain['accuracy']:.4f}"
          + ("" if args.no_tta else f" → 뒤집기·이동 평균(TTA) {test['accuracy']:.4f}")
          + f"  (학습 {train_seconds / 60:.1f}분, 시작부터 {run.elapsed() / 60:.1f}분)")
    plot_learning_curves({"CNN": history}, run.path("learning_curves.png"),
                         title=f"CIFAR-10 CNN 학습 곡선 (앞 {n_low_res}에폭은 {LOW_RES}×{LOW_RES}로 학습, 검증은 32×32)")
    cm = confusion_matrix(test["targets"], test["predictions"], len(data.classes))
    plot_confusion_matrix(cm, data.classes, run.path("confusion_matrix.png"), title="CIFAR-10 혼동 행렬")
    show_mistakes(data, test, run.path("mistakes.png"))

    print("\n# 6. 모델이 무엇을 보는가: 필터, 특성 맵, Grad-CAM")
    show_filters(model, run.path("filters.png"))
    show_feature_maps(model, data.test_x[0], data.classes[data.test_y[0]], run.path("feature_maps.png"), run.device)
    show_grad_cam(model, data, run.path("grad_cam.png"), run.device)

    print("\n# 7. 데이터 증강의 효과 (같은 모델·같은 예산, 증강만 on/off)")
    aug = compare_augmentation(data, (train_x, train_y), (val_x[:COMPARE_VAL_SIZE], val_y[:COMPARE_VAL_SIZE]),
                               args, run.device, SMALL_WIDTHS,
                               size=min(COMPARE_SIZE, len(train_y)), epochs=1 if args.quick else COMPARE_EPOCHS)
    plot_learning_curves(aug.pop("histories"), run.path("augmentation_compare.png"),
                         title="데이터 증강 있음 vs 없음 (같은 예산)")

    print("\n# 8. 전이 학습: 사전 학습한 특징 + 적은 라벨")
    transfer_path = choose_transfer_path(allow_download=not args.no_download)
    few = 10 if args.quick else FEW_PER_CLASS
    if transfer_path == "imagenet_resnet18":
        print("  [경로] ImageNet으로 학습한 ResNet-18 가중치를 찾았습니다 → 미세 조정 vs 처음부터")
        transfer = imagenet_transfer(data, args, run.device, few, 1 if args.quick else FINETUNE_EPOCHS // 2)
    else:
        print("  [경로] ResNet-18 사전 학습 가중치가 없습니다 (오프라인) → 대체 실험: "
              "CIFAR-10 앞 5개 클래스로 사전 학습한 CNN을 뒤 5개 클래스에 미세 조정")
        transfer = cifar5_transfer(data, args, run.device, SMALL_WIDTHS,
                                   pretrain_size=len(train_y) // 2 if args.quick else PRETRAIN_SIZE,
                                   pretrain_epochs=1 if args.quick else PRETRAIN_EPOCHS,
                                   few_per_class=few, epochs=2 if args.quick else FINETUNE_EPOCHS)
    print(f"  미세 조정 {transfer['transfer_accuracy']:.4f} vs 처음부터 {transfer['scratch_accuracy']:.4f}")
    plot_bars({"증강 있음": aug["aug_accuracy"], "증강 없음": aug["noaug_accuracy"],
               "미세 조정": transfer["transfer_accuracy"], "처음부터": transfer["scratch_accuracy"]},
              run.path("comparisons.png"), title="작은 예산 비교 실험의 테스트 정확도", ylabel="정확도")

    metrics = {
        "test_accuracy": round(test["accuracy"], 4),
        "test_accuracy_no_tta": round(plain["accuracy"], 4),
        "test_loss": round(plain["loss"], 4),
        "val_accuracy": round(history["val_accuracy"][-1], 4),
        "train_seconds": round(train_seconds, 1),
        "wall_seconds": round(run.elapsed(), 1),
        "accuracy_vs_train_seconds": summarize_curve(history),
        "widths": list(widths),
        "parameters": count_parameters(model),
        "forward_mflops": round(2 * sum(r["macs"] for r in summary) / 1e6, 1),
        "bf16_autocast": model.use_bf16,
        "cifar_copy": cifar_copy,
        "compare_widths": list(SMALL_WIDTHS),
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in aug.items()},
        "transfer_path": transfer_path,
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in transfer.items()},
    }
    run.write_metrics(dataset=data.name, data_source=data.source, epochs=args.epochs,
                      n_train=len(train_y), n_test=len(data.test_y), metrics=metrics)
    print(f"  그림: {run.out}/*.png, 체크포인트: {run.checkpoint_path}")


if __name__ == "__main__":
    main()
