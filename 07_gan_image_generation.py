"""07. GAN 이미지 생성 (CelebA 얼굴): 생성자와 판별자, 적대적 학습, 모드 붕괴, 잠재 공간

학습 목표
    - 생성자(generator)와 판별자(discriminator)를 DCGAN 구조(전치 합성곱, 배치 정규화,
      논문의 가중치 초기화)로 만들고, 두 네트워크가 서로 경쟁하는 적대적 학습(adversarial training)을
      직접 한 번의 학습 루프로 써 봅니다.
    - 미니맥스(minimax) 목표와 '포화되지 않는(non-saturating)' 생성자 손실이 왜 필요한지 이해합니다.
    - 모드 붕괴(mode collapse)를 2차원 장난감 데이터(원 위의 가우시안 8개)에서 눈으로 보고,
      해결책 하나(미니배치 표준편차)와 같은 조건에서 비교합니다.
    - 잠재 공간(latent space)을 걸어 봅니다: 선형/구면 보간, 잠재 벡터 산술, 온도(truncation)의 효과.
    - 생성 품질을 정직하게 잽니다: FID(가능할 때) 또는 최근접 이웃 거리 비율 nn_ratio.

데이터셋
    CelebA 얼굴 6,000장(64×64, 정렬된 얼굴; DL_DATA_DIR/celeba64/faces/*.jpg 와 list.csv).
    list.csv 의 source_split 이 test 인 600장은 학습에 쓰지 않고 nn_ratio 의 기준으로 남겨 둡니다.
    공식 CelebA(img_align_celeba, torchvision 배치)가 있으면 그것을, --image-dir 로 아무 이미지 폴더나
    쓸 수도 있습니다. 데이터가 없으면 큰 안내와 함께 scikit-learn 에 들어 있는 손글씨 숫자(8×8)를
    32×32 로 키운 대체 데이터로 흐름만 보여 줍니다.
    CelebA 는 비상업적 연구 목적으로만 쓸 수 있습니다 (Liu et al., ICCV 2015).

핵심 개념
    생성자 · 판별자 · 적대적 학습 · 미니맥스 / non-saturating 손실 · 전치 합성곱 · 배치 정규화 ·
    모드 붕괴 · 미니배치 표준편차 · 잠재 공간 · 선형/구면 보간(slerp) · 온도(truncation) ·
    FID · 최근접 이웃 거리 비율(nn_ratio)

실행 방법
    python 07_gan_image_generation.py                   # 전체 (CelebA 5,400장으로 학습)
    python 07_gan_image_generation.py --quick           # 몇 초짜리 흐름 확인
    python 07_gan_image_generation.py --resume          # 중단된 학습 이어서
    python 07_gan_image_generation.py --image-dir 내사진폴더 --epochs 30
    python 07_gan_image_generation.py --epochs 40 --width 32   # 더 가벼운 네트워크로 더 오래

예상 시간 (실측은 docs/RESULTS.md)
    2코어 CPU: 전체 약 25~30분 (DCGAN 학습이 대부분), --quick 약 10초.
"""
from __future__ import annotations

import csv
import importlib.util
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from utils.data_utils import (TensorBatches, collect_image_paths, fetch_hub_weights, locate_dataset,
                              read_image, resolve_data_dir)
from utils.model_utils import (CourseError, count_parameters, lesson_main, load_checkpoint, make_parser,
                               positive_int, save_checkpoint, start_run)
from utils.visualization import new_figure, plot_image_grid, save_figure

LESSON = "07_gan_image_generation"
IMAGE_SIZE = 64
LATENT_DIM = 100
QUICK_TRAIN, QUICK_TEST = 96, 32       # --quick 에서 읽는 얼굴 수 (전체를 디코딩하지 않음)
CELEBA_MANUAL_STEPS = (
    "공식 CelebA 는 Google Drive 에서 내려받는데, 하루 내려받기 한도 때문에 자주 실패합니다.\n"
    "       직접 받으려면: https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html → 'Align&Cropped Images' 의\n"
    "       img_align_celeba.zip 을 받아 <데이터 루트>/celeba/img_align_celeba/ 에 풀어 두세요.")


# ---------------------------------------------------------------------------
# 1. 데이터: 얼굴 폴더를 한 번만 디코딩해 uint8 텐서(N,3,64,64)로
# ---------------------------------------------------------------------------
def celeba64_dir(root: Path) -> Path:
    return root / "celeba64"


