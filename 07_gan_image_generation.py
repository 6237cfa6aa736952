# %% [markdown]
# # 07. GAN 이미지 생성 — 생성자와 판별자, 적대적 학습, 모드 붕괴, 잠재 공간 (CelebA 얼굴)
#
# **학습 목표**
# - 생성자(generator)와 판별자(discriminator)를 DCGAN 구조(전치 합성곱, 배치 정규화, 논문의 가중치 초기화)로
#   만들고, 두 네트워크가 서로 경쟁하는 적대적 학습(adversarial training)의 한 단계를 직접 씁니다.
# - 미니맥스(minimax) 목표와 '포화되지 않는(non-saturating)' 생성자 손실이 왜 필요한지 그래디언트로 확인합니다.
# - 모드 붕괴(mode collapse)를 2차원 장난감 데이터(원 위의 가우시안 8개)에서 눈으로 보고,
#   해결책 하나(미니배치 표준편차)와 같은 조건에서 비교합니다.
# - 잠재 공간(latent space)을 걸어 봅니다: 선형/구면 보간, 잠재 벡터 산술, 온도(truncation)의 효과.
# - 생성 품질을 정직하게 잽니다: FID(가능할 때) 또는 최근접 이웃 거리 비율 `nn_ratio`.
#
# **데이터셋**: CelebA 얼굴 6,000장 (64×64, 정렬된 얼굴; `DL_DATA_DIR/celeba64/faces/*.jpg` 와 `list.csv`).
# `list.csv` 의 `source_split` 이 test 인 600장은 학습에 쓰지 않고 `nn_ratio` 의 기준으로 남겨 둡니다.
# 공식 CelebA(`celeba/img_align_celeba`)가 있으면 그것을, `--image-dir` 로 아무 이미지 폴더나 쓸 수도 있습니다.
# 데이터가 없으면 큰 안내와 함께 scikit-learn 의 손글씨 숫자(8×8)를 32×32 로 키운 대체 데이터로 흐름만 보여 줍니다
# (`utils/datasets/celeba.py`). CelebA 는 비상업적 연구 목적으로만 쓸 수 있습니다 (Liu et al., ICCV 2015).
#
# **핵심 개념**: 생성자 · 판별자 · 적대적 학습 · 미니맥스 / non-saturating 손실 · 전치 합성곱 · 배치 정규화 ·
# 모드 붕괴 · 미니배치 표준편차 · 잠재 공간 · 선형/구면 보간(slerp) · 온도(truncation) · FID · 최근접 이웃 거리 비율
#
# **실행 방법**
# ```
# python 07_gan_image_generation.py                   # 전체 (CelebA 5,400장으로 학습)
# python 07_gan_image_generation.py --quick           # 몇 초짜리 흐름 확인
# python 07_gan_image_generation.py --resume          # 중단된 학습 이어서 (같은 --epochs·--width 로)
# python 07_gan_image_generation.py --image-dir 내사진폴더 --epochs 30
# python 07_gan_image_generation.py --epochs 40 --width 32   # 더 가벼운 네트워크로 더 오래
# ```
# 노트북(`notebooks/07_gan_image_generation.ipynb`)에서는 아래 매개변수 셀의 `QUICK` 으로 고릅니다.
#
# **예상 시간** (측정값은 `docs/RESULTS.md`): 2코어 CPU에서 전체 약 77분 (DCGAN 학습이 대부분; 측정한 AMD EPYC 기준, AVX-512 가 있는 Intel Xeon 2코어에서는 25분), `--quick` 약 10초.
# 더 빨리 보려면 `--width 32`: 같은 AMD 에서 전체 약 25분(학습 초당 92장, 4배), 대신 얼굴이 더 흐리고 덜 다양합니다 (`docs/notes/07_gan_image_generation.md`).

# %%
import importlib.util
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from utils.chapter import section, start_chapter
from utils.data_utils import TensorBatches, fetch_hub_weights
from utils.datasets import celeba
from utils.model_utils import (CourseError, add_threads_option, count_parameters, cpu_threads, fit, load_checkpoint,
                               make_parser, positive_int)
from utils.visualization import new_figure, plot_image_grid, save_figure

# %% tags=["parameters"]
QUICK = False      # True: 얼굴 96장·폭 16·1에폭으로 몇 초 만에 흐름만 확인
DATA_DIR = None    # 데이터 루트 (None: 환경 변수 DL_DATA_DIR, 없으면 ./data)
OUT_DIR = "runs"   # 그림·체크포인트·metrics.json 을 둘 곳

# %% [markdown]
# 실행 설정: 스크립트로 실행하면 명령행 옵션(`--quick`, `--width`, `--image-dir` …)을, 노트북에서는 위 매개변수 셀을 씁니다.
# 시드를 고정하고 장치(CPU/GPU)와 결과 폴더를 정합니다.

# %%
LESSON = "07_gan_image_generation"
IMAGE_SIZE = celeba.IMAGE_SIZE   # 64×64
LATENT_DIM = 100                 # 잠재 벡터 z 의 차원 (DCGAN 논문)
RING_STEPS, RING_STEPS_QUICK = 6000, 300   # 모드 붕괴 실험(6절)의 단계 수. 측정: 한 번 학습에 20~30초 (2코어 CPU)


def build_parser():
    p = make_parser(f"{LESSON}.py", "DCGAN 으로 얼굴 생성, 모드 붕괴, 잠재 공간, 품질 측정",
                    epochs=18, batch_size=64, lr=2e-4)
    p.add_argument("--image-dir", default=None, help="CelebA 대신 학습할 이미지 폴더 (정사각형으로 잘라 64×64)")
    p.add_argument("--width", type=int, default=64, choices=[16, 32, 48, 64],
                   help="DCGAN 채널 폭 (기본 64 = 논문; 32 는 약 4배 빠름)")
    p.add_argument("--ring-steps", type=positive_int, default=None,
                   help=f"모드 붕괴 실험의 학습 단계 수 (기본 {RING_STEPS}, --quick {RING_STEPS_QUICK})")
    add_threads_option(p)
    return p

# %%
if __name__ == "__main__":
    args, run = start_chapter(LESSON, build_parser(), quick=QUICK, data_dir=DATA_DIR, out_dir=OUT_DIR)

# %% [markdown]
# ## 1. 데이터: 얼굴을 한 번만 디코딩해 텐서로
# 얼굴 사진을 가운데 정사각형으로 잘라 64×64 로 줄이고, uint8 텐서 `(N, 3, 64, 64)` 로 메모리에 둡니다
# (학습 중에는 디코딩하지 않습니다). 생성자의 마지막 층이 $\tanh$ 라서 출력이 $[-1, 1]$ 이므로,
# 진짜 이미지도 같은 범위로 옮겨 판별자가 '범위'만 보고 진짜·가짜를 가르지 못하게 합니다: $x \mapsto x/127.5 - 1$.

