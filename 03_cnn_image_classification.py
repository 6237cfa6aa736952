# %% [markdown]
# # 03. CNN 이미지 분류 — 합성곱·풀링·특성 맵·데이터 증강·전이 학습으로 CIFAR-10 분류
#
# **학습 목표**
# - 합성곱(convolution)과 풀링(pooling)을 텐서 연산만으로 직접 만들고 출력 크기 공식을 확인합니다.
# - 배치 정규화(batch normalization)를 쓴 CNN을 CIFAR-10 전체로 학습해 2코어 CPU에서 30분 안에
#   테스트 정확도 90%에 도전한다 (이 강의의 측정 CPU에서 낸 값은 `docs/RESULTS.md`).
# - 첫 층 필터, 층별 특성 맵(feature map), Grad-CAM으로 모델이 무엇을 보는지 들여다봅니다.
# - 데이터 증강(data augmentation)과 전이 학습(transfer learning)의 효과를 '주장'이 아니라 측정으로 확인합니다.
# - 짧은 예산에서 더 빠르고 정확하게 학습하는 요령(점진적 해상도, 테스트 시 증강, channels_last·bfloat16)을 익힙니다.
#
# **데이터셋**: CIFAR-10 (32×32 컬러 사진 10종, 학습 50,000장 / 테스트 10,000장).
# 데이터 루트에 torchvision 공식 `cifar-10-batches-py/` 가 있으면 그것을, 없으면 이미지 폴더
# `cifar10/{train,test}/<클래스>/*.jpg` (JPEG 사본)를 읽습니다. 둘 다 없으면 공식 파일을 체크섬과 함께
# 내려받고, 그것도 안 되면 눈에 띄는 안내와 함께 생성한 무늬 이미지(10종)로 대신합니다
# (`utils/datasets/cifar10.py`). 어떤 사본을 썼는지는 metrics.json 의 `cifar_copy`("official" | "jpeg" | "fallback")에 남습니다.
#
# **핵심 개념**: 합성곱(커널·채널·스트라이드·패딩), 출력 크기 공식, 최대/평균 풀링, 특성 맵, 배치 정규화, GELU,
# 파라미터 수와 연산량(FLOPs), 네스테로프 SGD, 원사이클 학습률, 레이블 스무딩, 가중치 감쇠(weight decay),
# 데이터 증강(무작위 자르기·좌우 뒤집기), 혼동 행렬, Grad-CAM, 전이 학습과 미세 조정(fine-tuning),
# 점진적 해상도(progressive resizing), 테스트 시 증강(TTA), 채널 마지막(channels_last)·bfloat16
#
# **실행 방법**
# ```
# python 03_cnn_image_classification.py                   # 전체 학습 (CIFAR-10)
# python 03_cnn_image_classification.py --quick           # 작은 부분집합으로 몇 초 만에 흐름만 확인
# python 03_cnn_image_classification.py --predict 사진.jpg  # 저장된 모델로 내 사진 분류 (상위 3개)
# python 03_cnn_image_classification.py --epochs 20 --widths 96,384,384   # GPU에서 더 길게 (93% 이상 목표)
# ```
# 노트북(`notebooks/03_cnn_image_classification.ipynb`)에서는 아래 매개변수 셀의 `QUICK` 으로 고릅니다.
#
# **예상 시간** (측정값은 `docs/RESULTS.md`): 2코어 CPU에서 전체 실행 약 29분, `--quick` 은 20초 안팎.

# %%
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from utils.chapter import section, start_chapter
from utils.data_utils import (ImageData, TensorBatches, fetch_hub_weights, hub_weights_path, load_user_images,
                              split_train_val, take_subset)
from utils.datasets import cifar10
from utils.distributed import save_once
from utils.model_utils import (CourseError, add_threads_option, count_parameters, cpu_threads, evaluate, fit,
                               load_checkpoint, make_parser, print_predictions)
from utils.visualization import (confusion_matrix, new_figure, plot_bars, plot_confusion_matrix, plot_image_grid,
                                 plot_learning_curves, save_figure)

# %% tags=["parameters"]
QUICK = False      # True: 작은 부분집합과 짧은 학습으로 몇 초 만에 흐름만 확인
DATA_DIR = None    # 데이터 루트 (None: 환경 변수 DL_DATA_DIR, 없으면 ./data)
OUT_DIR = "runs"   # 그림·체크포인트·metrics.json 을 둘 곳

# %% [markdown]
# 실행 설정: 스크립트로 실행하면 명령행 옵션(`--quick`, `--widths`, `--threads` …)을, 노트북에서는 위 매개변수 셀을 씁니다.
# 시드를 고정하고 장치(CPU/GPU)와 결과 폴더, CPU 스레드 수를 정합니다.