def official_celeba_dir(root: Path) -> Path:
    return root / "celeba" / "img_align_celeba"


def celeba_present(root: Path) -> bool:
    return (celeba64_dir(root) / "list.csv").is_file() or official_celeba_dir(root).is_dir()


def download_dataset(root: Path) -> bool:
    """강사용 미리 받기: 공식 CelebA 를 torchvision 으로 받아 봅니다 (Google Drive, 약 1.4GB)."""
    root = Path(root)
    if celeba_present(root):
        return True
    try:
        from torchvision.datasets import CelebA

        CelebA(str(root), split="all", target_type="identity", download=True)
    except Exception as err:  # Google Drive 한도, 오프라인, gdown 없음 등
        print(f"  CelebA 내려받기 실패: {type(err).__name__}: {err}\n       {CELEBA_MANUAL_STEPS}")
    return celeba_present(root)


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
    """파일 목록을 한 번에 디코딩합니다. 이후 학습은 메모리의 텐서만 씁니다.

    읽을 수 없는 파일(깨진 파일, 이미지가 아닌 파일)은 건너뛰고 몇 개였는지 알립니다.
    """
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
    """목록을 섞어 일부를 평가용으로 떼어 냅니다 (공식 CelebA, --image-dir)."""
    order = torch.randperm(len(paths), generator=torch.Generator().manual_seed(seed)).tolist()
    n_test = max(1, int(len(paths) * test_fraction))
    return [paths[i] for i in order[n_test:]], [paths[i] for i in order[:n_test]]


def shrink(paths: list[Path], n: int, seed: int) -> list[Path]:
    """--quick: 무작위로 n개만 골라 그 파일들만 디코딩합니다."""
    if len(paths) <= n:
        return paths
    idx = torch.randperm(len(paths), generator=torch.Generator().manual_seed(seed))[:n]
    return [paths[i] for i in sorted(idx.tolist())]