# %%
def to_model_range(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0,255] → 실수 [-1,1]. 생성자 마지막 층이 tanh 라서 같은 범위로 맞춥니다."""
    return x.float().div(127.5).sub(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """모델 출력 [-1,1] → 그림·거리 계산용 uint8 [0,255]."""
    return ((x.detach().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


# %%
if __name__ == "__main__":
    section("1. 데이터")
    data = celeba.load(args)
    train_x, test_x = data["train"], data["test"]
    channels, size = train_x.shape[1], train_x.shape[2]
    print(f"  {data['name']}: 학습 {len(train_x):,}장, 평가(nn_ratio 기준) {len(test_x):,}장, "
          f"모양 {tuple(train_x.shape[1:])}")
    x = to_model_range(train_x[:64])
    print(f"  uint8 {train_x.dtype} [0, 255] → 모델 입력 [{x.min():.2f}, {x.max():.2f}] (생성자의 tanh 범위와 같게)")
    plot_image_grid(train_x[:16], [""] * 16, run.path("real_samples.png"), title="진짜 학습 이미지", ncols=8)

# %% [markdown]
# ## 2. 생성자와 판별자 (DCGAN, Radford et al., 2016)
# - **생성자** $G$: 잠재 벡터 $z \sim \mathcal{N}(0, I)$ (100차원) → 이미지. stride 2 전치 합성곱(ConvTranspose2d)으로
#   $4 \to 8 \to 16 \to 32 \to 64$ 로 키웁니다. 마지막 층 빼고 배치 정규화 + ReLU, 출력은 $\tanh$.
# - **판별자** $D$: 이미지 → '진짜일 로짓' 하나. stride 2 합성곱으로 $64 \to 32 \to 16 \to 8 \to 4$ 로 줄입니다.
#   활성화는 LeakyReLU(0.2): 음수 쪽에도 그래디언트가 흘러야 생성자가 배울 신호를 받습니다.
# - 초기화(논문): 합성곱 가중치 $\mathcal{N}(0, 0.02)$, 배치 정규화 감마 $\mathcal{N}(1, 0.02)$·베타 0.
#
# **전치 합성곱(transposed convolution, `nn.ConvTranspose2d`)** 은 합성곱과 반대 방향으로 크기를 키웁니다.
# 입력의 칸 하나하나가 자기 값을 곱한 커널 조각(kernel×kernel)을 출력에 '찍어' 놓고, 입력에서 한 칸 옮길 때마다
# 출력에서는 stride 칸씩 옮겨 찍으며, 조각이 겹치는 곳은 더합니다. 그다음 가장자리에서 padding 만큼 잘라 냅니다
# (합성곱의 크기 변화를 거꾸로 되돌리는 연산이지, 값을 되돌리는 역연산은 아닙니다). 그래서 출력 크기는
# $$\text{out} = (\text{in} - 1)\cdot\text{stride} - 2\cdot\text{padding} + \text{kernel} + \text{output\_padding}$$
# 첫 층(1×1 → kernel 4, stride 1, padding 0): $(1-1)\cdot1 - 0 + 4 = 4$. 나머지 층(kernel 4, stride 2, padding 1):
# $(\text{in}-1)\cdot2 - 2 + 4 = 2\,\text{in}$, 정확히 두 배. 아래에서 1차원 예로 '찍고 더하기'를 손으로 해 보고,
# 이 식을 생성자의 실제 층과 비교합니다.

# %%
class Generator(nn.Module):
    """잠재 벡터 z(100차원) → 이미지. 전치 합성곱(ConvTranspose2d)으로 4→8→16→32→64 로 키웁니다.

    규칙(DCGAN 논문): 풀링 대신 stride 2 전치 합성곱, 마지막 층 빼고 배치 정규화 + ReLU, 출력은 tanh.
    """

    def __init__(self, latent_dim: int = LATENT_DIM, channels: int = 3, image_size: int = IMAGE_SIZE,
                 width: int = 64):
        super().__init__()
        self.latent_dim = latent_dim
        n_up = int(math.log2(image_size)) - 3           # 64 → 3번, 32 → 2번 (마지막 층은 따로)
        ch = width * 2 ** n_up
        layers = [nn.ConvTranspose2d(latent_dim, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(n_up):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(len(z), self.latent_dim, 1, 1))


class Discriminator(nn.Module):
    """이미지 → '진짜일 로짓(logit)' 하나. stride 2 합성곱으로 64→32→16→8→4 로 줄인 뒤 4×4 합성곱.

    첫 층에는 배치 정규화를 두지 않고(입력 분포를 그대로 보도록), 활성화는 LeakyReLU(0.2):
    음수 쪽에도 그래디언트가 흘러야 생성자가 배울 신호를 받습니다. 시그모이드는 손실 쪽에서 계산합니다.
    """

    def __init__(self, channels: int = 3, image_size: int = IMAGE_SIZE, width: int = 64):
        super().__init__()
        n_down = int(math.log2(image_size)) - 3
        layers = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        ch = width
        for _ in range(n_down):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        layers += [nn.Conv2d(ch, 1, 4, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


def dcgan_init(module: nn.Module) -> None:
    """DCGAN 논문의 초기화: 합성곱 가중치 N(0, 0.02), 배치 정규화 감마 N(1, 0.02)·베타 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build_dcgan(channels: int, image_size: int, width: int) -> tuple[Generator, Discriminator]:
    generator = Generator(LATENT_DIM, channels, image_size, width)
    discriminator = Discriminator(channels, image_size, width)
    generator.apply(dcgan_init)
    discriminator.apply(dcgan_init)
    return generator, discriminator


def print_shapes(title: str, net: nn.Module, x: torch.Tensor, layer_type: type) -> None:
    """x 를 층마다 통과시키며 layer_type 층 뒤의 출력 모양과 전체 파라미터 수를 출력합니다."""
    print(title)
    with torch.no_grad():
        for layer in net.net:
            x = layer(x)
            if isinstance(layer, layer_type):
                print(f"  {type(layer).__name__:<16} → {tuple(x.shape[1:])}")
    print(f"  파라미터 수: {count_parameters(net):,}")


def conv_transpose_output_size(size_in: int, kernel: int, stride: int = 1, padding: int = 0,
                               output_padding: int = 0) -> int:
    """전치 합성곱의 출력 크기: (in - 1)·stride - 2·padding + kernel + output_padding."""
    return (size_in - 1) * stride - 2 * padding + kernel + output_padding


def conv_transpose1d_by_hand(x: torch.Tensor, w: torch.Tensor, stride: int = 1, padding: int = 0) -> torch.Tensor:
    """1차원·채널 하나의 전치 합성곱을 '찍고 더하기'로 계산합니다.

    입력 칸 i 가 x[i]·w 를 출력의 i·stride 자리부터 찍고(겹치면 더함), 끝으로 양 끝에서 padding 칸씩 잘라 냅니다.
    """
    out = torch.zeros((len(x) - 1) * stride + len(w), dtype=x.dtype)
    for i, value in enumerate(x):
        out[i * stride: i * stride + len(w)] += value * w
    return out[padding: len(out) - padding]


def check_generator_sizes(generator: nn.Module) -> list[dict]:
    """생성자의 전치 합성곱 층마다 식으로 구한 출력 크기와 층이 실제로 낸 크기를 표로 (층 하나씩 따로 통과)."""
    rows, size = [], 1
    print(f"  {'층':<5}{'입력':>4}{'커널':>4}{'stride':>8}{'padding':>9}  {'식':<23}{'식의 값':>4}{'실제 출력':>5}")  # 한글은 두 칸
    for k, layer in enumerate(m for m in generator.net if isinstance(m, nn.ConvTranspose2d)):
        (kern, _), (stride, _), (pad, _), (out_pad, _) = (layer.kernel_size, layer.stride, layer.padding,
                                                          layer.output_padding)
        by_formula = conv_transpose_output_size(size, kern, stride, pad, out_pad)
        with torch.no_grad():   # 층 하나만 통과: 배치 정규화의 이동 평균을 건드리지 않음
            actual = layer(torch.zeros(1, layer.in_channels, size, size)).shape[-1]
        print(f"  {k:<6}{size:>6}{kern:>6}{stride:>8}{pad:>9}  {f'({size}-1)·{stride}-2·{pad}+{kern}+{out_pad}':<24}"
              f"{by_formula:>7}{actual:>9}")
        rows.append({"in": size, "formula": by_formula, "actual": actual})
        size = actual
    return rows