# %%
LESSON = "03_cnn_image_classification"
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)  # 학습 세트 전체의 채널별 평균·표준편차 (널리 쓰는 값)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
DEFAULT_WIDTHS = "40,160,160"
VAL_SIZE = 2500            # 학습 세트에서 떼어 내는 검증 세트 (테스트 세트는 마지막에 한 번만)
CROP_PAD = 2               # 무작위 자르기: 가장자리를 2픽셀 넓혀 32×32를 다시 잘라 냄(최대 2픽셀 이동)
LABEL_SMOOTHING = 0.2
WEIGHT_DECAY = 5e-4
MIN_SCHEDULE_STEPS = 8     # 원사이클 스케줄의 최소 길이 (make_optimizer 참고)
LOW_RES = 24               # 점진적 해상도: 학습 앞부분은 24×24로 줄여서 (6절 ProgressiveResize)
LOW_RES_FRACTION = 0.5     # 전체 에폭 중 줄인 해상도로 학습하는 비율 (앞쪽)
SMALL_WIDTHS = (16, 64, 64)        # 작은 모델: --quick 본 학습과 비교 실험(증강·전이 학습)용 — 본 학습에 시간을 남김
QUICK_EPOCHS, QUICK_BATCH = 4, 64   # --quick 본 학습: 1에폭(15단계)으로는 원사이클 워밍업만 하다 끝나 우연 수준
# 증강 on/off 비교 예산: 적은 이미지를 여러 번 볼수록 외워 버리는(과적합) 쪽이 드러납니다. 같은 계산량으로
# 이 CPU에서 잰 값: 2,500장×24에폭 증강 있음 0.676 / 없음 0.616 (너비 20/80/80; 16/64/64는 0.667 / 0.586),
# 10,000장×6에폭(20/80/80) 0.707 / 0.714 (아직 외우기 전이라 차이 없음).
COMPARE_SIZE, COMPARE_EPOCHS = 2500, 24
COMPARE_VAL_SIZE = 1000   # 비교 실험의 검증 곡선은 검증 세트 앞 1,000장으로 (에폭마다 재므로 시간을 아낌)
PRETRAIN_SIZE, PRETRAIN_EPOCHS = 10000, 5  # 전이 학습 대체 경로: 앞 5개 클래스로 사전 학습
FEW_PER_CLASS, FINETUNE_EPOCHS = 100, 20   # 뒤 5개 클래스에서 클래스마다 100장만 레이블이 있다고 가정
RESNET18_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"


def build_parser():
    p = make_parser(f"{LESSON}.py", "CNN으로 CIFAR-10 분류: 합성곱·풀링·특성 맵·데이터 증강·전이 학습",
                    epochs=23, batch_size=128, lr=0.2)
    p.add_argument("--widths", default=DEFAULT_WIDTHS,
                   help=f"세 블록의 채널 수 (기본 {DEFAULT_WIDTHS}; 작게 하면 빠르지만 정확도가 내려감)")
    add_threads_option(p)
    p.add_argument("--no-tta", action="store_true", help="테스트 시 증강(뒤집기·1픽셀 이동 평균)을 쓰지 않음")
    p.add_argument("--predict", nargs="+", metavar="IMAGE",
                   help="저장된 모델(전체 학습의 체크포인트)로 사진 파일(또는 폴더)을 분류")
    return p


def parse_widths(text: str) -> tuple[int, int, int]:
    try:
        widths = tuple(int(v) for v in text.split(","))
    except ValueError:
        widths = ()
    if len(widths) != 3 or min(widths) < 1:
        raise CourseError(f"--widths 는 쉼표로 구분한 양의 정수 3개여야 합니다 (예: 64,256,256). 받은 값: {text!r}")
    return widths


# %%
if __name__ == "__main__":
    args, run = start_chapter(LESSON, build_parser(), quick=QUICK, data_dir=DATA_DIR, out_dir=OUT_DIR,
                              actions={"predict": "predict"})
    widths = parse_widths(args.widths)
    threads = ExitStack()   # CPU 스레드 수를 장 끝까지 한 번 정해 두고, 11절에서 원래대로 돌려놓습니다
    threads.enter_context(cpu_threads(args.threads))

# %% [markdown]
# ## 1. 합성곱과 풀링을 직접 만들기
# 합성곱은 작은 필터(커널)를 이미지 위로 밀며, 각 위치에서 창(window)과 필터를 곱해 모두 더합니다.
# 출력 채널 $o$, 위치 $(h, w)$ 의 값은
# $$y_{o,h,w} = b_o + \sum_{c}\sum_{i}\sum_{j} x_{c,\;hs+i,\;ws+j}\; W_{o,c,i,j}$$
# ($s$: 스트라이드, $x$ 는 가장자리를 패딩 $p$ 만큼 넓힌 입력). 같은 필터를 모든 위치에서 다시 쓰므로(파라미터 공유)
# 완전 연결 층보다 파라미터가 훨씬 적습니다. 출력 크기는 합성곱과 풀링이 같은 공식을 따릅니다:
# $$n_\text{out} = \left\lfloor \frac{n + 2p - k}{s} \right\rfloor + 1$$
# 아래에서는 `unfold` 로 모든 창을 복사 없이 꺼내고 `einsum` 으로 곱해 더해, PyTorch의 `F.conv2d` 와 비교합니다.
# 풀링은 창마다 가장 큰 값(최대 풀링) 또는 평균(평균 풀링)을 골라 해상도를 줄입니다.

# %%
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


# %%
if __name__ == "__main__":
    section("1. 합성곱과 풀링을 직접 만들기")
    convolution_demo(args.seed)

# %% [markdown]
# ## 2. CIFAR-10 불러오기
# 이미지를 uint8 텐서 `(N, 3, 32, 32)` 로 한 번만 읽어(JPEG 사본이면 디코딩 결과를 캐시) 메모리에 두고,
# 배치마다 잘라 씁니다. 학습 세트에서 2,500장을 검증 세트로 떼어 학습 중 진행을 재고,
# 테스트 세트는 마지막에 한 번만 씁니다. 찾기·내려받기·대체 데이터는 `utils/datasets/cifar10.py` 가 맡습니다.