def digits_faces_stand_in(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """대체 데이터: scikit-learn 내장 손글씨 숫자(8×8, 1,797장)를 32×32 흑백으로 키운 것."""
    from sklearn.datasets import load_digits

    x = torch.tensor(load_digits().images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=(24, 24), mode="bilinear", align_corners=False)
    x = (F.pad(x, (4, 4, 4, 4)).clamp(0, 1) * 255).round().to(torch.uint8)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    x = x[order]
    return x[300:], x[:300]


def load_faces(args) -> dict:
    """학습/평가 이미지(uint8)와 출처. 순서: --image-dir → celeba64 → 공식 CelebA → 대체 데이터."""
    if args.image_dir:
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
    root = resolve_data_dir(args.data_dir)
    expected = [str(celeba64_dir(root) / "list.csv"), str(celeba64_dir(root) / "faces/*.jpg"),
                f"(또는) {official_celeba_dir(root)}/*.jpg"]
    source = locate_dataset(args, "CelebA", expected, present=lambda: celeba_present(root),
                            download=lambda: download_dataset(root))
    if source == "fallback":
        train_x, test_x = digits_faces_stand_in(args.seed)
        if args.quick:
            train_x, test_x = train_x[:QUICK_TRAIN], test_x[:QUICK_TEST]
        return {"train": train_x, "test": test_x, "name": "손글씨 숫자 대체 데이터 (32×32)",
                "source": "fallback"}
    if (celeba64_dir(root) / "list.csv").is_file():
        train, test = celeba64_split(root)
        name = "CelebA 얼굴 64×64 (6,000장 표본)"
    else:
        all_paths = sorted(official_celeba_dir(root).glob("*.jpg"))[:6000]
        train, test = holdout_split(all_paths, 0.1, args.seed)
        name = "CelebA img_align_celeba (앞 6,000장)"
    if args.quick:
        train, test = shrink(train, QUICK_TRAIN, args.seed), shrink(test, QUICK_TEST, args.seed)
    return {"train": decode_images(train, "학습 이미지 디코딩"), "test": decode_images(test, "평가 이미지 디코딩"),
            "name": name, "source": source}


def to_model_range(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0,255] → 실수 [-1,1]. 생성자 마지막 층이 tanh 라서 같은 범위로 맞춥니다."""
    return x.float().div(127.5).sub(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    return ((x.detach().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


# ---------------------------------------------------------------------------
# 2. DCGAN: 생성자와 판별자 (Radford et al., 2016)
# ---------------------------------------------------------------------------
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


def describe_models(generator: nn.Module, discriminator: nn.Module, image_shape: tuple) -> None:
    """층마다 출력 모양을 따라가며 보여 줍니다: 생성자는 키우고, 판별자는 줄입니다."""
    print_shapes("\n[생성자] 잠재 벡터 → 이미지", generator, torch.zeros(2, generator.latent_dim, 1, 1),
                 nn.ConvTranspose2d)
    print_shapes("[판별자] 이미지 → 진짜일 로짓", discriminator, torch.zeros(2, *image_shape), nn.Conv2d)


# ---------------------------------------------------------------------------
# 3. 적대적 목표: 미니맥스와 non-saturating 생성자 손실
# ---------------------------------------------------------------------------
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

    미니맥스 log(1 - σ(s)) 의 기울기는 -D(G(z)) 라서 가짜가 티 날수록(≈0) 사라지고,
    non-saturating -log σ(s) 의 기울기는 -(1 - D(G(z))) 라서 그때 가장 큽니다.
    """
    logit = torch.logit(torch.tensor(d_fake, dtype=torch.float64)).requires_grad_()
    minimax, = torch.autograd.grad(-F.softplus(logit), logit)          # log(1 - σ(s)) = -softplus(s)
    non_saturating, = torch.autograd.grad(generator_loss(logit.view(1)), logit)
    return minimax.item(), non_saturating.item()


def explain_objective() -> None:
    print("  판별자 D: log D(x) + log(1 - D(G(z))) 를 최대화 (진짜 → 1, 가짜 → 0 으로 맞히기)")
    print("  생성자 G: 원래 미니맥스는 log(1 - D(G(z))) 를 최소화, 실제로는 -log D(G(z)) 를 최소화(non-saturating)")
    print("  두 손실의 기울기(로짓에 대해): 학습 초기처럼 D(G(z)) 가 0 에 가까우면 미니맥스 쪽은 거의 0 입니다")
    for d_fake in (0.001, 0.1, 0.5, 0.9):
        minimax, non_saturating = generator_gradients(d_fake)
        print(f"    D(G(z)) = {d_fake:<5}  미니맥스 {minimax:+.3f}   non-saturating {non_saturating:+.3f}")


def sample_latent(n: int, latent_dim: int, device=None, temperature: float = 1.0) -> torch.Tensor:
    """z ~ N(0, I). temperature(<1)로 줄이면 평균 근처만 뽑아 품질↑·다양성↓ (truncation 과 같은 생각)."""
    return torch.randn(n, latent_dim, device=device) * temperature


def train_step(generator, discriminator, real, opt_g, opt_d) -> dict:
    """적대적 학습 한 단계: (1) 판별자 한 번 갱신 → (2) 생성자 한 번 갱신.

    DCGAN 얼굴과 2차원 장난감 GAN 이 이 함수 하나를 함께 씁니다.
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


# ---------------------------------------------------------------------------
# 4. 학습 루프: 에폭마다 고정 잠재 벡터의 격자, 원자적 체크포인트, --resume
# ---------------------------------------------------------------------------
def image_grid(images: torch.Tensor, nrow: int = 8) -> np.ndarray:
    """(N,C,H,W) [-1,1] → 한 장의 (H',W',3) uint8 격자 (GIF 프레임·PNG 용)."""
    from torchvision.utils import make_grid

    grid = make_grid(to_uint8(images), nrow=nrow, padding=2, pad_value=255)
    if grid.shape[0] == 1:
        grid = grid.expand(3, -1, -1)
    return grid.permute(1, 2, 0).numpy()


@torch.no_grad()
def generate(generator, z: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
    """평가 모드(배치 정규화가 학습 중 모은 평균·분산 사용)로 이미지를 만듭니다."""
    was_training = generator.training
    generator.eval()
    out = torch.cat([generator(part) for part in z.split(batch_size)])
    generator.train(was_training)
    return out


def save_epoch_grid(generator, fixed_z, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_grid(generate(generator, fixed_z))).save(path)


def train_gan(generator, discriminator, batches, opt_g, opt_d, device, epochs: int, run, fixed_z,
              resume: bool) -> dict:
    """DCGAN 학습. 반복(iteration)마다 손실과 D(x)·D(G(z))를, 에폭마다 격자와 체크포인트를 남깁니다."""
    history = {"d_loss": [], "g_loss": [], "d_real": [], "d_fake": [], "epoch_seconds": []}
    start_epoch = 0
    if resume and run.checkpoint_path.exists():
        state = load_checkpoint(run.checkpoint_path, map_location=device)
        try:
            generator.load_state_dict(state["generator"])
            discriminator.load_state_dict(state["discriminator"])
        except RuntimeError:
            raise CourseError(f"체크포인트의 네트워크 모양이 지금 설정과 다릅니다: {run.checkpoint_path}\n"
                              "       저장할 때와 같은 --width·데이터로 이어서 학습하거나, --resume 없이 새로 시작하세요."
                              ) from None
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        fixed_z.copy_(state["fixed_z"])
        torch.set_rng_state(state["rng"])
        history, start_epoch = state["history"], state["epoch"]
        run.previous_seconds, run.started = state["elapsed"], time.perf_counter()
        print(f"[이어서 학습] {run.checkpoint_path} 의 {start_epoch} 에폭 다음부터 계속합니다.")
    elif resume:
        print(f"[알림] 체크포인트가 없어 처음부터 학습합니다: {run.checkpoint_path}")
    if start_epoch == 0:   # 이전 실행이 남긴 격자가 GIF 에 섞이지 않도록
        for old in run.path("grids").glob("epoch_*.png"):
            old.unlink()
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        bar = tqdm(batches, desc=f"에폭 {epoch + 1}/{epochs}", leave=False, dynamic_ncols=True, mininterval=1.0,
                   disable=None)
        for real, _ in bar:
            stats = train_step(generator, discriminator, real.to(device), opt_g, opt_d)
            for key, value in stats.items():
                history[key].append(value)
            bar.set_postfix(D손실=f"{stats['d_loss']:.2f}", G손실=f"{stats['g_loss']:.2f}")
        history["epoch_seconds"].append(time.perf_counter() - t0)
        n = len(batches)
        mean = {k: float(np.mean(history[k][-n:])) for k in ("d_loss", "g_loss", "d_real", "d_fake")}
        print(f"  에폭 {epoch + 1:>2}/{epochs}  D 손실 {mean['d_loss']:.3f}  G 손실 {mean['g_loss']:.3f}  "
              f"D(x) {mean['d_real']:.2f}  D(G(z)) {mean['d_fake']:.2f}  ({history['epoch_seconds'][-1]:.0f}초)")
        save_epoch_grid(generator, fixed_z, run.path(f"grids/epoch_{epoch + 1:03d}.png"))
        save_checkpoint({"generator": generator.state_dict(), "discriminator": discriminator.state_dict(),
                         "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "fixed_z": fixed_z.cpu(),
                         "rng": torch.get_rng_state(), "history": history, "epoch": epoch + 1,
                         "elapsed": run.elapsed()}, run.checkpoint_path)
    return history


def save_training_gif(grid_dir: Path, path: Path, seconds_per_frame: float = 0.5) -> int:
    """에폭별 격자 PNG 들을 움직이는 GIF 하나로 (같은 z 가 얼굴이 되어 가는 과정)."""
    from PIL import Image

    frames = [Image.open(p).convert("RGB") for p in sorted(grid_dir.glob("epoch_*.png"))]
    if frames:
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(seconds_per_frame * 1000),
                       loop=0)
    return len(frames)


def smooth(values: list[float], window: int) -> np.ndarray:
    """이동 평균: 반복마다 출렁이는 GAN 손실의 추세를 보기 위해."""
    v = np.asarray(values, dtype=float)
    window = max(1, min(window, len(v)))
    return np.convolve(v, np.ones(window) / window, mode="valid")


def plot_gan_history(history: dict, path: Path) -> Path:
    fig, axes = new_figure(ncols=2, size=(6, 4))
    window = max(1, len(history["d_loss"]) // 50)
    iters_per_epoch = len(history["d_loss"]) / max(len(history["epoch_seconds"]), 1)
    for ax, keys, names, title in [
        (axes[0, 0], ("d_loss", "g_loss"), ("판별자 손실", "생성자 손실"), "손실 (이동 평균)"),
        (axes[0, 1], ("d_real", "d_fake"), ("D(x): 진짜에 준 확률", "D(G(z)): 가짜에 준 확률"), "판별자의 출력")]:
        for key, name in zip(keys, names):
            y = smooth(history[key], window)
            ax.plot((np.arange(len(y)) + window) / iters_per_epoch, y, label=name)
        ax.set_xlabel("에폭")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0, 1].set_ylim(0, 1)
    fig.suptitle("DCGAN 적대적 학습 곡선")
    return save_figure(fig, path)


# ---------------------------------------------------------------------------
# 5. 모드 붕괴: 원 위의 가우시안 8개 (반지름 2, σ=0.02)
# ---------------------------------------------------------------------------
RING_RADIUS, RING_SIGMA, RING_MODES = 2.0, 0.02, 8
RING_EVAL_SAMPLES = 2500
RING_LATENT_DIM = 256   # 언롤드 GAN 논문의 설정: 높은 차원의 잠재 벡터 (2차원이면 보통 GAN 도 붕괴가 잘 드러나지 않음)
RING_STEPS, RING_STEPS_QUICK = 6000, 300   # 측정: 한 번 학습에 20~30초 (2코어 CPU)


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
    """같은 시드·네트워크·옵티마이저·단계 수로 한 번 학습하고, 중간 표본과 최종 점수를 돌려줍니다."""
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


def mode_collapse_demo(seeds: list[int], steps: int) -> dict:
    """보통 GAN 과 해결책을 시드마다 같은 조건으로 학습하고, 시드 3개의 중앙값을 보고합니다."""
    results = {"plain": [], "fixed": []}
    for seed in seeds:
        for key in results:
            t0 = time.perf_counter()
            r = train_ring_gan(remedy=key == "fixed", seed=seed, steps=steps)
            results[key].append(r)
            print(f"  {'보통 GAN' if key == 'plain' else '미니배치 표준편차'} 시드 {seed}: 덮은 모드 {r['modes']}/8, "
                  f"고품질 {r['high_quality']:.1%}  ({time.perf_counter() - t0:.1f}초)")
    summary = {}
    for key, runs in results.items():
        summary[f"modes_covered_{key}"] = int(np.median([r["modes"] for r in runs]))
        summary[f"high_quality_{key}"] = round(float(np.median([r["high_quality"] for r in runs])), 4)
    return {"summary": summary, "first_seed": {k: v[0] for k, v in results.items()}}


def plot_mode_collapse(first_seed: dict, summary: dict, path: Path) -> Path:
    """행: 보통 GAN / 해결책, 열: 학습 진행. 빨간 ×가 진짜 모드 중심."""
    n = len(first_seed["plain"]["snapshots"])
    fig, axes = new_figure(ncols=n, nrows=2, size=(2.6, 2.7))
    centres = ring_centres()
    for row, (key, label) in enumerate([("plain", "보통 GAN"), ("fixed", "미니배치 표준편차")]):
        for ax, (step, pts) in zip(axes[row], first_seed[key]["snapshots"]):
            ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.3, color="tab:blue")
            ax.scatter(centres[:, 0], centres[:, 1], marker="x", color="tab:red", s=30)
            ax.set_xlim(-2.8, 2.8)
            ax.set_ylim(-2.8, 2.8)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{step}단계", fontsize=9)
        axes[row, 0].set_ylabel(f"{label}\n덮은 모드 {summary[f'modes_covered_{key}']}/8, "
                                f"고품질 {summary[f'high_quality_{key}']:.0%}", fontsize=9)
    fig.suptitle("모드 붕괴: 원 위의 가우시안 8개 (반지름 2, σ=0.02, 시드 3개 중앙값)")
    return save_figure(fig, path)


# ---------------------------------------------------------------------------
# 6. 잠재 공간: 보간, 벡터 산술, 온도
# ---------------------------------------------------------------------------
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


def plot_interpolation(generator, z0, z1, path: Path, steps: int = 8) -> Path:
    t = torch.linspace(0, 1, steps)
    rows = {"선형 보간": lerp(z0, z1, t), "구면 보간(slerp)": slerp(z0, z1, t)}
    fig, axes = new_figure(ncols=steps, nrows=2, size=(1.3, 1.5))
    for r, (name, z) in enumerate(rows.items()):
        for c, img in enumerate(generate(generator, z)):
            show_image(axes[r, c], img)
            axes[r, c].set_title(f"t={t[c]:.2f}", fontsize=8)
        axes[r, 0].text(-0.15, 0.5, name, transform=axes[r, 0].transAxes, rotation=90, va="center", ha="right")
    fig.suptitle("잠재 공간 보간: 두 얼굴 사이를 걸어가기")
    return save_figure(fig, path)


def show_image(ax, img: torch.Tensor) -> None:
    arr = to_uint8(img)
    ax.imshow(arr[0].numpy() if arr.shape[0] == 1 else arr.permute(1, 2, 0).numpy(),
              cmap="gray" if arr.shape[0] == 1 else None)
    ax.set_xticks([])
    ax.set_yticks([])


def brightness_direction(generator, n: int = 256, k: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """잠재 벡터 산술: 가장 밝은 표본 k개의 평균 z − 가장 어두운 k개의 평균 z = '밝기 방향'.

    라벨 없이도 고른 표본들의 잠재 벡터를 평균하면 그 표본들이 공유하는 특징의 방향이 나옵니다.
    (얼굴 속성 라벨이 있다면 '웃는 얼굴 평균 − 무표정 평균' 처럼 같은 방법을 씁니다.)
    """
    z = sample_latent(n, generator.latent_dim)
    brightness = generate(generator, z).mean(dim=(1, 2, 3))
    order = brightness.argsort()
    return z[order[-k:]].mean(0) - z[order[:k]].mean(0), z[order[:4]]


def plot_latent_arithmetic(generator, path: Path, amounts=(-1.5, -0.75, 0.0, 0.75, 1.5)) -> Path:
    direction, bases = brightness_direction(generator)
    fig, axes = new_figure(ncols=len(amounts), nrows=len(bases), size=(1.3, 1.4))
    for r, z in enumerate(bases):
        images = generate(generator, torch.stack([z + a * direction for a in amounts]))
        for c, img in enumerate(images):
            show_image(axes[r, c], img)
            if r == 0:
                axes[r, c].set_title(f"z {'+' if amounts[c] >= 0 else '-'} {abs(amounts[c])}·방향", fontsize=8)
    fig.suptitle("잠재 벡터 산술: 밝은 표본 평균 z - 어두운 표본 평균 z 를 더하고 빼기")
    return save_figure(fig, path)


def plot_temperature(generator, path: Path, temperatures=(0.0, 0.4, 0.7, 1.0, 1.5), n: int = 6) -> Path:
    """같은 z 를 온도만 바꿔 곱합니다. 0 이면 '평균 얼굴', 클수록 다양하지만 깨진 얼굴이 늘어납니다."""
    base = sample_latent(n, generator.latent_dim)
    fig, axes = new_figure(ncols=n, nrows=len(temperatures), size=(1.2, 1.3))
    for r, temp in enumerate(temperatures):
        for c, img in enumerate(generate(generator, base * temp)):
            show_image(axes[r, c], img)
        axes[r, 0].set_ylabel(f"온도 {temp}", fontsize=9)
    fig.suptitle("온도(truncation): z 의 크기가 품질과 다양성을 바꿉니다")
    return save_figure(fig, path)


# ---------------------------------------------------------------------------
# 7. 품질 측정: FID(가능할 때) 또는 최근접 이웃 거리 비율
# ---------------------------------------------------------------------------
# torchmetrics/torch-fidelity 가 쓰는 Inception 가중치 (torch.hub 캐시에 이 이름으로 저장됩니다)
FID_WEIGHTS_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                   "weights-inception-2015-12-05-6726825d.pth")


def fid_unavailable_reason(allow_download: bool) -> str | None:
    """FID 를 계산할 수 있는지 확인합니다: 패키지가 있고, 가중치가 캐시에 있거나 짧은 시간 안에 받아지는지.

    torchmetrics 가 스스로 받게 두면 오프라인에서 오래 멈출 수 있어, 시간 제한이 있는 내려받기를 먼저 해 둡니다.
    안 되면 이유를 돌려줍니다.
    """
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


# ---------------------------------------------------------------------------
# 8. 실행
# ---------------------------------------------------------------------------
def build_parser():
    p = make_parser(f"{LESSON}.py", "DCGAN 으로 얼굴 생성, 모드 붕괴, 잠재 공간, 품질 측정",
                    epochs=18, batch_size=64, lr=2e-4)
    p.add_argument("--image-dir", default=None, help="CelebA 대신 학습할 이미지 폴더 (정사각형으로 잘라 64×64)")
    p.add_argument("--width", type=int, default=64, choices=[16, 32, 48, 64],
                   help="DCGAN 채널 폭 (기본 64 = 논문; 32 는 약 4배 빠름)")
    p.add_argument("--ring-steps", type=positive_int, default=None,
                   help=f"모드 붕괴 실험의 학습 단계 수 (기본 {RING_STEPS}, --quick {RING_STEPS_QUICK})")
    return p


@lesson_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    run = start_run(LESSON, args, argv)

    print("\n# 1. 데이터")
    data = load_faces(args)
    train_x, test_x = data["train"], data["test"]
    channels, size = train_x.shape[1], train_x.shape[2]
    print(f"  {data['name']}: 학습 {len(train_x):,}장, 평가(nn_ratio 기준) {len(test_x):,}장, "
          f"모양 {tuple(train_x.shape[1:])}")
    plot_image_grid(train_x[:16], [""] * 16, run.path("real_samples.png"), title="진짜 학습 이미지", ncols=8)

    print("\n# 2. 생성자와 판별자 (DCGAN)")
    width = 16 if args.quick else args.width
    generator, discriminator = build_dcgan(channels, size, width)
    describe_models(generator, discriminator, (channels, size, size))
    generator.to(run.device)
    discriminator.to(run.device)

    print("\n# 3. 적대적 목표: 미니맥스와 non-saturating 생성자 손실")
    explain_objective()

    print("\n# 4. 적대적 학습: 판별자 한 번, 생성자 한 번을 번갈아")
    epochs = 1 if args.quick else args.epochs
    batches = TensorBatches(train_x, torch.zeros(len(train_x)), args.batch_size, shuffle=True,
                            transform=to_model_range, seed=args.seed)
    opt_g, opt_d = make_optimizers(generator, discriminator, args.lr)
    fixed_z = sample_latent(64, LATENT_DIM, run.device)
    t0 = time.perf_counter()
    history = train_gan(generator, discriminator, batches, opt_g, opt_d, run.device, epochs, run, fixed_z,
                        args.resume)
    train_seconds = sum(history["epoch_seconds"])
    images_per_second = len(train_x) * len(history["epoch_seconds"]) / max(train_seconds, 1e-9)
    print(f"  학습 속도: 초당 약 {images_per_second:.0f}장 (이번 실행 {time.perf_counter() - t0:.0f}초)")
    generator.cpu().eval()
    plot_gan_history(history, run.path("gan_curves.png"))
    n_frames = save_training_gif(run.path("grids"), run.path("training.gif"))
    plot_image_grid(to_uint8(generate(generator, fixed_z.cpu())), [""] * len(fixed_z), run.path("final_grid.png"),
                    title=f"{epochs}에폭 후 생성 이미지 (고정 잠재 벡터 64개)", ncols=8)
    print(f"  에폭별 격자 {n_frames}장 → {run.path('training.gif')}")

    print("\n# 5. 모드 붕괴: 원 위의 가우시안 8개")
    print("  보통 GAN vs 해결책(미니배치 표준편차: 판별자가 배치 안의 '퍼짐'을 보고 한곳에 몰린 가짜를 알아챔),\n"
          "  같은 네트워크·옵티마이저·단계 수·시드. 표본 2,500개에서 3σ 안의 고품질 비율과 덮은 모드 수를 셉니다.")
    ring_steps = args.ring_steps or (RING_STEPS_QUICK if args.quick else RING_STEPS)
    demo = mode_collapse_demo(seeds=[args.seed, args.seed + 1, args.seed + 2], steps=ring_steps)
    plot_mode_collapse(demo["first_seed"], demo["summary"], run.path("mode_collapse.png"))
    s = demo["summary"]
    print(f"  중앙값 — 보통 GAN: {s['modes_covered_plain']}/8 모드, 고품질 {s['high_quality_plain']:.1%} | "
          f"미니배치 표준편차: {s['modes_covered_fixed']}/8 모드, 고품질 {s['high_quality_fixed']:.1%}")

    print("\n# 6. 잠재 공간")
    torch.manual_seed(args.seed)
    z_pair = sample_latent(2, LATENT_DIM)
    plot_interpolation(generator, z_pair[0], z_pair[1], run.path("interpolation.png"))
    plot_latent_arithmetic(generator, run.path("latent_arithmetic.png"))
    plot_temperature(generator, run.path("temperature.png"))
    print("  보간·벡터 산술·온도 그림을 저장했습니다 (interpolation / latent_arithmetic / temperature .png)")

    print("\n# 7. 품질 측정")
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


if __name__ == "__main__":
    main()