def describe_models(generator: nn.Module, discriminator: nn.Module, image_shape: tuple) -> None:
    """층마다 출력 모양을 따라가며 보여 줍니다: 생성자는 키우고, 판별자는 줄입니다."""
    print_shapes("\n[생성자] 잠재 벡터 → 이미지", generator, torch.zeros(2, generator.latent_dim, 1, 1),
                 nn.ConvTranspose2d)
    print_shapes("[판별자] 이미지 → 진짜일 로짓", discriminator, torch.zeros(2, *image_shape), nn.Conv2d)


# %%
if __name__ == "__main__":
    section("2. 생성자와 판별자 (DCGAN)")
    width = 16 if args.quick else args.width
    generator, discriminator = build_dcgan(channels, size, width)
    x1, w1 = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 10.0, 100.0, 1000.0])   # 1차원 예: 찍고 더하기
    by_library = F.conv_transpose1d(x1.view(1, 1, -1), w1.view(1, 1, -1), stride=2, padding=1).flatten()
    print(f"  1차원 전치 합성곱 x = {x1.tolist()}, 커널 = {w1.tolist()}, stride 2, padding 1 "
          f"(출력 길이 (3-1)·2-2·1+4 = 6)\n"
          f"  손으로 찍고 더하기: {conv_transpose1d_by_hand(x1, w1, 2, 1).tolist()}\n"
          f"  F.conv_transpose1d: {by_library.tolist()}")
    print("  생성자의 전치 합성곱 층: 출력 크기 = (in - 1)·stride - 2·padding + kernel + output_padding")
    check_generator_sizes(generator)
    describe_models(generator, discriminator, (channels, size, size))
    generator.to(run.device)
    discriminator.to(run.device)

# %% [markdown]
# ## 3. 적대적 목표: 미니맥스와 non-saturating 생성자 손실
# 원래 목표는 두 사람의 게임입니다:
# $$\min_G \max_D \; \mathbb{E}_x[\log D(x)] + \mathbb{E}_z[\log(1 - D(G(z)))]$$
# 판별자는 진짜에 1, 가짜에 0 을 내도록 이 식을 최대화합니다. 생성자가 $\log(1 - D(G(z)))$ 를 그대로 최소화하면
# 학습 초기(가짜가 티 나서 $D(G(z)) \approx 0$)에 그래디언트가 거의 0 이 되므로, 대신 $-\log D(G(z))$ 를 최소화합니다.
# 로짓 $s$ 에 대해 $-\log\sigma(s) = \mathrm{softplus}(-s)$ 이므로 수치적으로 안전하게 쓸 수 있습니다.

# %%
# 원래 목표(미니맥스):  min_G max_D  E[log D(x)] + E[log(1 - D(G(z)))]
# - 판별자는 진짜 x 에는 D=1, 가짜 G(z) 에는 D=0 을 내도록 위 식을 '최대화'합니다.
# - 생성자가 log(1 - D(G(z))) 를 '최소화'하면, 학습 초기(가짜가 티 나서 D(G(z))≈0)에는
#   이 함수가 평평해(포화) 그래디언트가 거의 0 이 됩니다. 그래서 대신 -log D(G(z)) 를 최소화합니다
#   (non-saturating 손실): 같은 고정점을 갖지만 D(G(z))≈0 일 때 그래디언트가 가장 큽니다.
# 로짓 s 에 대해 -log σ(s) = softplus(-s), -log(1-σ(s)) = softplus(s) 이므로 수치적으로 안전하게 씁니다.
def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-[log D(x) + log(1 - D(G(z)))] 의 배치 평균 (진짜는 1, 가짜는 0 으로 맞히기)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """non-saturating: -log D(G(z)) 의 평균 (판별자가 가짜를 진짜라고 믿게 만들기)."""
    return F.softplus(-fake_logits).mean()


def generator_gradients(d_fake: float) -> tuple[float, float]:
    """판별자가 가짜에 준 확률 D(G(z)) 에서, 두 생성자 손실을 로짓으로 미분한 값 (미니맥스, non-saturating).

    미니맥스 log(1 - σ(s)) 의 그래디언트는 -D(G(z)) 라서 가짜가 티 날수록(≈0) 사라지고,
    non-saturating -log σ(s) 의 그래디언트는 -(1 - D(G(z))) 라서 그때 가장 큽니다.
    """
    logit = torch.logit(torch.tensor(d_fake, dtype=torch.float64)).requires_grad_()
    minimax, = torch.autograd.grad(-F.softplus(logit), logit)          # log(1 - σ(s)) = -softplus(s)
    non_saturating, = torch.autograd.grad(generator_loss(logit.view(1)), logit)
    return minimax.item(), non_saturating.item()


def explain_objective() -> None:
    print("  판별자 D: log D(x) + log(1 - D(G(z))) 를 최대화 (진짜 → 1, 가짜 → 0 으로 맞히기)")
    print("  생성자 G: 원래 미니맥스는 log(1 - D(G(z))) 를 최소화, 실제로는 -log D(G(z)) 를 최소화(non-saturating)")
    print("  두 손실의 그래디언트(로짓에 대해): 학습 초기처럼 D(G(z)) 가 0 에 가까우면 미니맥스 쪽은 거의 0 입니다")
    for d_fake in (0.001, 0.1, 0.5, 0.9):
        minimax, non_saturating = generator_gradients(d_fake)
        print(f"    D(G(z)) = {d_fake:<5}  미니맥스 {minimax:+.3f}   non-saturating {non_saturating:+.3f}")


# %%
if __name__ == "__main__":
    section("3. 적대적 목표: 미니맥스와 non-saturating 생성자 손실")
    explain_objective()

# %% [markdown]
# ## 4. 적대적 학습: 판별자 한 번, 생성자 한 번을 번갈아
# 한 단계는 두 번의 갱신입니다.
# 1. **판별자**: 진짜 배치와 가짜 배치 $G(z)$ 로 $-[\log D(x) + \log(1 - D(G(z)))]$ 를 줄입니다.
#    가짜는 `detach()` 해서 그래디언트가 생성자로 흘러가지 않게 합니다.
# 2. **생성자**: 방금 갱신된 판별자를 속이도록 $-\log D(G(z))$ 를 줄입니다.
#
# 옵티마이저는 논문대로 Adam(학습률 $2\times10^{-4}$, $\beta_1 = 0.5$). 이 한 단계를 `fit` 에 넘기면 에폭 반복·체크포인트·
# `--resume` 은 `fit` 이 맡습니다. 에폭마다 **고정된 잠재 벡터 64개**로 격자 그림을 남겨, 같은 $z$ 가 얼굴이 되어 가는
# 과정을 GIF 로 봅니다. 격자는 평가 모드(배치 정규화가 학습 중 모은 평균·분산 사용)로 만듭니다.

# %%
def sample_latent(n: int, latent_dim: int, device=None, temperature: float = 1.0) -> torch.Tensor:
    """z ~ N(0, I). temperature(<1)로 줄이면 평균 근처만 뽑아 품질↑·다양성↓ (truncation 과 같은 생각)."""
    return torch.randn(n, latent_dim, device=device) * temperature


def train_step(generator, discriminator, real, opt_g, opt_d) -> dict:
    """적대적 학습 한 단계: (1) 판별자 한 번 갱신 → (2) 생성자 한 번 갱신.

    DCGAN 얼굴과 2차원 장난감 GAN(5절)이 이 함수 하나를 함께 씁니다.
    """
    z = sample_latent(len(real), generator.latent_dim, real.device)
    fake = generator(z)
    # (1) 판별자: 가짜는 detach() 해서 생성자 쪽으로 그래디언트가 가지 않게 합니다.
    real_logits = discriminator(real)
    fake_logits = discriminator(fake.detach())
    loss_d = discriminator_loss(real_logits, fake_logits)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    # (2) 생성자: 방금 갱신된 판별자를 속이도록. 판별자 파라미터의 그래디언트는 다음 (1)에서 지워집니다.
    loss_g = generator_loss(discriminator(fake))
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return {"d_loss": loss_d.item(), "g_loss": loss_g.item(),
            "d_real": torch.sigmoid(real_logits).mean().item(), "d_fake": torch.sigmoid(fake_logits).mean().item()}