# %%
def training_split(data: ImageData, seed: int):
    """학습 세트에서 검증 세트(VAL_SIZE 장, 작은 데이터면 10 %)를 떼어 (train_x, train_y, val_x, val_y)."""
    val_size = min(VAL_SIZE, len(data.train_y) // 10)
    return split_train_val(data.train_x, data.train_y, val_size / len(data.train_y), seed)


# %%
if __name__ == "__main__":
    section("2. CIFAR-10 불러오기 (uint8 텐서로 한 번만 디코딩)")
    data, cifar_copy = cifar10.load(args)
    if args.quick:
        widths, args.epochs = SMALL_WIDTHS, QUICK_EPOCHS
        args.batch_size = min(args.batch_size, QUICK_BATCH)
    train_x, train_y, val_x, val_y = training_split(data, args.seed)
    print(f"  {data.name}: 학습 {len(train_y):,}장 + 검증 {len(val_y):,}장, 테스트 {len(data.test_y):,}장"
          f" (출처: {data.source}, 사본: {cifar_copy})")
    plot_image_grid(data.train_x[:16], [data.classes[i] for i in data.train_y[:16]], run.path("samples.png"),
                    title="학습 데이터 예시")

# %% [markdown]
# ## 3. 데이터 증강: 무작위 자르기와 좌우 뒤집기
# 학습 이미지를 조금씩 바꿔(가장자리를 거울처럼 2픽셀 넓혀 다시 자르기 = 최대 2픽셀 이동, 절반은 좌우 뒤집기)
# 보여 주면 모델은 같은 사진을 외우는 대신 '조금 움직이거나 뒤집혀도 같은 물체'라는 성질을 배웁니다.
# 레이블은 그대로입니다. 이미지 한 장씩 PIL로 바꾸는 대신 배치 전체를 텐서 연산 몇 번으로 처리하므로 CPU 시간을 거의
# 쓰지 않습니다. 픽셀은 채널별 평균·표준편차로 정규화합니다: $\hat{x} = (x/255 - \mu_c)/\sigma_c$.

# %%
class BatchTransform:
    """uint8 배치 → 정규화한 실수 배치. augment=True면 무작위 자르기 + 좌우 뒤집기를 배치 통째로 합니다."""

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
        # channels_last(NHWC) 메모리 배치는 합성곱 커널이 더 빨리 읽습니다 (6절).
        return x.contiguous(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)


def show_augmentations(image: torch.Tensor, path: Path, seed: int) -> Path:
    """한 장의 이미지에 증강을 여러 번 적용해 격자로: 레이블은 그대로, 모양만 조금씩 달라집니다."""
    t = BatchTransform(augment=True, seed=seed, mean=(0, 0, 0), std=(1, 1, 1))   # 학습과 같은 변환, 정규화만 뺌
    views = t(image.unsqueeze(0).repeat(15, 1, 1, 1))
    images = torch.cat([image.unsqueeze(0).float() / 255, views])
    return plot_image_grid(images, ["원본"] + [f"증강 {i + 1}" for i in range(15)], path,
                           title=f"데이터 증강: 무작위 자르기(최대 {CROP_PAD}픽셀 이동) + 좌우 뒤집기", ncols=8)


# %%
if __name__ == "__main__":
    section("3. 데이터 증강: 배치 단위 무작위 자르기 + 좌우 뒤집기")
    show_augmentations(data.train_x[0], run.path("augmentation.png"), args.seed)
    print(f"  원본 한 장({data.classes[data.train_y[0]]})에 같은 증강을 15번: {run.path('augmentation.png')}")

# %% [markdown]
# ## 4. CNN 모델: 특성 맵의 크기·파라미터·연산량
# 블록마다 `합성곱 → 최대 풀링 → 배치 정규화 → GELU → 합성곱 → 배치 정규화 → GELU` 입니다. 풀링이 특성 맵(feature map)의
# 가로세로를 절반으로 줄이는 동안(32 → 16 → 8 → 4) 채널 수(특성의 종류)는 늘어나, 뒤쪽 층일수록 넓은 영역을 보는
# 추상적인 특징을 담습니다. 배치 정규화는 층 출력을 배치 평균 0·분산 1 근처로 맞춰 큰 학습률에서도 학습을 안정시킵니다.
# 마지막에 전역 최대 풀링이 공간 크기를 없애고 선형 층이 10개 클래스의 점수(로짓)를 냅니다.
# 합성곱 한 층의 곱셈-덧셈 횟수(MAC)는 $H_\text{out} W_\text{out} C_\text{out} \times C_\text{in} k^2$ (FLOPs ≈ 2×MAC)입니다.

# %%
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

    def __init__(self, widths=(64, 256, 256), n_classes: int = 10, stem: nn.Sequential | None = None):
        super().__init__()
        if stem is None:   # 기본 줄기: 3×3 합성곱 (빠른 레시피 짝 장은 화이트닝 층을 줄기로 넣습니다)
            c = max(widths[0] // 2, 8)
            stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.GELU())
        self.widths = tuple(widths)
        self.stem = stem
        self.blocks = nn.Sequential(ConvBlock(stem[0].out_channels, widths[0]), ConvBlock(widths[0], widths[1]),
                                    ConvBlock(widths[1], widths[2]))
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(widths[2], n_classes, bias=False)
        self.logit_scale = 0.125   # 처음 로짓을 작게 → 초반 손실이 안정적이고 큰 학습률을 견딥니다

    def forward(self, x):
        features = self.pool(self.blocks(self.stem(x))).flatten(1)
        return self.head(features) * self.logit_scale


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


# %%
if __name__ == "__main__":
    section("4. CNN 모델: 층마다 출력 모양(특성 맵)·파라미터·연산량")
    summary = layer_summary(CifarCNN(widths, len(data.classes)))

# %% [markdown]
# ## 5. 학습 설정: 네스테로프 SGD, 원사이클 학습률, 레이블 스무딩
# - **원사이클(one-cycle) 학습률**: 앞 25% 동안 최대 학습률의 1/10에서 최대까지 올리고(워밍업), 이후 최대의
#   1/1000 근처까지 선형으로 내립니다. 짧은 예산에서 큰 학습률로 빨리 나아가고 끝에서 곱게 수렴합니다.
# - **네스테로프 모멘텀**과 **가중치 감쇠**(매 단계 가중치를 조금씩 0 쪽으로: $w \leftarrow w - \eta\lambda w$).
# - **레이블 스무딩**: 정답 확률 목표를 1 대신 $1-\varepsilon+\varepsilon/K$, 나머지를 $\varepsilon/K$ 로 둡니다
#   ($K$ = 클래스 수, $\varepsilon$ = 0.2). 로짓을 끝없이 키우는 과신을 막아 일반화에 도움이 됩니다.

# %%
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


def learning_rates(lr: float, epochs: int, steps_per_epoch: int) -> list[float]:
    """원사이클 스케줄이 단계마다 쓸 학습률 (파라미터 하나짜리 가짜 모델로 스케줄만 따라가 봅니다)."""
    optimizer, scheduler = make_optimizer(nn.ParameterList([nn.Parameter(torch.zeros(1))]), lr, epochs,
                                          steps_per_epoch)
    rates = []
    for _ in range(scheduler.total_steps):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return rates


def smoothed_targets(y: torch.Tensor, n_classes: int, smoothing: float = LABEL_SMOOTHING) -> torch.Tensor:
    """레이블 스무딩한 목표 분포: 정답 1-ε+ε/K, 나머지 ε/K (CrossEntropyLoss(label_smoothing=ε)와 같은 목표)."""
    return F.one_hot(y, n_classes).float() * (1 - smoothing) + smoothing / n_classes


# %%
if __name__ == "__main__":
    section("5. 학습 설정: 네스테로프 SGD, 원사이클 학습률, 레이블 스무딩")
    rates = learning_rates(args.lr, args.epochs, (len(train_y) + args.batch_size - 1) // args.batch_size)
    fig, axes = new_figure(size=(6, 3))
    axes[0, 0].plot(rates)
    axes[0, 0].set(xlabel="학습 단계", ylabel="학습률", title=f"원사이클 학습률 ({args.epochs}에폭, {len(rates):,}단계)")
    save_figure(fig, run.path("lr_schedule.png"))
    print(f"  학습률: 시작 {rates[0]:.3g} → 최대 {max(rates):.3g} ({rates.index(max(rates)):,}단계) → 끝 {rates[-1]:.2g}")
    target = [round(v, 3) for v in smoothed_targets(torch.tensor([0]), 10)[0].tolist()]
    print(f"  레이블 스무딩 {LABEL_SMOOTHING} 의 목표 분포 (정답 클래스 0, 10개 클래스): {target}")

# %% [markdown]
# ## 6. 더 빠르고 정확하게: 점진적 해상도, 테스트 시 증강, channels_last·bfloat16
# 30분이라는 짧은 예산에서 CPU의 한계는 연산량입니다. 모델·데이터는 그대로 두고 시간을 아끼거나 정확도를 조금 더 얻는 요령들과,
# 2코어 CPU(Xeon)에서 하나씩 켜고 끄며 잰 효과입니다 (자세한 표는 `docs/notes/03_cnn_image_classification.md`):
# - **점진적 해상도(progressive resizing)**: 학습 앞 절반 에폭은 이미지를 24×24로 줄여 학습합니다. 합성곱 연산량이
#   $(24/32)^2 \approx 0.56$배라 같은 시간에 에폭을 더 돌 수 있습니다. 합성곱은 어떤 크기에도 같은 필터를 쓰고 끝의 전역
#   풀링이 공간 크기를 없애므로 모델은 그대로이고, 학습률이 내려가는 뒷부분은 테스트와 같은 32×32로 학습합니다.
#   *잰 효과*: 이미지당 학습 시간 0.90 ms vs 1.65~1.71 ms, 같은 약 25분에 18에폭 대신 23에폭 → 테스트 89.80 % → 90.26 %.
# - **테스트 시 증강(TTA)**: 원본·좌우 뒤집기·1픽셀 이동한 모습들의 로짓을 가중 평균합니다(추가 학습 없음).
#   *잰 효과*: 89.19 % → 90.26 % (+1.07 %p, 추론 시간은 여러 배). 1픽셀 이동만의 몫은 +0.3~0.6 %p (12번 모두 이득).
# - **작은 배치**: 배치 128 이 512 보다 이미지당 9 % 빨랐고, 같은 시간에 +0.6 %p.
# - **channels_last**: 텐서를 NHWC 순서로 두면 CPU/GPU 합성곱 커널이 더 빨리 읽습니다.
# - **bfloat16 자동 혼합 정밀도**: bfloat16 행렬 연산 장치(AMX)가 있는 CPU에서만 켭니다.
#   *잰 효과*: AMX 가 없는 이 CPU 에서는 1.35배 **느려져** 끕니다. `torch.compile` 도 이득이 없었습니다(1.640 vs 1.654 ms).
#
# 모델과 옵티마이저까지 바꾸는 요령(화이트닝 줄기·항등 초기화·lookahead)은 짝 장 `03_cnn_image_classification-fast.py` 에서
# 이 장의 CNN 을 기준으로 직접 만들고 시간 대비 정확도로 비교합니다.

# %%
def low_res_epochs(epochs: int, fraction: float = LOW_RES_FRACTION) -> int:
    """학습 앞쪽에서 LOW_RES 로 줄여 학습하는 에폭 수."""
    return int(epochs * fraction)


class ProgressiveResize:
    """점진적 해상도: 학습 앞부분(low_res_epochs 에폭)은 배치를 32→24로 줄여 빠르게, 뒷부분은 원래 크기로.

    이 강의 CPU에서 측정: 너비 16/64/64·8에폭 중 앞 4에폭을 24×24로 해도 정확도가 그대로(83.7% vs 83.7%)였고,
    같은 시간이면 에폭을 늘릴 수 있어 더 높았습니다.
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


class AutocastCNN(CifarCNN):
    """4절의 CifarCNN 과 같은 층·같은 가중치. 지원하는 CPU에서는 bfloat16 자동 혼합 정밀도로 계산합니다."""
    use_bf16 = False

    def forward(self, x):
        # CUDA의 혼합 정밀도는 utils의 학습 루프가 켭니다. 여기서는 CPU의 bfloat16만 다룹니다.
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.use_bf16 and x.device.type == "cpu"):
            logits = super().forward(x)
        return logits.float()


def place_model(model: AutocastCNN, device: torch.device) -> AutocastCNN:
    """장치로 옮기고 channels_last 로, AMX CPU 면 bfloat16 을 켭니다."""
    model = model.to(device).to(memory_format=torch.channels_last)
    model.use_bf16 = device.type == "cpu" and cpu_has_fast_bf16()
    return model


def build_model(widths, n_classes: int, device: torch.device) -> AutocastCNN:
    return place_model(AutocastCNN(widths, n_classes), device)


# %%
if __name__ == "__main__":
    section("6. 더 빠르고 정확하게: 점진적 해상도, 테스트 시 증강, channels_last·bfloat16")
    print(f"  점진적 해상도: {args.epochs}에폭 중 앞 {low_res_epochs(args.epochs)}에폭은 {LOW_RES}×{LOW_RES}"
          f" (합성곱 연산량 {(LOW_RES / 32) ** 2:.2f}배), 검증·테스트는 32×32")
    print("  테스트 시 증강: " + ("끔 (--no-tta)" if args.no_tta else "원본·1픽셀 이동 2개 × 좌우 뒤집기 = 6가지 모습의 가중 평균"))
    print(f"  계산: {run.device}, channels_last"
          + (", bfloat16 자동 혼합 정밀도(AMX CPU)" if run.device.type == "cpu" and cpu_has_fast_bf16() else
             " (bfloat16 은 AMX 가 없어 끔)"))

# %% [markdown]
# ## 7. 본 학습과 평가
# 지금까지의 재료를 모두 씁니다: 증강한 배치 → (앞 절반 에폭은 24×24) → CNN → 레이블 스무딩 교차 엔트로피,
# 네스테로프 SGD + 원사이클. 학습 루프는 과정 공용 `fit` 하나로, 에폭마다 체크포인트를 남기므로 중단해도
# `--resume` 으로 이어서 학습할 수 있습니다. 같은 레시피(`train_cnn`)를 뒤의 비교 실험들도 씁니다.
# 테스트 세트는 여기서 한 번 평가하고, 혼동 행렬(행: 정답, 열: 예측)과 틀린 예시로 읽습니다.

# %%
def train_cnn(model, train_xy, val_xy, *, epochs: int, lr: float, batch_size: int, augment: bool,
              seed: int, device, run=None, resume: bool = False, checkpoint_extra=None, name: str = "",
              optimizer_factory=None, low_res_fraction: float = LOW_RES_FRACTION):
    """하나의 학습 레시피를 모든 실험(본 학습, 증강 비교, 전이 학습, 빠른 레시피 짝 장)이 함께 씁니다.

    optimizer_factory(model, lr, epochs, steps_per_epoch) -> (옵티마이저, 스케줄러): 기본은 5절의 make_optimizer.
    """
    batches = TensorBatches(*train_xy, batch_size, shuffle=True, seed=seed,
                            transform=BatchTransform(augment=augment, seed=seed, channels_last=True))
    val = TensorBatches(*val_xy, 1000, transform=BatchTransform(channels_last=True)) if val_xy else None
    optimizer, scheduler = (optimizer_factory or make_optimizer)(model, lr, epochs, len(batches))
    train = ProgressiveResize(batches, scheduler, low_res_epochs(epochs, low_res_fraction))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING)  # 정답에 0.82, 나머지에 0.02씩
    return fit(model, train, val, loss_fn, optimizer, device, epochs, scheduler=scheduler, run=run,
               resume=resume, checkpoint_extra=checkpoint_extra, name=name)


def test_accuracy(model, x, y, device, tta: bool = False) -> dict:
    """테스트 세트 평가. tta=True면 뒤집기·1픽셀 이동 평균(TestTimeAugment)으로 예측합니다."""
    batches = TensorBatches(x, y, 1000, transform=BatchTransform(channels_last=True))
    return evaluate(TestTimeAugment(model) if tta else model, batches, nn.CrossEntropyLoss(), device)


def show_mistakes(data: ImageData, result: dict, path: Path) -> Path:
    wrong = (result["predictions"] != result["targets"]).nonzero().flatten()[:24]
    titles = [f"{data.classes[result['targets'][i]]}→{data.classes[result['predictions'][i]]}" for i in wrong]
    return plot_image_grid(data.test_x[wrong], titles, path, title="틀린 예시 (정답→예측)", ncols=8)


# %%
if __name__ == "__main__":
    n_low_res = low_res_epochs(args.epochs)
    section(f"7. 본 학습: {args.epochs}에폭 (앞 {n_low_res}에폭은 {LOW_RES}×{LOW_RES}),"
            f" 배치 {args.batch_size}, 최대 학습률 {args.lr}")
    torch.manual_seed(args.seed)
    model = build_model(widths, len(data.classes), run.device)
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

# %% [markdown]
# ## 8. 모델이 무엇을 보는가: 필터, 특성 맵, Grad-CAM
# - **첫 층 필터**(3×3 컬러): 색 대비나 방향이 있는 가장자리를 찾는 필터가 보입니다.
# - **층별 특성 맵**: 한 장의 이미지가 층을 지나며 해상도는 줄고 채널은 늘어납니다. 앞쪽은 가장자리·색, 뒤쪽은 더
#   작고 추상적인 특징입니다.
# - **Grad-CAM**: 블록 2의 특성 맵 $A^k$(8×8)에 '정답 점수 $y^c$ 의 그래디언트 평균'을 가중치로 곱해 더합니다:
#   $L = \mathrm{ReLU}\big(\sum_k \alpha_k A^k\big)$,
#   $\alpha_k = \frac{1}{HW}\sum_{i,j} \partial y^c / \partial A^k_{ij}$.
#   어느 위치의 특징이 정답 점수를 올렸는지가 열지도(heatmap)로 나타납니다. 클래스 $c$ 는 (예측이 아니라) 정답 레이블,
#   층은 블록 2(8×8, 블록 3의 4×4 보다 위치가 덜 뭉개짐), 32×32 로는 쌍선형 보간으로 키웁니다.
# - **열지도를 믿어도 될까? 지우기 검사**: 열지도가 '보기 좋게' 물체 위에 있는지가 아니라, 모델이 정말 그곳을 쓰는지를
#   잽니다. 열이 가장 높은 픽셀 20 %를 지웠을 때(데이터 평균색으로) 정답 확률이 얼마나 떨어지는지를, 열이 가장 낮은 20 %를
#   지웠을 때와 비교합니다. 앞쪽이 훨씬 크면 열지도가 모델의 근거를 가리킵니다 — 그곳이 배경(하늘·물·풀밭)이라면, 모델이
#   물체보다 배경을 단서로 쓴다는 뜻입니다 (CIFAR-10 에서 흔한 지름길).

# %%
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
    """Grad-CAM 열지도 (N,32,32), 0~1: 블록 2 특성 맵을 정답 점수의 그래디언트 평균으로 가중합합니다."""
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


@torch.no_grad()
def grad_cam_deletion(model, x: torch.Tensor, target: torch.Tensor, cams: torch.Tensor, fraction: float = 0.2) -> dict:
    """열지도가 가장 높은/낮은 fraction 의 픽셀을 0(정규화한 입력에서 데이터 평균색)으로 지웠을 때 정답 확률이 떨어진 양.

    돌려주는 값: {"top": 높은 곳을 지운 뒤 평균 하락, "bottom": 낮은 곳을 지운 뒤 평균 하락} (확률 단위, 0~1).
    """
    n, _, h, w = x.shape
    k = int(fraction * h * w)
    flat = cams.to(x.device).flatten(1)

    def true_prob(inputs):
        return torch.softmax(model(inputs).float(), dim=1).gather(1, target.view(-1, 1))[:, 0]

    def drop_after_erasing(pixels):
        mask = torch.zeros(n, h * w, dtype=torch.bool, device=x.device).scatter_(1, pixels, True).view(n, 1, h, w)
        return (base - true_prob(x.masked_fill(mask, 0.0))).mean().item()

    base = true_prob(x)
    return {"top": drop_after_erasing(flat.topk(k, dim=1).indices),
            "bottom": drop_after_erasing((-flat).topk(k, dim=1).indices)}


def grad_cam_check(model, data: ImageData, device, n: int = 500, batch: int = 250) -> dict:
    """테스트 이미지 n장(고르게 뽑음)에서 지우기 검사를 하고 평균을 돌려줍니다."""
    idx = torch.linspace(0, len(data.test_y) - 1, min(n, len(data.test_y))).long()
    drops = []
    for chunk in idx.split(batch):
        x, y = BatchTransform(channels_last=True)(data.test_x[chunk]).to(device), data.test_y[chunk].to(device)
        drops.append((len(chunk), grad_cam_deletion(model, x, y, grad_cam(model, x, y))))
    total = sum(size for size, _ in drops)
    return {key: round(sum(size * d[key] for size, d in drops) / total, 4) for key in ("top", "bottom")}


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


# %%
if __name__ == "__main__":
    section("8. 모델이 무엇을 보는가: 필터, 특성 맵, Grad-CAM")
    show_filters(model, run.path("filters.png"))
    show_feature_maps(model, data.test_x[0], data.classes[data.test_y[0]], run.path("feature_maps.png"), run.device)
    show_grad_cam(model, data, run.path("grad_cam.png"), run.device)
    cam_check = grad_cam_check(model, data, run.device)
    print(f"  지우기 검사 (테스트 {min(500, len(data.test_y))}장): 정답 확률의 평균 변화 — 열이 높은 20 % 를 지우면 "
          f"{-cam_check['top']:+.3f}, 낮은 20 % 를 지우면 {-cam_check['bottom']:+.3f}")
    print(f"  그림: {run.path('filters.png')}, feature_maps.png, grad_cam.png")

# %% [markdown]
# ## 9. 데이터 증강의 효과 측정
# 같은 작은 모델(16/64/64)·같은 초기값·같은 예산으로 증강만 켜고 끕니다. 적은 이미지(2,500장)를 여러 번(24에폭)
# 볼수록 증강 없는 쪽은 학습 데이터를 외워 버려(과적합) 테스트 정확도가 떨어집니다.
# 부분집합은 검증 세트를 뗀 학습 세트에서 골라, 검증 곡선이 본 적 없는 이미지로 재게 합니다.

# %%
def compare_augmentation(data: ImageData, train_xy, val_xy, args, device, widths, size: int, epochs: int) -> dict:
    """증강 있음/없음을 같은 모델·같은 초기값·같은 예산으로 학습해 테스트 정확도를 비교합니다."""
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


# %%
if __name__ == "__main__":
    section("9. 데이터 증강의 효과 (같은 모델·같은 예산, 증강만 on/off)")
    aug = compare_augmentation(data, (train_x, train_y), (val_x[:COMPARE_VAL_SIZE], val_y[:COMPARE_VAL_SIZE]),
                               args, run.device, SMALL_WIDTHS,
                               size=min(COMPARE_SIZE, len(train_y)), epochs=1 if args.quick else COMPARE_EPOCHS)
    plot_learning_curves(aug.pop("histories"), run.path("augmentation_compare.png"),
                         title="데이터 증강 있음 vs 없음 (같은 예산)")

# %% [markdown]
# ## 10. 전이 학습: 사전 학습한 특징 + 적은 레이블
# 큰 데이터로 미리 학습한 모델의 앞쪽 층(가장자리·질감 같은 일반적인 특징)을 가져오고, 분류기 머리만 새로 붙여
# 적은 레이블로 미세 조정(fine-tuning)합니다. 같은 구조·같은 적은 레이블·같은 학습 설정으로 무작위 초기값에서
# 시작한 모델과 비교합니다.
# - ImageNet ResNet-18 가중치가 캐시에 있거나 받을 수 있으면: CIFAR-10 클래스마다 100장으로 미세 조정.
# - 없으면(오프라인) 대체 실험: CIFAR-10 앞 5개 클래스로 사전 학습한 CNN을 뒤 5개 클래스(클래스마다 100장)에 미세 조정.

# %%
def choose_transfer_path(allow_download: bool) -> str:
    """'imagenet_resnet18' (가중치가 캐시에 있거나 받을 수 있을 때) 또는 'cifar5_standin'."""
    reason = fetch_hub_weights(RESNET18_URL, allow_download)
    if reason is None:
        return "imagenet_resnet18"
    print(f"  ImageNet 가중치를 쓸 수 없습니다: {reason}")
    return "cifar5_standin"


def few_labels(x, y, classes: list[int], per_class: int):
    """classes의 각 클래스에서 앞의 per_class장만 고르고 레이블을 0부터 다시 매깁니다."""
    keep = torch.cat([(y == c).nonzero().flatten()[:per_class] for c in classes])
    remap = torch.full((int(y.max()) + 1,), -1, dtype=torch.long)
    remap[torch.tensor(classes)] = torch.arange(len(classes))
    return x[keep], remap[y[keep]]


def finetune_vs_scratch(pretrained: nn.Module, scratch: nn.Module, few_xy, test_xy, args, device,
                        epochs: int) -> tuple[float, float]:
    """같은 구조·같은 적은 레이블·같은 학습 설정으로: 사전 학습 가중치에서 시작 vs 무작위 초기값에서 시작."""
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
    """가중치가 있을 때: ImageNet ResNet-18을 CIFAR-10의 적은 레이블로 미세 조정 vs 같은 구조를 처음부터."""
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
    """가중치가 없을 때의 대체 경로: 앞 5개 클래스로 사전 학습 → 뒤 5개 클래스를 적은 레이블로 미세 조정."""
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


# %%
if __name__ == "__main__":
    section("10. 전이 학습: 사전 학습한 특징 + 적은 레이블")
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

# %% [markdown]
# ## 11. 결과 기록
# 정확도·시간·모델 크기·비교 실험 결과를 `metrics.json` 에 남깁니다. `accuracy_vs_train_seconds` 는
# [누적 학습 초, 검증 정확도] 목록으로, 정확도가 시간에 따라 어떻게 올랐는지 보여 줍니다.

# %%
def summarize_curve(history: dict) -> list[list[float]]:
    """[누적 학습 초, 검증 정확도] 목록: 정확도가 시간에 따라 어떻게 올랐는지 결과에 남깁니다."""
    seconds = np.cumsum(history["epoch_seconds"])
    return [[round(float(s), 1), round(float(a), 4)] for s, a in zip(seconds, history["val_accuracy"])]


def rounded(values: dict) -> dict:   # 실수(정확도·손실)는 소수 넷째 자리까지
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items()}


# %%
if __name__ == "__main__":
    section("11. 결과 기록")
    metrics = {"test_accuracy": test["accuracy"], "test_accuracy_no_tta": plain["accuracy"], "test_loss": plain["loss"],
               "val_accuracy": history["val_accuracy"][-1], "train_seconds": round(train_seconds, 1),
               "wall_seconds": round(run.elapsed(), 1), "accuracy_vs_train_seconds": summarize_curve(history),
               "widths": list(widths), "parameters": count_parameters(model),
               "forward_mflops": round(2 * sum(r["macs"] for r in summary) / 1e6, 1), "bf16_autocast": model.use_bf16,
               "cifar_copy": cifar_copy, "compare_widths": list(SMALL_WIDTHS), **aug,
               "transfer_path": transfer_path, **transfer,
               "grad_cam_top_drop": cam_check["top"], "grad_cam_bottom_drop": cam_check["bottom"]}
    run.write_metrics(dataset=data.name, data_source=data.source, epochs=args.epochs, n_train=len(train_y),
                      n_test=len(data.test_y), metrics=rounded(metrics))
    threads.close()   # CPU 스레드 수를 원래대로
    print(f"  그림: {run.out}/*.png, 체크포인트: {run.checkpoint_path}")

# %% [markdown]
# ## 12. 내 사진으로 예측하기 (`--predict`)
# 저장된 체크포인트로 내가 가져온 사진(크기·형식 무관)을 32×32로 줄여 분류하고 상위 3개 클래스를 보여 줍니다.
# 스크립트에서는 `python 03_cnn_image_classification.py --predict 사진.jpg` 로 이 절만 실행됩니다
# (전체 학습의 체크포인트를 씁니다).

# %%
def predict(args, run, images=None, checkpoint=None) -> list[dict]:
    """저장된 체크포인트(기본: 이 실행의 결과 폴더)로 학습자의 사진을 분류하고 상위 3개를 보여 줍니다."""
    checkpoint = checkpoint or run.checkpoint_path
    state = load_checkpoint(checkpoint, map_location=run.device)
    if "widths" not in state or "classes" not in state:
        raise CourseError(f"이 레슨의 체크포인트가 아닙니다: {checkpoint}")
    model = build_model(tuple(state["widths"]), len(state["classes"]), run.device)
    model.load_state_dict(state["model"])
    paths, images = load_user_images(images or args.predict, size=32, channels=3, dark_background=False)
    return print_predictions(model, images, paths, state["classes"], run.device,
                             BatchTransform(channels_last=True))


# %%
if __name__ == "__main__":
    section("12. 내 사진으로 예측하기")
    sample = run.path("내 사진.png")   # 테스트 이미지 한 장을 PNG 파일로 저장해 '내 사진'처럼 넣어 봅니다
    save_once(Image.fromarray(data.test_x[0].permute(1, 2, 0).numpy()), sample)  # torchrun 이면 랭크 0만 씁니다
    predict(args, run, [str(sample)])
    print(f"  (정답: {data.classes[data.test_y[0]]})")

# %% [markdown]
# ## 해 보세요
# 전체 실행은 약 29분이라, 여기서는 `--quick`(20초 안팎)이나 9절의 작은 비교 설정(너비 16/64/64)처럼 몇 분 안에 끝나는 실험만
# 합니다. 아래 숫자는 이 과정을 만든 2코어 CPU(AMD EPYC)에서 잰 값이고, 같은 일을 하는 짧은 스크립트와 출력·걸린 시간은
# `docs/notes/03_cnn_image_classification.md` 에 있습니다.
#
# 1. **테스트 시 증강(TTA)의 효과**: `python 03_cnn_image_classification.py --quick` 을 실행하고 `metrics.json` 의
#    `test_accuracy`(TTA)와 `test_accuracy_no_tta` 를 비교해 보세요. 학습 1,800장 × 4에폭의 작은 모델(16/64/64)에서 테스트 500장의
#    정확도가 0.364 → 0.398(TTA)로 3.4 %p 오릅니다 (기본 실행은 0.8919 → 0.9026, +1.1 %p). 추가 학습 없이 예측 6번의 평균만으로 얻는 값이고,
#    `--no-tta` 는 이 평균을 건너뛰어 평가 시간을 줄입니다.
# 2. **모델 너비와 연산량** (4절): 4절 실행 셀의 `CifarCNN(widths, …)` 에 `(16, 64, 64)`, `(96, 384, 384)` 를 넣어 보세요.
#    파라미터 124,712개·순전파 19.3 MFLOPs(16/64/64), 774,020개·119.1 MFLOPs(기본 40/160/160), 4,446,192개·682.1 MFLOPs(96/384/384):
#    너비를 2.5배 하면 합성곱의 연산량은 너비의 제곱인 약 6배가 됩니다. 이 CPU에서 30분 안에 들어가는 것이 기본 너비입니다.
# 3. **증강의 효과는 예산에 달렸다** (9절): 같은 `--quick` 실행의 `aug_accuracy` 와 `noaug_accuracy` 를 보세요. 1,800장을 1에폭만 보면
#    증강 있음 0.228 / 없음 0.232 로 차이가 없습니다 (아직 외우기 전). 기본 설정(2,500장 × 24에폭, `COMPARE_SIZE`·`COMPARE_EPOCHS`)에서는
#    게시된 실행이 0.667 / 0.586 으로 증강 쪽이 8 %p 높습니다 — 아래 질문 3.
#
# **질문**
#
# <details><summary>1. 32×32 입력에 커널 3, 패딩 1, 스트라이드 2 인 합성곱을 쓰면 출력은 몇 칸일까요?</summary>
#
# $\lfloor (32 + 2\cdot1 - 3)/2 \rfloor + 1 = \lfloor 31/2 \rfloor + 1 = 16$ 칸입니다. 1절의 `conv_output_size(32, 3, stride=2, padding=1)` 도 16 을 돌려줍니다.
# 스트라이드 1 이면 32 로 그대로입니다 (패딩 1 이 커널 3 이 줄이는 2칸을 메움).
# </details>
#
# <details><summary>2. 테스트 세트에 무작위 자르기를 쓰면 안 되는데, TTA의 뒤집기·1픽셀 이동은 왜 괜찮을까요?</summary>
#
# 테스트 세트의 점수는 같은 이미지에 늘 같은 답을 내는 하나의 정해진 절차로 재야 합니다. 무작위 자르기를 쓰면 실행할 때마다 점수가
# 달라집니다. TTA는 무작위가 아니라 정해진 여섯 모습(원본·1픽셀 이동 2개 × 좌우 뒤집기)의 평균이라 늘 같은 답을 내고, 모두 학습 때
# 증강으로 본 변환이어서 모델이 같은 물체로 알아봅니다. 정답 레이블은 쓰지 않으므로 테스트 세트를 엿보는 것도 아닙니다.
# </details>
#
# <details><summary>3. 9절에서 증강의 효과는 적은 이미지를 오래 학습할 때 크고, 많은 이미지를 짧게 학습할 때 사라집니다. 왜일까요?</summary>
#
# 증강은 외우기(과적합)를 막는 규제입니다. 2,500장을 24번 보면 증강 없는 모델은 같은 그림을 외워 테스트 정확도가 떨어지고, 증강한
# 모델은 매번 조금 다른 그림을 보아 덜 외웁니다. 1만 장을 6번 보면 같은 계산량이지만 아직 외우기 전이라 증강이 막을 것이 없고,
# 오히려 문제가 조금 어려워지는 만큼만 손해입니다 (이 CPU에서 잰 값은 위의 상수 셀 주석).
# </details>