def make_optimizers(generator, discriminator, lr: float):
    """DCGAN 논문의 Adam 설정: 학습률 2e-4, beta1=0.5 (기본 0.9 는 적대적 학습에서 진동이 큼)."""
    return (torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999)),
            torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999)))


@torch.no_grad()
def generate(generator, z: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
    """평가 모드(배치 정규화가 학습 중 모은 평균·분산 사용)로 이미지를 만듭니다."""
    was_training = generator.training
    generator.eval()
    out = torch.cat([generator(part) for part in z.split(batch_size)])
    generator.train(was_training)
    return out


def image_grid(images: torch.Tensor, nrow: int = 8) -> np.ndarray:
    """(N,C,H,W) [-1,1] → 한 장의 (H',W',3) uint8 격자 (GIF 프레임·PNG 용)."""
    from torchvision.utils import make_grid

    grid = make_grid(to_uint8(images), nrow=nrow, padding=2, pad_value=255)
    if grid.shape[0] == 1:
        grid = grid.expand(3, -1, -1)
    return grid.permute(1, 2, 0).numpy()


STAT_LABELS = {"train_d_loss": "D 손실", "train_g_loss": "G 손실", "train_d_real": "D(x)",
               "train_d_fake": "D(G(z))", "iterations": None}


def can_resume(run, config: dict, fixed_z: torch.Tensor) -> bool:
    """--resume 의 경계 검사: 체크포인트의 네트워크 설정이 지금과 같을 때만 이어서 학습합니다 (나머지는 fit 이 읽음)."""
    state = load_checkpoint(run.checkpoint_path)
    if state.get("config") != config:
        raise CourseError(f"체크포인트의 네트워크 모양이 지금 설정과 다릅니다: {run.checkpoint_path}\n"
                          "       저장할 때와 같은 --width·데이터로 이어서 학습하거나, --resume 없이 새로 시작하세요.")
    fixed_z.copy_(state["fixed_z"])
    return True


def train_gan(generator, discriminator, batches, epochs: int, lr: float, run, fixed_z, config: dict,
              resume: bool = False) -> dict:
    """DCGAN 학습: 한 단계(train_step)는 이 장의 것, 에폭 반복·체크포인트·--resume 은 fit 이 맡습니다.

    반복마다 손실과 D(x)·D(G(z))를 history["iterations"] 에, 에폭마다 고정 잠재 벡터의 격자 그림을 남깁니다.
    """
    opt_g, opt_d = make_optimizers(generator, discriminator, lr)
    grids = run.path("grids")
    grids.mkdir(exist_ok=True)
    if not (resume and run.checkpoint_path.is_file() and can_resume(run, config, fixed_z)):
        for old in grids.glob("epoch_*.png"):   # 이전 실행이 남긴 격자가 GIF 에 섞이지 않도록
            old.unlink()
    this_epoch = []

    def step(batch) -> dict:
        this_epoch.append(train_step(generator, discriminator, batch[0].to(run.device), opt_g, opt_d))
        return this_epoch[-1]

    def end_of_epoch(epoch: int, history: dict) -> dict:
        Image.fromarray(image_grid(generate(generator, fixed_z))).save(grids / f"epoch_{epoch + 1:03d}.png")
        iterations = {key: [s[key] for s in this_epoch] for key in this_epoch[0]}
        this_epoch.clear()
        return {"iterations": iterations}

    return fit(nn.ModuleDict({"generator": generator, "discriminator": discriminator}), batches, None, None,
               {"generator": opt_g, "discriminator": opt_d}, run.device, epochs, train_step=step,
               on_epoch_end=end_of_epoch, run=run, resume=resume, labels=STAT_LABELS,
               checkpoint_extra={"config": config, "fixed_z": fixed_z.cpu()})


# %%
if __name__ == "__main__":
    section("4. 적대적 학습: 판별자 한 번, 생성자 한 번을 번갈아")
    epochs = 1 if args.quick else args.epochs
    batches = TensorBatches(train_x, torch.zeros(len(train_x)), args.batch_size, shuffle=True,
                            transform=to_model_range, seed=args.seed)
    fixed_z = sample_latent(64, LATENT_DIM, run.device)
    t0 = time.perf_counter()
    with cpu_threads(args.threads):   # 다른 작업이 코어를 모두 쓰고 있으면 1스레드 (같은 값, 덜 기다림)
        history = train_gan(generator, discriminator, batches, epochs, args.lr, run, fixed_z,
                            config={"channels": channels, "image_size": size, "width": width}, resume=args.resume)
    images_per_second = len(train_x) * len(history["epoch_seconds"]) / max(sum(history["epoch_seconds"]), 1e-9)
    print(f"  학습 속도: 초당 약 {images_per_second:.0f}장 (이번 실행 {time.perf_counter() - t0:.0f}초)")

# %% [markdown]
# ## 5. 학습 과정 보기: 손실 곡선과 GIF
# GAN 의 손실은 분류기처럼 꾸준히 내려가지 않습니다. 두 네트워크가 서로의 목표를 움직이기 때문입니다.
# 판별자가 진짜에 준 확률 $D(x)$ 와 가짜에 준 확률 $D(G(z))$ 가 0 이나 1 로 붙어 버리지 않고 그 사이에서
# 오가는 것이 '균형이 유지되고 있다'는 신호입니다. 반복마다 출렁이므로 이동 평균으로 추세를 봅니다.

# %%
def save_training_gif(grid_dir: Path, path: Path, seconds_per_frame: float = 0.5) -> int:
    """에폭별 격자 PNG 들을 움직이는 GIF 하나로 (같은 z 가 얼굴이 되어 가는 과정)."""
    frames = [Image.open(p).convert("RGB") for p in sorted(grid_dir.glob("epoch_*.png"))]
    if frames:
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=round(seconds_per_frame * 1000), loop=0)
    return len(frames)


def smooth(values: list[float], window: int) -> np.ndarray:
    """이동 평균: 반복마다 출렁이는 GAN 손실의 추세를 보기 위해."""
    v = np.asarray(values, dtype=float)
    window = max(1, min(window, len(v)))
    return np.convolve(v, np.ones(window) / window, mode="valid")


def per_iteration(history: dict) -> dict:
    """fit 의 history 에서 반복별 기록을 에폭 순서대로 이어 붙입니다."""
    return {key: [v for epoch in history["iterations"] for v in epoch[key]] for key in history["iterations"][0]}


def plot_gan_history(history: dict, path: Path) -> Path:
    steps = per_iteration(history)
    fig, axes = new_figure(ncols=2, size=(6, 4))
    window = max(1, len(steps["d_loss"]) // 50)
    iters_per_epoch = len(steps["d_loss"]) / max(len(history["epoch_seconds"]), 1)
    for ax, keys, names, title in [
        (axes[0, 0], ("d_loss", "g_loss"), ("판별자 손실", "생성자 손실"), "손실 (이동 평균)"),
        (axes[0, 1], ("d_real", "d_fake"), ("D(x): 진짜에 준 확률", "D(G(z)): 가짜에 준 확률"), "판별자의 출력")]:
        for key, name in zip(keys, names):
            y = smooth(steps[key], window)
            ax.plot((np.arange(len(y)) + window) / iters_per_epoch, y, label=name)
        ax.set_xlabel("에폭")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0, 1].set_ylim(0, 1)
    fig.suptitle("DCGAN 적대적 학습 곡선")
    return save_figure(fig, path)


# %%
if __name__ == "__main__":
    section("5. 학습 과정 보기: 손실 곡선과 GIF")
    generator.cpu().eval()
    plot_gan_history(history, run.path("gan_curves.png"))
    n_frames = save_training_gif(run.path("grids"), run.path("training.gif"))
    plot_image_grid(to_uint8(generate(generator, fixed_z.cpu())), [""] * len(fixed_z), run.path("final_grid.png"),
                    title=f"{epochs}에폭 후 생성 이미지 (고정 잠재 벡터 64개)", ncols=8)
    print(f"  에폭별 격자 {n_frames}장 → {run.path('training.gif')}")

# %% [markdown]
# ## 6. 모드 붕괴: 원 위의 가우시안 8개
# 생성자는 판별자를 속이기만 하면 되므로, 진짜 분포의 한 부분(모드)만 잘 흉내 내고 나머지는 버릴 수 있습니다
# (**모드 붕괴**). 얼굴에서는 눈으로 판단하기 어려우니 답을 아는 2차원 데이터로 봅니다: 반지름 2 인 원 위의
# 가우시안 8개 ($\sigma = 0.02$). 표본 2,500개에서 가장 가까운 중심까지 $3\sigma$ 안이면 '고품질',
# 한 모드에 고품질 표본이 전체의 1/32 이상이면 그 모드를 '덮었다'고 셉니다.
#
# **해결책: 미니배치 표준편차** (Karras et al., ProGAN 2018). 판별자가 표본 하나만 보면 한곳에 몰린 가짜도 하나하나는
# 진짜처럼 보입니다. 특성마다 배치 안의 표준편차를 재어 평균한 값을 특성 하나로 덧붙이면, 판별자가 '다양성 부족'을
# 알아챕니다. 보통 GAN 과 같은 네트워크·옵티마이저·단계 수·시드로 비교하고, 시드 3개 중 가운데 실행(덮은 모드 수, 다음으로
# 고품질 비율 순)을 그림에 그리고 그 실행의 값을 보고합니다 — 그림과 숫자가 같은 실행에서 나오게.

# %%
RING_RADIUS, RING_SIGMA, RING_MODES = 2.0, 0.02, 8
RING_EVAL_SAMPLES = 2500
RING_LATENT_DIM = 256   # 언롤드 GAN 논문의 설정: 높은 차원의 잠재 벡터 (2차원이면 보통 GAN 도 붕괴가 잘 드러나지 않음)


def ring_centres() -> torch.Tensor:
    angles = torch.arange(RING_MODES) * (2 * math.pi / RING_MODES)
    return RING_RADIUS * torch.stack([angles.cos(), angles.sin()], dim=1)


def sample_ring(n: int, generator: torch.Generator) -> torch.Tensor:
    """모드(봉우리) 8개 중 하나를 고르고 그 중심에 작은 가우시안 잡음을 더합니다."""
    mode = torch.randint(0, RING_MODES, (n,), generator=generator)
    return ring_centres()[mode] + RING_SIGMA * torch.randn(n, 2, generator=generator)


def count_modes(samples: torch.Tensor) -> tuple[int, float]:
    """(덮은 모드 수, 고품질 비율). 고품질 = 가장 가까운 중심에서 3σ 이내.

    한 모드가 '덮였다' = 그 모드 근처의 고품질 표본이 전체의 1/32 이상 (공정한 몫 1/8 의 4분의 1).
    """
    dist, nearest = torch.cdist(samples.float(), ring_centres()).min(dim=1)
    good = dist <= 3 * RING_SIGMA
    per_mode = torch.bincount(nearest[good], minlength=RING_MODES)
    return int((per_mode >= len(samples) / 32).sum()), good.float().mean().item()


class MinibatchStd(nn.Module):
    """해결책: 미니배치 표준편차 (Karras et al., ProGAN 2018).

    판별자가 표본 하나만 보면 '한 모드에 몰린 가짜'도 하나하나는 진짜처럼 보입니다.
    그래서 특성마다 배치 안의 표준편차를 재어 평균한 값을 특성 하나로 덧붙입니다:
    가짜가 한곳에 몰리면 이 값이 진짜 배치와 달라지므로, 판별자가 '다양성 부족'을 알아챕니다.
    """

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        spread = h.std(dim=0).mean().expand(len(h), 1)
        return torch.cat([h, spread], dim=1)


class ToyGenerator(nn.Module):
    def __init__(self, latent_dim: int = RING_LATENT_DIM, hidden: int = 128):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 2))

    def forward(self, z):
        return self.net(z)


class ToyDiscriminator(nn.Module):
    """remedy=True 면 첫 은닉층 뒤에 미니배치 표준편차 특성 하나를 덧붙입니다 (나머지는 같음)."""

    def __init__(self, hidden: int = 128, remedy: bool = False):
        super().__init__()
        extra = 1 if remedy else 0
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.LeakyReLU(0.2),
                                 MinibatchStd() if remedy else nn.Identity(),
                                 nn.Linear(hidden + extra, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x).flatten()


def train_ring_gan(remedy: bool, seed: int, steps: int, lr: float = 1e-3, batch_size: int = 256,
                   snapshots: int = 5) -> dict:
    """같은 시드·네트워크·옵티마이저·단계 수로 한 번 학습하고, 중간 표본과 최종 점수를 돌려줍니다.

    데이터를 단계마다 새로 뽑는 작은 실험이라 에폭·체크포인트가 없습니다: 4절의 train_step 을 그대로 부릅니다.
    """
    torch.manual_seed(seed)
    data_rng = torch.Generator().manual_seed(seed)
    generator, discriminator = ToyGenerator(), ToyDiscriminator(remedy=remedy)
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), lr=lr, betas=(0.5, 0.999)) for m in (generator, discriminator))
    # 학습률을 0 까지 선형으로 줄여 마지막에 표본이 모드 중심에 자리 잡게 합니다 (두 방법 모두 같게).
    schedulers = [torch.optim.lr_scheduler.LambdaLR(o, lambda s: 1 - s / steps) for o in (opt_g, opt_d)]
    marks = {round(steps * (i + 1) / snapshots) for i in range(snapshots)}
    pictures = []
    for step in range(1, steps + 1):
        train_step(generator, discriminator, sample_ring(batch_size, data_rng), opt_g, opt_d)
        for s in schedulers:
            s.step()
        if step in marks:
            with torch.no_grad():
                pictures.append((step, generator(sample_latent(RING_EVAL_SAMPLES, generator.latent_dim))))
    modes, quality = count_modes(pictures[-1][1])
    return {"modes": modes, "high_quality": quality, "snapshots": pictures}


def median_run(runs: list[dict]) -> dict:
    """시드별 결과 중 (덮은 모드 수, 고품질 비율) 순서로 가운데인 것 — 그림에 그릴 '대표' 실행."""
    return sorted(runs, key=lambda r: (r["modes"], r["high_quality"]))[len(runs) // 2]


def mode_collapse_demo(seeds: list[int], steps: int) -> dict:
    """보통 GAN 과 해결책을 시드마다 같은 조건으로 학습하고, 시드 3개의 중앙값과 그 중앙값을 낸 실행을 돌려줍니다."""
    results = {"plain": [], "fixed": []}
    for seed in seeds:
        for key in results:
            t0 = time.perf_counter()
            r = train_ring_gan(remedy=key == "fixed", seed=seed, steps=steps) | {"seed": seed}
            results[key].append(r)
            print(f"  {'보통 GAN' if key == 'plain' else '미니배치 표준편차'} 시드 {seed}: 덮은 모드 {r['modes']}/8, "
                  f"고품질 {r['high_quality']:.1%}  ({time.perf_counter() - t0:.1f}초)")
    shown = {key: median_run(runs) for key, runs in results.items()}
    summary = {}
    for key, r in shown.items():
        # 중앙값 = 가운데 실행의 값 (시드 3개라 평균과 달리 실제로 그린 실행 하나의 값과 같음)
        summary[f"modes_covered_{key}"] = r["modes"]
        summary[f"high_quality_{key}"] = round(r["high_quality"], 4)
    return {"summary": summary, "shown": shown}


def plot_mode_collapse(shown: dict, path: Path) -> Path:
    """행: 보통 GAN / 해결책 (각각 시드 3개 중 가운데 실행), 열: 학습 진행. 빨간 ×가 진짜 모드 중심.

    행 이름의 숫자는 그 행에 그린 실행 자신의 점수입니다 (그림과 글이 어긋나지 않게).
    """
    n = len(shown["plain"]["snapshots"])
    fig, axes = new_figure(ncols=n, nrows=2, size=(2.6, 2.7))
    centres = ring_centres()
    for row, (key, label) in enumerate([("plain", "보통 GAN"), ("fixed", "미니배치 표준편차")]):
        for ax, (step, pts) in zip(axes[row], shown[key]["snapshots"]):
            ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.3, color="tab:blue")
            ax.scatter(centres[:, 0], centres[:, 1], marker="x", color="tab:red", s=30)
            ax.set_xlim(-2.8, 2.8)
            ax.set_ylim(-2.8, 2.8)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{step}단계", fontsize=9)
        axes[row, 0].set_ylabel(mode_collapse_label(label, shown[key]), fontsize=9)
    fig.suptitle("모드 붕괴: 원 위의 가우시안 8개 (반지름 2, σ=0.02; 행마다 시드 3개 중 가운데 실행)")
    return save_figure(fig, path)


def mode_collapse_label(name: str, run_result: dict) -> str:
    return f"{name} (시드 {run_result['seed']})\n덮은 모드 {run_result['modes']}/8, 고품질 {run_result['high_quality']:.0%}"


# %%
if __name__ == "__main__":
    section("6. 모드 붕괴: 원 위의 가우시안 8개")
    print("  보통 GAN vs 해결책(미니배치 표준편차: 판별자가 배치 안의 '퍼짐'을 보고 한곳에 몰린 가짜를 알아챔),\n"
          "  같은 네트워크·옵티마이저·단계 수·시드. 표본 2,500개에서 3σ 안의 고품질 비율과 덮은 모드 수를 셉니다.")
    ring_steps = args.ring_steps or (RING_STEPS_QUICK if args.quick else RING_STEPS)
    with cpu_threads(args.threads):
        demo = mode_collapse_demo(seeds=[args.seed, args.seed + 1, args.seed + 2], steps=ring_steps)
    plot_mode_collapse(demo["shown"], run.path("mode_collapse.png"))
    s = demo["summary"]
    print(f"  중앙값 — 보통 GAN: {s['modes_covered_plain']}/8 모드, 고품질 {s['high_quality_plain']:.1%} | "
          f"미니배치 표준편차: {s['modes_covered_fixed']}/8 모드, 고품질 {s['high_quality_fixed']:.1%}")

# %% [markdown]
# ## 7. 잠재 공간: 보간, 벡터 산술, 온도
# - **보간**: 두 잠재 벡터 사이를 걸으면 얼굴이 부드럽게 바뀝니다. 100차원 가우시안 표본은 길이가 거의 $\sqrt{100} = 10$ 인
#   구 껍질 위에 있으므로, 선형 보간 $(1-t)z_0 + t z_1$ 의 중간은 원점 쪽으로 짧아집니다 (거의 직교하는 두 벡터라
#   중간 길이 ≈ $10/\sqrt{2} \approx 7$). 구면 보간(slerp)은 각도 $\omega$ 를 따라 돌아가 길이를 유지합니다:
#   $\mathrm{slerp}(z_0, z_1; t) = \dfrac{\sin((1-t)\omega)}{\sin\omega} z_0 + \dfrac{\sin(t\omega)}{\sin\omega} z_1$.
#   길이 차이가 그림에서 얼마나 보이는지는 생성자마다 다르므로, 두 방법의 중간 이미지 차이를 숫자로 잽니다.
#   (이 과정의 DCGAN 에서 본 것: 선형 보간의 중간은 색이 바래고 흐린 얼굴, 구면 보간은 대비가 그대로인 얼굴이었습니다.)
# - **벡터 산술**: 어떤 특징을 가진 표본들의 평균 $z$ 에서 갖지 않은 표본들의 평균 $z$ 를 빼면 그 특징의 방향이 나옵니다.
#   여기서는 레이블 없이 재는 특징인 '밝기'를 씁니다. 방향은 길이 1로 맞추고, 얼마나 움직였는지(길이 10인 $z$ 에 비해)를 적습니다.
# - **온도**: $z$ 에 1 보다 작은 수를 곱하면 원점 근처만 뽑아 다양성↓ (truncation 과 같은 생각). 다양성은 표본끼리의
#   평균 픽셀 거리로 잽니다. 큰 GAN(BigGAN 등)에서는 온도를 낮추면 품질이 좋아지지만, 이 작은 DCGAN 에서는 그렇지 않았습니다:
#   0.5 아래는 색이 바래고 흐린 비슷비슷한 얼굴, 1.5 는 어둡게 깨진 얼굴이 늘고, 0.7~1.0 이 가장 나았습니다.
#   온도 0 ($z = 0$)은 '평균 얼굴'이 아닙니다: 학습 중 생성자가 본 $z$ 는 모두 길이 10 근처였고 원점은 한 번도 본 적
#   없는 곳이라, 이전 판의 그림에서는 특징 없는 회색 판이 나왔습니다 (그래서 그림은 0.25부터 시작합니다).

# %%
def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """선형 보간. 고차원 가우시안에서는 중간 지점의 길이가 짧아져(원점 쪽) 흐린 평균 얼굴이 되기 쉽습니다."""
    t = t.view(-1, 1)
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """구면 보간: 두 벡터 사이의 각도를 따라 돌아가므로 길이(≈√100)가 유지됩니다 (White, 2016)."""
    t = t.view(-1, 1)
    cos = (z0 @ z1) / (z0.norm() * z1.norm())
    omega = torch.arccos(cos.clamp(-1 + 1e-7, 1 - 1e-7))
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def show_image(ax, img: torch.Tensor) -> None:
    arr = to_uint8(img)
    ax.imshow(arr[0].numpy() if arr.shape[0] == 1 else arr.permute(1, 2, 0).numpy(),
              cmap="gray" if arr.shape[0] == 1 else None)
    ax.set_xticks([])
    ax.set_yticks([])


def most_different_pair(generator, n: int = 16) -> torch.Tensor:
    """표본 n개 중 생성 이미지가 가장 다른 두 z — 보간의 양 끝이 닮은 얼굴이면 걸어가는 모습이 보이지 않으므로."""
    z = sample_latent(n, generator.latent_dim)
    images = generate(generator, z).flatten(1).float()
    i, j = divmod(int(torch.cdist(images, images).argmax()), n)
    return z[[i, j]]


def pixel_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """[-1, 1] 이미지 두 묶음의 평균 절대 픽셀 차이를 0~1 밝기 단위로."""
    return ((a.float() - b.float()).abs().mean() / 2).item()


def mean_pairwise_distance(images: torch.Tensor) -> float:
    """서로 다른 표본 쌍마다의 평균 절대 픽셀 차이(0~1 밝기 단위)의 평균 — 다양성의 잣대."""
    flat = images.flatten(1).float()
    n, pixels = flat.shape
    return (torch.cdist(flat, flat, p=1).sum() / (n * (n - 1) * pixels) / 2).item()


def plot_interpolation(generator, z0, z1, path: Path, steps: int = 8) -> Path:
    t = torch.linspace(0, 1, steps)
    rows = {"선형 보간": lerp(z0, z1, t), "구면 보간(slerp)": slerp(z0, z1, t)}
    fig, axes = new_figure(ncols=steps, nrows=2, size=(1.3, 1.5))
    for r, (name, z) in enumerate(rows.items()):
        for c, img in enumerate(generate(generator, z)):
            show_image(axes[r, c], img)
            axes[r, c].set_title(f"t={t[c]:.2f}", fontsize=8)
            axes[r, c].set_xlabel(f"|z|={z[c].norm():.1f}", fontsize=8)
        axes[r, 0].text(-0.15, 0.5, name, transform=axes[r, 0].transAxes, rotation=90, va="center", ha="right")
    fig.suptitle("잠재 공간 보간: 두 얼굴 사이를 걸어가기 (|z| = 잠재 벡터의 길이)")
    return save_figure(fig, path)


def brightness_direction(generator, n: int = 256, k: int = 16) -> torch.Tensor:
    """잠재 벡터 산술: 가장 밝은 표본 k개의 평균 z − 가장 어두운 k개의 평균 z = '밝기 방향' (길이 1로 맞춤).

    레이블 없이도 고른 표본들의 잠재 벡터를 평균하면 그 표본들이 공유하는 특징의 방향이 나옵니다.
    (얼굴 속성 레이블이 있다면 '웃는 얼굴 평균 − 무표정 평균' 처럼 같은 방법을 씁니다.)
    """
    z = sample_latent(n, generator.latent_dim)
    order = generate(generator, z).mean(dim=(1, 2, 3)).argsort()
    direction = z[order[-k:]].mean(0) - z[order[:k]].mean(0)
    return direction / direction.norm()


def plot_latent_arithmetic(generator, path: Path, amounts=(-4.0, -2.0, 0.0, 2.0, 4.0), rows: int = 4) -> list[float]:
    """새로 뽑은 z 몇 개에 밝기 방향을 더하고 빼서 그리고, 열마다 잰 평균 밝기(0~1)를 돌려줍니다."""
    direction = brightness_direction(generator)
    bases = sample_latent(rows, generator.latent_dim)   # 밝기로 고르지 않은 새 표본 (어두운 것만 고르면 빼는 쪽이 검게 됨)
    fig, axes = new_figure(ncols=len(amounts), nrows=rows, size=(1.3, 1.4))
    columns = [generate(generator, bases + a * direction) for a in amounts]
    for c, (a, images) in enumerate(zip(amounts, columns)):
        for r, img in enumerate(images):
            show_image(axes[r, c], img)
        axes[0, c].set_title(f"z {'+' if a >= 0 else '-'} {abs(a):g}·방향", fontsize=8)
    fig.suptitle("잠재 벡터 산술: 밝기 방향(길이 1; |z| ≈ 10)을 더하고 빼기")
    save_figure(fig, path)
    return [round((images.float().mean().item() + 1) / 2, 3) for images in columns]


def plot_temperature(generator, path: Path, temperatures=(0.25, 0.5, 0.75, 1.0, 1.5), n: int = 6,
                     n_diversity: int = 64) -> list[float]:
    """같은 z 를 온도만 바꿔 곱해 그리고, 온도마다 표본 n_diversity 개의 다양성(평균 픽셀 거리)을 돌려줍니다.

    온도가 낮을수록 다양성이 줄어듭니다. 품질이 좋아지는지는 생성자에 달려 있어 그림으로 확인합니다.
    """
    base = sample_latent(n_diversity, generator.latent_dim)
    fig, axes = new_figure(ncols=n, nrows=len(temperatures), size=(1.2, 1.3))
    diversity = []
    for r, temp in enumerate(temperatures):
        images = generate(generator, base * temp)
        for c, img in enumerate(images[:n]):
            show_image(axes[r, c], img)
        diversity.append(round(mean_pairwise_distance(images), 4))
        axes[r, 0].set_ylabel(f"온도 {temp}\n다양성 {diversity[-1]:.3f}", fontsize=9)
    fig.suptitle("온도(truncation): z 의 크기가 다양성을 바꿉니다 (다양성 = 표본끼리 평균 픽셀 차이)")
    save_figure(fig, path)
    return diversity


# %%
if __name__ == "__main__":
    section("7. 잠재 공간: 보간, 벡터 산술, 온도")
    torch.manual_seed(args.seed)
    z_pair = most_different_pair(generator)
    half = torch.tensor([0.5])
    mid_lerp, mid_slerp = lerp(z_pair[0], z_pair[1], half), slerp(z_pair[0], z_pair[1], half)
    print(f"  |z0| = {z_pair[0].norm():.2f}, |z1| = {z_pair[1].norm():.2f}, 중간 지점의 길이: "
          f"선형 {mid_lerp.norm():.2f}, 구면 {mid_slerp.norm():.2f}")
    ends = generate(generator, z_pair)
    mids = generate(generator, torch.cat([mid_lerp, mid_slerp]))
    print(f"  평균 픽셀 차이 (0~1): 두 끝 얼굴 {pixel_distance(ends[0], ends[1]):.3f}, "
          f"선형 vs 구면 중간 {pixel_distance(mids[0], mids[1]):.3f}")
    plot_interpolation(generator, z_pair[0], z_pair[1], run.path("interpolation.png"))
    brightness = plot_latent_arithmetic(generator, run.path("latent_arithmetic.png"))
    print("  밝기 방향을 더한 양별 평균 밝기 (0~1): " + ", ".join(f"{b:.3f}" for b in brightness))
    diversity = plot_temperature(generator, run.path("temperature.png"))
    print("  온도별 다양성 (0.25, 0.5, 0.75, 1.0, 1.5): " + ", ".join(f"{d:.3f}" for d in diversity))

# %% [markdown]
# ## 8. 품질 측정: FID 또는 최근접 이웃 거리 비율
# - **FID**: 사전 학습된 Inception-v3 의 특성(2048차원)을 진짜와 가짜 각각 가우시안으로 보고 두 분포의 거리를 잽니다
#   (낮을수록 좋음). 패키지와 가중치가 있을 때만 계산하며, 표본이 600장뿐이라 값이 크게 나옵니다.
# - **nn_ratio**: 생성 이미지 → 가장 가까운 학습 이미지의 거리 평균 ÷ 평가용 진짜 얼굴 → 가장 가까운 학습 이미지의 거리 평균.
#   ≈1 이면 진짜 새 얼굴만큼 학습 데이터와 떨어져 있고, ≪1 이면 학습 데이터를 베낀 것이며, ≫1 이면 얼굴에서 벗어난 것입니다.

# %%
FID_WEIGHTS_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                   "weights-inception-2015-12-05-6726825d.pth")   # torchmetrics 가 쓰는 Inception 가중치


def fid_unavailable_reason(allow_download: bool) -> str | None:
    """FID 패키지와 Inception 가중치(캐시 또는 시간 제한 있는 내려받기)가 있으면 None, 아니면 이유 (오프라인에서 멈추지 않게)."""
    if importlib.util.find_spec("torchmetrics") is None or importlib.util.find_spec("torch_fidelity") is None:
        return "torchmetrics[image] 가 설치되어 있지 않습니다 (pip install 'torchmetrics[image]')"
    reason = fetch_hub_weights(FID_WEIGHTS_URL, allow_download)
    return None if reason is None else f"Inception {reason}"


def compute_fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    """torchmetrics 의 FID (Inception-v3 pool3 특성의 가우시안 거리). uint8 (N,3,H,W) 를 받습니다."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    fid = FrechetInceptionDistance(feature=2048)
    fid.update(real, real=True)
    fid.update(fake, real=False)
    return float(fid.compute())


def nearest_distances(queries: torch.Tensor, reference: torch.Tensor, chunk: int = 256):
    """각 질의 이미지에서 가장 가까운 참조 이미지까지의 유클리드 거리(픽셀 공간, [0,1] 스케일)와 그 번호."""
    q = queries.flatten(1).float() / 255
    r = reference.flatten(1).float() / 255
    dists, idx = [], []
    for part in q.split(chunk):
        d = torch.cdist(part, r).min(dim=1)
        dists.append(d.values)
        idx.append(d.indices)
    return torch.cat(dists), torch.cat(idx)


def nn_ratio(generated: torch.Tensor, held_out: torch.Tensor, train: torch.Tensor) -> tuple[float, torch.Tensor]:
    """생성 이미지→학습 이미지 최근접 거리 평균 ÷ 평가용 진짜→학습 최근접 거리 평균.

    ≈1: 진짜 새 얼굴만큼 학습 데이터와 떨어져 있음. ≪1: 학습 데이터를 베낌. ≫1: 얼굴에서 벗어남.
    """
    d_gen, idx = nearest_distances(generated, train)
    d_real, _ = nearest_distances(held_out, train)
    return (d_gen.mean() / d_real.mean()).item(), idx


def plot_nearest_pairs(generated: torch.Tensor, train: torch.Tensor, idx: torch.Tensor, path: Path,
                       n: int = 8) -> Path:
    images = torch.stack([t for i in range(n) for t in (generated[i], train[idx[i]])])
    titles = [t for i in range(n) for t in (f"생성 {i + 1}", "가장 가까운 학습")]
    return plot_image_grid(images, titles, path, title="생성된 얼굴과 가장 가까운 학습 얼굴 (베끼지 않았는지 확인)",
                           ncols=8)


# %%
if __name__ == "__main__":
    section("8. 품질 측정: FID 또는 최근접 이웃 거리 비율")
    generated = to_uint8(generate(generator, sample_latent(len(test_x), LATENT_DIM)))
    ratio, idx = nn_ratio(generated, test_x, train_x)
    plot_nearest_pairs(generated, train_x, idx, run.path("nearest_neighbours.png"))
    print(f"  nn_ratio = {ratio:.3f}  (평가용 진짜 얼굴 = 1.0; ≪1 이면 베끼기, ≫1 이면 얼굴에서 벗어남)")
    metrics = {**s, "nn_ratio": round(ratio, 4), "images_per_second": round(images_per_second, 1)}
    if channels != 3:
        reason = "흑백 대체 데이터에는 FID 를 쓰지 않습니다"
    elif args.quick:
        reason = "--quick 에서는 계산하지 않습니다 (표본이 너무 적고 Inception 순전파가 느림)"
    else:
        reason = fid_unavailable_reason(allow_download=not args.no_download)
    if reason is None:
        metrics["fid"] = round(compute_fid(test_x, generated), 2)
        print(f"  FID = {metrics['fid']:.2f}  (낮을수록 진짜 분포에 가까움; 표본 {len(test_x)}장이라 크게 나옵니다)")
    else:
        print(f"  [알림] FID 는 계산하지 않았습니다: {reason}\n         대신 nn_ratio 를 보고합니다.")
    run.write_metrics(dataset=data["name"], data_source=data["source"], epochs=len(history["epoch_seconds"]),
                      n_train=len(train_x), n_test=len(test_x), metrics=metrics)

# %% [markdown]
# ## 해 보세요
# 아래 숫자는 이 과정을 만든 2코어 CPU(AMD EPYC, 다른 작업과 함께)에서 잰 값입니다 (명령과 출력: `docs/notes/07_gan_image_generation.md`).
# 1·2번은 6절의 고리 실험만 다시 돌리므로(한 번 학습에 1스레드로 약 2~3분) 노트북에서 2~6절만 실행한 뒤 해 볼 수 있습니다.
#
# 1. **미니맥스 생성자 손실**: 3절의 `generator_loss` 를 $\log(1 - D(G(z)))$ 를 최소화하는 식
#    `-F.softplus(fake_logits).mean()` 으로 바꾸고 `train_ring_gan(remedy=False, seed=s, steps=RING_STEPS)` 를 시드 42·43·44 로
#    돌려 보세요. → 덮은 모드 8·8·8 (고품질 86.3 %·83.0 %·82.7 %). 기본(non-saturating)은 7·6·6 (82.7 %·82.8 %·85.6 %).
#    3절의 표가 말한 '초기 정체'는 판별자가 처음부터 가짜를 확신할 때(D(G(z)) ≈ 0) 생기는데, 이 2차원 고리에서는 판별자가
#    그렇게 빨리 이기지 못해 미니맥스도 잘 배웠습니다. 얼굴처럼 진짜와 가짜가 처음에 확연히 다른 데이터에서 해 보세요.
# 2. **잠재 차원 줄이기**: `RING_LATENT_DIM` 을 256 에서 2 로 바꾸고 같은 세 시드로 보통 GAN 을 돌려 보세요.
#    → 덮은 모드 8·7·8 (고품질 90.7 %·84.2 %·91.5 %), 256차원일 때는 7·6·6. 데이터(2차원)와 같은 차원의 잠재 공간에서는
#    생성자가 평면을 고리 위로 고르게 펴기 쉬워 붕괴가 덜 드러납니다 — 그래서 6절은 일부러 256차원을 씁니다.
# 3. **전치 합성곱의 크기**: 2절의 생성자처럼 4×4 에서 시작해 `nn.ConvTranspose2d(…, kernel_size=3, stride=2, padding=1)` 을 네 번
#    지나게 하고 크기를 재 보세요. → 4 → 7 → 13 → 25 → 49: 식 $(n-1)\cdot 2 - 2 + 3 = 2n - 1$ 이라 매번 하나씩 모자랍니다.
#    `output_padding=1` 을 더하면 4 → 8 → 16 → 32 → 64 로 커널 4와 같아집니다 (2절의 `conv_transpose_output_size` 로 먼저 예측해 보세요).
#
# <details><summary>질문 1. 6절 그림의 보통 GAN 은 여덟 곳 모두에 점이 있는데 왜 '덮은 모드 6/8' 일까요?</summary>
#
# '덮었다'는 점이 중심 근처(3σ = 0.06 안)에 전체의 1/32 이상 모였다는 뜻입니다. 보통 GAN 은 표본이 모드 사이의 고리 위에 넓게
# 퍼지고(품질이 낮은 표본), 두 모드에는 정확히 맞은 표본이 모자랐습니다. 모드 붕괴는 모드를 통째로 버리는 극단만이 아니라,
# 어떤 모드를 덜 흉내 내는 정도의 문제이기도 합니다. 미니배치 표준편차를 쓴 판별자는 퍼짐을 보고 이를 알아채 표본을 중심에 모읍니다.
# </details>
#
# <details><summary>질문 2. 왜 7절의 온도 그림은 0 이 아니라 0.25 부터 시작할까요?</summary>
#
# 생성자는 학습 중 길이가 약 10인 $z$ 만 보았습니다(100차원 표준 정규분포). $z = 0$ 은 그 구 껍질에서 가장 먼 곳이라 생성자가
# 무엇을 그릴지 보장이 없고, 이전 판의 그림에서는 특징 없는 회색 판이 나왔습니다. 온도를 낮추면 다양성(표본 사이 평균 픽셀
# 차이)이 확실히 줄지만, 품질이 좋아지는지는 생성자마다 다릅니다 — 이 DCGAN 에서는 0.5 아래가 색이 바랜 비슷한 얼굴이었습니다.
# </details>
