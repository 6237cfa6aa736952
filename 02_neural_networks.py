# %% [markdown]
# # 02. 신경망 기초 — 활성화 함수, 배치 정규화, 규제, 하이퍼파라미터 탐색으로 Fashion-MNIST 분류
#
# **학습 목표**
# - 다층 퍼셉트론(MLP)의 층 크기와 파라미터 수를 직접 세어 봅니다.
# - 활성화 함수(activation function) ReLU·Sigmoid·Tanh의 모양과 도함수를 그리고,
#   같은 MLP를 각각으로 학습해 그래디언트 소실(vanishing gradient)을 숫자로 확인합니다.
# - 배치 정규화(batch normalization)와 규제(regularization: 드롭아웃(dropout), 가중치 감쇠(weight decay))가
#   학습/검증 정확도 차이(과적합(overfitting)의 크기)를 어떻게 바꾸는지 측정합니다.
# - 학습 데이터에서 떼어 낸 검증 세트로 하이퍼파라미터(hyperparameter: 학습률·폭·드롭아웃)를 고르고,
#   고른 모델 하나만 테스트 세트로 딱 한 번 평가합니다.
#
# **데이터셋**: Fashion-MNIST (Zalando, MIT 라이선스) — 28×28 흑백 의류 이미지 10종,
# 학습 60,000장 / 테스트 10,000장. 데이터가 없고 내려받을 수도 없으면 생성한 의류 실루엣(대체 데이터)으로
# 흐름만 익힙니다 (결과에 `fallback` 으로 기록).
#
# **핵심 개념**: MLP 구조와 파라미터 수, 활성화 함수와 도함수, 그래디언트 소실, 배치 정규화, 드롭아웃,
# 가중치 감쇠, 과적합(학습/검증 차이), 검증 세트, 하이퍼파라미터 탐색, 원사이클 학습률 스케줄
#
# **실행 방법**
# ```
# python 02_neural_networks.py                     # 전체: 비교 실험 + 탐색 + 최종 학습
# python 02_neural_networks.py --quick             # 몇 초 만에 흐름만 확인
# python 02_neural_networks.py --search-epochs 2   # 탐색을 더 짧게
# python 02_neural_networks.py --predict 내옷.jpg 폴더/   # 저장된 모델로 내 이미지 분류
# ```
# 노트북(`notebooks/02_neural_networks.ipynb`)에서는 아래 매개변수 셀의 `QUICK` 으로 고릅니다.
#
# **예상 시간** (측정값은 `docs/RESULTS.md`): 2코어 CPU에서 약 9분, `--quick` 은 10초 안팎.

# %%
import itertools
import time

import numpy as np
import torch
from matplotlib.ticker import MaxNLocator
from PIL import Image
from torch import nn

from utils.chapter import section, start_chapter
from utils.data_utils import TensorBatches, load_mnist_family, load_user_images, split_train_val, take_subset
from utils.distributed import save_once
from utils.model_utils import (count_parameters, evaluate, fit, load_checkpoint, make_parser, positive_int,
                               print_predictions)
from utils.visualization import (confusion_matrix, new_figure, plot_confusion_matrix, plot_image_grid,
                                 plot_learning_curves, plot_prediction_inputs, save_figure)

# %% tags=["parameters"]
QUICK = False      # True: 작은 부분집합과 1에폭으로 몇 초 만에 흐름만 확인
DATA_DIR = None    # 데이터 루트 (None: 환경 변수 DL_DATA_DIR, 없으면 ./data)
OUT_DIR = "runs"   # 그림·체크포인트·metrics.json 을 둘 곳

# %% [markdown]
# 실행 설정: 스크립트로 실행하면 명령행 옵션(`--quick`, `--epochs`, `--search-epochs` …)을, 노트북에서는 위
# 매개변수 셀을 씁니다. 비교 실험은 본 학습과 탐색에 시간을 남기도록 작은 예산으로 합니다.

# %%
LESSON = "02_neural_networks"
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530  # 학습 세트 전체 픽셀의 평균·표준편차
VAL_FRACTION = 0.1                          # 학습 데이터의 10%를 검증 세트로 (테스트 세트는 끝까지 아껴 둠)
QUICK_TRAIN, QUICK_TEST = 3000, 1000
LABEL_SMOOTHING = 0.1                       # 정답 확률을 1이 아닌 0.9 근처로: 지나친 확신을 막는 가벼운 규제
WEIGHT_DECAY = 1e-4                         # 탐색·최종 학습의 가중치 감쇠 (5절에서 효과를 따로 봄)

# 비교 실험은 작은 예산으로: 본 학습과 탐색에 시간을 남기기 위해
ACTIVATION_DEMO = {"hidden": (256, 256, 256, 256), "train_size": 20000, "epochs": 3, "lr": 0.05}
REGULARIZATION_DEMO = {"hidden": (512, 256), "train_size": 5000, "epochs": 20, "lr": 1e-3}
SEARCH_WIDTHS = (256, 1024)                 # 첫 은닉층 폭 (둘째 층은 그 절반)
SEARCH_DROPOUTS = (0.2, 0.4)


def build_parser():
    p = make_parser(f"{LESSON}.py", "02. 신경망 기초: 활성화 함수, 배치 정규화, 규제, 하이퍼파라미터 탐색",
                    epochs=30, batch_size=256, lr=1e-3)
    p.add_argument("--search-epochs", type=positive_int, default=4, help="탐색에서 후보마다 학습할 에폭 수 (기본 4)")
    p.add_argument("--predict", nargs="+", metavar="IMAGE", help="저장된 모델로 분류할 이미지 파일들 또는 폴더 (크기·형식 무관)")
    return p


# %%
if __name__ == "__main__":
    args, run = start_chapter(LESSON, build_parser(), quick=QUICK, data_dir=DATA_DIR, out_dir=OUT_DIR,
                              actions={"predict": "predict"})

# %% [markdown]
# ## 1. 데이터 불러오기와 검증 세트 떼어 내기
# Fashion-MNIST 를 uint8 텐서로 한 번 읽어 메모리에 두고, 배치마다 잘라 정규화합니다:
# $x' = (x/255 - \mu)/\sigma$, $\mu = 0.2860$, $\sigma = 0.3530$ (학습 세트 전체 픽셀의 평균·표준편차).
#
# 학습 데이터의 10%를 **검증 세트**로 떼어 냅니다. 4~6절의 비교와 하이퍼파라미터 선택은 모두 검증 세트로만 하고,
# 테스트 세트는 7절에서 고른 모델 하나로 딱 한 번 씁니다. 테스트 점수를 보고 고르면 그 점수는 더 이상
# '처음 보는 데이터'에서의 성능이 아니게 됩니다.

# %%
def normalize(x_uint8: torch.Tensor) -> torch.Tensor:
    """배치 단위로 uint8(0~255) → 평균 0·표준편차 1 근처의 실수 (미리 전부 바꾸면 메모리가 4배)."""
    return (x_uint8.float() / 255.0 - FASHION_MEAN) / FASHION_STD


def batches(x, y, batch_size: int, train: bool, seed: int = 0) -> TensorBatches:
    return TensorBatches(x, y, batch_size if train else 1000, shuffle=train, transform=normalize, seed=seed)


def load_data(args):
    data = load_mnist_family("FashionMNIST", args, quick_sizes=(QUICK_TRAIN, QUICK_TEST))
    print(f"  {data.name}: 학습 {len(data.train_y):,}장, 테스트 {len(data.test_y):,}장 (출처: {data.source})")
    return data


# %%
if __name__ == "__main__":
    section("1. 데이터 불러오기와 검증 세트 떼어 내기")
    data = load_data(args)
    splits = split_train_val(data.train_x, data.train_y, VAL_FRACTION, args.seed)  # (학습 x, y, 검증 x, y)
    print(f"  학습 {len(splits[1]):,}장 / 검증 {len(splits[3]):,}장 (검증 세트는 학습 데이터에서 떼어 냄)")
    plot_image_grid(data.train_x[:16], [data.classes[i] for i in data.train_y[:16]],
                    run.path("samples.png"), title="Fashion-MNIST 학습 데이터 예시")

# %% [markdown]
# ## 2. MLP 구조와 파라미터 수
# 층마다 `선형 → (배치 정규화) → 활성화 → (드롭아웃)` 을 쌓고, 마지막 선형층이 10개 클래스의 점수(logit)를 냅니다.
# - 선형층 $y = Wx + b$ 의 파라미터 수: 입력 × 출력 (+ 편향 출력 개수).
# - 배치 정규화 $\mathrm{BN}(h) = \gamma\,\dfrac{h - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}} + \beta$ 는 특징마다 γ·β 두 개를
#   배웁니다 (배치 평균 $\mu_B$·분산 $\sigma_B^2$ 의 이동 평균은 학습되지 않는 버퍼). β 가 편향 역할을 하므로
#   배치 정규화 앞의 선형층은 편향을 뺍니다.

# %%
ACTIVATIONS = {"ReLU": nn.ReLU, "Sigmoid": nn.Sigmoid, "Tanh": nn.Tanh}


class MLP(nn.Module):
    """784 → 은닉층들 → 10. 층마다 선형 → (배치 정규화) → 활성화 → (드롭아웃).

    배치 정규화가 있으면 선형층의 편향(bias)은 빼도 됩니다: 배치 정규화의 β가 같은 역할을 합니다.
    """

    def __init__(self, hidden=(1024, 512), activation: str = "ReLU", batch_norm: bool = True,
                 dropout: float = 0.0, n_classes: int = 10):
        super().__init__()
        layers, width = [nn.Flatten()], 28 * 28
        for h in hidden:
            layers.append(nn.Linear(width, h, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, n_classes))  # 마지막 층은 점수(logit) 그대로: 소프트맥스는 손실 안에서
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def describe_layers(model: nn.Module) -> list[dict]:
    """학습되는 층마다 모양과 파라미터 수를 표로 출력합니다 (합계 = count_parameters)."""
    rows = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            weights = module.in_features * module.out_features
            bias = module.out_features if module.bias is not None else 0
            shape = f"{module.in_features} → {module.out_features}"
            formula = f"{module.in_features}×{module.out_features}" + (f" + {bias}" if bias else "")
            rows.append({"layer": name, "kind": "선형", "shape": shape, "formula": formula, "params": weights + bias})
        elif isinstance(module, nn.BatchNorm1d):
            f = module.num_features
            rows.append({"layer": name, "kind": "배치 정규화", "shape": f"{f}",
                         "formula": f"γ {f} + β {f}", "params": 2 * f})
    print(f"  {'층':<8}{'종류':<10}{'모양':<14}{'계산':<18}{'파라미터 수':>12}")
    for r in rows:
        print(f"  {r['layer']:<8}{r['kind']:<10}{r['shape']:<14}{r['formula']:<18}{r['params']:>12,}")
    print(f"  합계 {sum(r['params'] for r in rows):,}개 (count_parameters: {count_parameters(model):,})")
    return rows


# %%
if __name__ == "__main__":
    section("2. MLP 구조와 파라미터 수 (784 → 1024 → 512 → 10, 배치 정규화 포함)")
    describe_layers(MLP((1024, 512)))

# %% [markdown]
# ### 배치 정규화와 드롭아웃은 안에서 무엇을 하나 — 숫자로
# **배치 정규화**는 특징(열)마다 따로 계산합니다. 배치 $B$ 의 $N$ 개 값 $h_1..h_N$ 에서
# $$\mu_B = \frac1N\sum_i h_i,\quad \sigma_B^2 = \frac1N\sum_i (h_i-\mu_B)^2,\quad
# \hat h_i = \frac{h_i-\mu_B}{\sqrt{\sigma_B^2+\epsilon}},\quad y_i = \gamma\,\hat h_i + \beta$$
# 그래서 학습 모드에서 각 열의 출력은 평균 β·표준편차 γ 가 됩니다 (γ·β 는 학습되는 파라미터, $\epsilon = 10^{-5}$).
# 동시에 **이동 평균(running statistics)** 을 갱신합니다: $m \leftarrow (1-0.1)\,m + 0.1\,\mu_B$,
# $v \leftarrow (1-0.1)\,v + 0.1\,\sigma_B^2\frac{N}{N-1}$ (분산은 불편 추정값). **평가 모드**(`model.eval()`)에서는
# 배치 통계 대신 이 이동 평균으로 정규화하므로, 같은 입력이라도 두 모드의 출력이 다르고, 한 샘플의 출력이 같은
# 배치에 누가 있는지에 좌우되지 않습니다. (아래처럼 한 번만 갱신한 이동 평균은 아직 처음값 0·1 에 가까워 차이가
# 크지만, 수백 배치를 지나면 학습 데이터 전체의 통계에 가까워집니다.)
#
# **드롭아웃**(확률 $p$)은 학습 모드에서 원소마다 0/1 마스크 $m \sim \mathrm{Bernoulli}(1-p)$ 를 뽑아
# $y = h \odot m / (1-p)$ 를 냅니다. $1/(1-p)$ 로 키워 두므로 기댓값이 $h$ 그대로이고, 평가 모드에서는 아무것도
# 하지 않습니다($y = h$). 아래에서 손으로 쓴 두 연산을 `nn.BatchNorm1d`·`nn.Dropout` 과 비교합니다
# (테스트는 라이브러리의 `batch_norm`·`dropout` 을 막아 둔 채 손으로 쓴 쪽을 실행합니다).

# %%
def batch_norm_by_hand(h, gamma, beta, running_mean, running_var, training: bool,
                       momentum: float = 0.1, eps: float = 1e-5):
    """(N, F) 배치 정규화 → (출력, 새 이동 평균, 새 이동 분산). 학습 모드는 배치 통계, 평가 모드는 이동 평균."""
    if training:
        n = h.shape[0]
        mean = h.mean(dim=0)
        var = ((h - mean) ** 2).mean(dim=0)                       # 정규화에는 N으로 나눈 분산
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var = (1 - momentum) * running_var + momentum * var * n / (n - 1)  # 기록에는 불편 분산
    else:
        mean, var = running_mean, running_var
    return gamma * (h - mean) / torch.sqrt(var + eps) + beta, running_mean, running_var


def dropout_by_hand(h, p: float, training: bool, generator: torch.Generator | None = None):
    """학습 모드: 확률 p로 0, 남은 값은 1/(1-p)배 (기댓값 보존). 평가 모드: 그대로."""
    if not training or p == 0:
        return h
    mask = torch.empty_like(h).bernoulli_(1 - p, generator=generator)   # 1 = 남김 (확률 1-p)
    return h * mask / (1 - p)


def show_batch_norm_and_dropout() -> dict:
    """작은 배치 하나로 배치 정규화(학습/평가 모드)와 드롭아웃을 손으로 계산하고 라이브러리와 비교합니다."""
    print("\n  [배치 정규화와 드롭아웃을 손으로]")
    h = torch.tensor([[1.0, 10.0, -2.0], [3.0, 14.0, 0.0], [5.0, 12.0, 2.0], [7.0, 20.0, 8.0]])  # 샘플 4 × 특징 3
    bn = nn.BatchNorm1d(3)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))      # γ
        bn.bias.copy_(torch.tensor([0.0, 1.0, -1.0]))       # β
    gamma, beta = bn.weight.detach(), bn.bias.detach()
    mean0, var0 = bn.running_mean.clone(), bn.running_var.clone()          # 처음: 평균 0, 분산 1
    hand_train, run_mean, run_var = batch_norm_by_hand(h, gamma, beta, mean0, var0, training=True)
    lib_train = bn.train()(h).detach()                                     # 이 호출이 이동 평균을 갱신
    hand_eval, _, _ = batch_norm_by_hand(h, gamma, beta, run_mean, run_var, training=False)
    lib_eval = bn.eval()(h).detach()

    def show(t):  # 여러 줄 배열을 들여 써서 출력
        return "    " + np.array2string(t.numpy(), precision=3, suppress_small=True).replace("\n", "\n    ")

    print(f"  입력 h (샘플 4 × 특징 3):\n{show(h)}\n  배치 평균 μ_B = {show(h.mean(0)).strip()}, "
          f"배치 분산 σ²_B = {show(h.var(0, unbiased=False)).strip()}, γ = {show(gamma).strip()}, "
          f"β = {show(beta).strip()}")
    print(f"  학습 모드 출력 (열마다 평균 = β, 표준편차 ≈ γ):\n{show(hand_train)}")
    print(f"  이동 평균 {show(run_mean).strip()}, 이동 분산 {show(run_var).strip()} (0.9×처음(0, 1) + 0.1×이 배치)")
    print(f"  평가 모드 출력 (같은 입력, 이동 평균으로 정규화 → 학습 모드와 다름):\n{show(hand_eval)}")
    diffs = {"bn_train": (hand_train - lib_train).abs().max().item(),
             "bn_eval": (hand_eval - lib_eval).abs().max().item(),
             "running": max((run_mean - bn.running_mean).abs().max().item(),
                            (run_var - bn.running_var).abs().max().item())}
    print(f"  nn.BatchNorm1d 와의 차이 최댓값: 학습 모드 {diffs['bn_train']:.1e}, 평가 모드 {diffs['bn_eval']:.1e}, "
          f"이동 통계 {diffs['running']:.1e}")
    x, gen = torch.arange(1.0, 9.0), torch.Generator().manual_seed(0)     # 전역 난수는 건드리지 않음
    dropped = dropout_by_hand(x, 0.5, training=True, generator=gen)
    average = torch.stack([dropout_by_hand(x, 0.5, True, gen) for _ in range(10000)]).mean(0)
    print(f"  드롭아웃 p=0.5, 학습 모드: {show(x).strip()} → {show(dropped).strip()} (남은 값은 1/(1-p) = 2배)\n"
          f"  학습 모드 1만 번의 평균: {show(average).strip()} ≈ 입력 (기댓값 보존)\n"
          f"  평가 모드: {show(dropout_by_hand(x, 0.5, training=False)).strip()} (그대로)")
    return {**diffs, "train_output": hand_train, "eval_output": hand_eval}


# %%
if __name__ == "__main__":
    show_batch_norm_and_dropout()

# %% [markdown]
# ## 3. 활성화 함수와 도함수
# 역전파는 층을 지날 때마다 활성화 함수의 도함수를 곱합니다. 그래서 도함수의 크기가 깊은 층까지
# 그래디언트가 전달되는지를 정합니다.
#
# $$\mathrm{ReLU}'(z) = \begin{cases}1 & z > 0\\ 0 & z \le 0\end{cases},\qquad
# \sigma'(z) = \sigma(z)\,(1-\sigma(z)) \le 0.25,\qquad \tanh'(z) = 1 - \tanh^2(z) \le 1$$

# %%
def activation_derivatives(z: torch.Tensor) -> dict:
    """세 활성화 함수의 값과 손으로 유도한 도함수. 역전파는 층마다 이 도함수를 곱해 갑니다.

    ReLU'(z) = 1 (z > 0), 0 (그 밖)      Sigmoid'(z) = σ(z)(1 - σ(z)) ≤ 0.25      Tanh'(z) = 1 - tanh(z)² ≤ 1
    """
    sig = 1 / (1 + torch.exp(-z))
    tanh = (torch.exp(z) - torch.exp(-z)) / (torch.exp(z) + torch.exp(-z))
    return {
        "ReLU": (z.clamp(min=0), (z > 0).to(z.dtype)),
        "Sigmoid": (sig, sig * (1 - sig)),
        "Tanh": (tanh, 1 - tanh ** 2),
    }


def plot_activations(path) -> None:
    z = torch.linspace(-5, 5, 401)
    fig, axes = new_figure(ncols=2, size=(5.5, 4))
    for name, (value, grad) in activation_derivatives(z).items():
        line, = axes[0, 0].plot(z, value, label=name)
        axes[0, 1].plot(z, grad, color=line.get_color(), label=name)
    for ax, title in zip(axes[0], ["활성화 함수 f(z)", "도함수 f'(z): 역전파 때 곱해지는 값"]):
        ax.set_title(title)
        ax.set_xlabel("z (선형층의 출력)")
        ax.grid(alpha=0.3)
        ax.legend()
    save_figure(fig, path)


# %%
if __name__ == "__main__":
    section("3. 활성화 함수와 도함수")
    plot_activations(run.path("activations.png"))
    print("  Sigmoid의 도함수는 최대 0.25: 층을 지날 때마다 그래디언트가 1/4 이하로 줄어듭니다.\n"
          "  ReLU의 도함수는 양수 구간에서 1이라 깊은 층까지 그래디언트가 잘 전달됩니다.")

# %% [markdown]
# ## 4. 같은 MLP, 다른 활성화 함수
# 배치 정규화 없이 깊은(은닉 4층) MLP를 SGD로 학습합니다. 활성화 함수만 다르고 초기값·데이터·순서는 같습니다.
# 학습 전, 초기 가중치에서 한 배치의 손실을 역전파해 선형층별 그래디언트 노름 $\lVert \partial L/\partial W_l \rVert$ 을
# 잽니다. 첫 층/마지막 층의 비율이 1보다 훨씬 작으면 입력 쪽 층까지 그래디언트가 거의 오지 않는다(소실)는 뜻입니다.
#
# 이 장의 모든 학습은 `train_model` 한 가지 방법을 씁니다 (에폭 반복·기록·체크포인트는 공용 `fit`).

# %%
def train_model(model, splits, *, lr: float, epochs: int, batch_size: int, seed: int, device,
                optimizer: str = "adamw", weight_decay: float = 0.0, schedule: bool = True,
                label_smoothing: float = 0.0, name: str = "", run=None, resume: bool = False,
                checkpoint_extra=None) -> dict:
    """이 레슨의 모든 학습이 쓰는 한 가지 방법. splits = (train_x, train_y, val_x, val_y).

    optimizer: "adamw"(가중치 감쇠를 분리한 Adam) 또는 "sgd"(모멘텀 0.9). schedule=True면 원사이클 학습률.
    비교 실험(4·5절)은 효과를 섞지 않도록 레이블 스무딩 없이, 탐색과 최종 학습만 LABEL_SMOOTHING을 씁니다.
    """
    train_x, train_y, val_x, val_y = splits
    train = batches(train_x, train_y, batch_size, train=True, seed=seed)
    val = batches(val_x, val_y, batch_size, train=False)
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = (torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * len(train))
                 if schedule else None)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    return fit(model, train, val, loss_fn, opt, device, epochs, scheduler=scheduler, name=name,
               run=run, resume=resume, checkpoint_extra=checkpoint_extra)


def accuracy_on(model, x, y, device) -> float:
    """평가 모드(드롭아웃 끔, 배치 정규화는 저장된 통계 사용)에서의 정확도."""
    return evaluate(model, batches(x, y, 1000, train=False), nn.CrossEntropyLoss(), device)["accuracy"]


def gradient_norms_at_init(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """초기 가중치에서 한 배치의 손실을 역전파해 선형층별 그래디언트 크기(노름)를 잽니다 (입력 쪽 → 출력 쪽)."""
    model.train()
    model.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x), y).backward()
    norms = [m.weight.grad.norm().item() for m in model.modules() if isinstance(m, nn.Linear)]
    model.zero_grad(set_to_none=True)
    return norms


def compare_activations(splits, args, device, quick: bool) -> dict:
    """배치 정규화 없이 깊은(은닉 4층) MLP를 SGD로 학습: 활성화 함수만 다르고 초기값·데이터·순서는 같습니다."""
    cfg = ACTIVATION_DEMO
    train_x, train_y = take_subset(splits[0], splits[1], 1000 if quick else cfg["train_size"], args.seed)
    demo_splits = (train_x, train_y, splits[2], splits[3])
    probe_x, probe_y = normalize(train_x[:256]), train_y[:256]
    results = {}
    for name in ACTIVATIONS:
        torch.manual_seed(args.seed)
        model = MLP(cfg["hidden"], activation=name, batch_norm=False).to(device)
        norms = gradient_norms_at_init(model, probe_x.to(device), probe_y.to(device))
        print(f"  {name}: 초기 그래디언트 노름 (입력 쪽 층 → 출력 쪽 층) "
              + " → ".join(f"{v:.4f}" for v in norms))
        history = train_model(model, demo_splits, lr=cfg["lr"], epochs=1 if quick else cfg["epochs"],
                              batch_size=128, seed=args.seed, device=device, optimizer="sgd",
                              schedule=False, name=f"{name} ")
        results[name] = {"history": history, "grad_norms": norms, "val_accuracy": history["val_accuracy"][-1]}
    return results


# %%
if __name__ == "__main__":
    section("4. 같은 MLP, 다른 활성화 함수 (은닉 4층, 배치 정규화 없음, SGD)")
    acts = run.stage("activations", lambda: compare_activations(splits, args, run.device, args.quick))
    plot_learning_curves({n: r["history"] for n, r in acts.items()}, run.path("activation_training.png"),
                         title="활성화 함수별 학습 곡선 (같은 MLP·초기값·데이터)")
    best_act = max(acts, key=lambda n: acts[n]["val_accuracy"])
    ratio = {n: r["grad_norms"][0] / r["grad_norms"][-1] for n, r in acts.items()}
    print(f"\n  {'활성화 함수':<10}{'검증 정확도':>10}{'첫 층/마지막 층 그래디언트':>24}")
    for n, r in acts.items():
        print(f"  {n:<10}{r['val_accuracy']:>10.4f}{ratio[n]:>24.3f}")
    print(f"  → 검증 정확도가 가장 높은 활성화 함수: {best_act}. 비율이 1보다 훨씬 작으면 입력 쪽 층까지 "
          "그래디언트가 거의 오지 않아(소실) 그 층들이 느리게 배웁니다.")
    record = {f"activation_{k}_{n.lower()}": round(v, 4)  # 8절에서 metrics.json 에 남길 값
              for n in acts for k, v in (("val_accuracy", acts[n]["val_accuracy"]), ("grad_ratio", ratio[n]))}

# %% [markdown]
# ## 5. 배치 정규화와 규제: 학습/검증 차이 재기
# 작은 학습 부분집합(5,000장)으로 오래(20에폭) 학습해 과적합을 일부러 키운 뒤, 같은 평가 모드로 학습·검증
# 정확도를 잽니다. **차이(gap) = 학습 정확도 − 검증 정확도**, 클수록 학습 데이터를 '외웠다'는 뜻입니다.
# - 드롭아웃: 학습 때 뉴런을 확률 $p$ 로 끄고 남은 값을 $1/(1-p)$ 배 — 한 뉴런에 기대지 못하게 합니다.
# - 가중치 감쇠(AdamW): 매 단계 $w \leftarrow w - \eta\lambda w$ 로 가중치를 0 쪽으로 당깁니다.
# - 배치 정규화: 층의 입력 분포를 고르게 해 학습을 빠르고 안정적으로 만듭니다 (배치마다 달라지는 통계가 약한 규제 효과).
#
# 검증 손실이 최저점을 지나 다시 올라가면 과적합이 시작된 것입니다.
#
# **배치 정규화가 여기서는 차이를 오히려 키웁니다 — 잰 것.** 게시된 실행(`docs/results/`, AMD 2코어)에서 배치 정규화의 차이는
# 0.144 로 기본(0.135)보다 큽니다. 같은 두 설정을 다섯 번(시드 42·0·1·2, 시드 42는 스레드 1개·2개) 다시 학습해
# 보았습니다(`docs/notes/02_neural_networks.md`).
# - 배치 정규화 쪽 차이가 매번 컸지만 폭은 +0.001~+0.023(평균 +0.010)입니다. 같은 시드 42의 기본 설정도 계산 순서
#   (스레드 수, CPU)만 바뀌면 차이가 0.121(이전 Intel 기계)·0.133(1스레드)·0.135(2스레드)로 달라지므로, 실행 하나의
#   차이를 그대로 배치 정규화의 효과로 읽으면 과장입니다.
# - 차이를 키운 것은 학습 정확도가 아니라 **검증 정확도**입니다: 마지막 에폭의 검증 정확도가 매번 0.005~0.018 낮았고,
#   학습 정확도는 높기도 낮기도 했습니다.
# - 배치 정규화는 학습을 빠르게 합니다: 학습 정확도 0.9 에 5~7 에폭에 도달하고(기본은 매번 8~9), 최고 검증 정확도의
#   에폭도 다섯 번 중 네 번 더 이릅니다(7~16 에폭, 기본 14~20). 20에폭째에는 과적합 구간에 더 깊이 들어가 있는 셈입니다.
# - 두 정확도는 모두 평가 모드(이동 평균)로 잽니다. 학습 모드(배치 통계)로 재면 학습 데이터 정확도가 다섯 번 중 네 번
#   0.3~1.1%p 더 높으므로, 이동 평균과 배치 통계의 어긋남은 이 '차이'를 키우지 않습니다 (오히려 조금 줄임).
#
# 즉 이 실험의 배치 정규화는 규제라기보다 최적화를 돕는 장치이고, 배치 128 의 통계 잡음이 주는 규제 효과는 작습니다.
# 과적합을 줄이는 것은 드롭아웃·가중치 감쇠이고, 셋을 함께 쓰면 차이가 0.084 로 줄어듭니다. 아래 실행은 이번 학습
# 곡선에서 '0.9 도달 에폭'과 '최고 검증 정확도의 에폭'을 출력합니다.

# %%
REGULARIZATION_VARIANTS = {
    "기본": {"batch_norm": False, "dropout": 0.0, "weight_decay": 0.0},
    "배치 정규화": {"batch_norm": True, "dropout": 0.0, "weight_decay": 0.0},
    "드롭아웃 0.5": {"batch_norm": False, "dropout": 0.5, "weight_decay": 0.0},
    "가중치 감쇠 1.0": {"batch_norm": False, "dropout": 0.0, "weight_decay": 1.0},
    "셋 모두": {"batch_norm": True, "dropout": 0.5, "weight_decay": 1.0},
}


def compare_regularization(splits, args, device, quick: bool) -> dict:
    """작은 학습 부분집합(과적합이 잘 보이도록)으로 오래 학습한 뒤, 같은 평가 모드로 학습·검증 정확도를 잽니다.

    차이(gap) = 학습 정확도 - 검증 정확도. 클수록 학습 데이터를 '외웠다'는 뜻입니다.
    """
    cfg = REGULARIZATION_DEMO
    train_x, train_y = take_subset(splits[0], splits[1], 1000 if quick else cfg["train_size"], args.seed)
    results = {}
    for name, variant in REGULARIZATION_VARIANTS.items():
        torch.manual_seed(args.seed)
        model = MLP(cfg["hidden"], batch_norm=variant["batch_norm"], dropout=variant["dropout"]).to(device)
        history = train_model(model, (train_x, train_y, splits[2], splits[3]), lr=cfg["lr"],
                              epochs=2 if quick else cfg["epochs"], batch_size=128, seed=args.seed,
                              device=device, weight_decay=variant["weight_decay"], schedule=False,
                              name=f"{name} ")
        train_acc = accuracy_on(model, train_x, train_y, device)
        val_acc = history["val_accuracy"][-1]
        results[name] = {"history": history, "train_accuracy": train_acc, "val_accuracy": val_acc,
                         "gap": train_acc - val_acc}
    return results


def print_regularization_table(results: dict) -> None:
    print(f"\n  {'설정':<14}{'학습 정확도':>10}{'검증 정확도':>10}{'차이':>8}{'최저 검증 손실':>14}{'마지막 검증 손실':>16}")
    for name, r in results.items():
        h = r["history"]
        print(f"  {name:<14}{r['train_accuracy']:>10.4f}{r['val_accuracy']:>10.4f}{r['gap']:>8.4f}"
              f"{min(h['val_loss']):>14.4f}{h['val_loss'][-1]:>16.4f}")


def plot_regularization(results: dict, path) -> None:
    fig, axes = new_figure(ncols=2, size=(6, 4))
    names = list(results)
    pos = np.arange(len(names))
    ax = axes[0, 0]
    ax.bar(pos - 0.2, [results[n]["train_accuracy"] for n in names], 0.4, label="학습")
    ax.bar(pos + 0.2, [results[n]["val_accuracy"] for n in names], 0.4, label="검증")
    for i, n in enumerate(names):
        ax.annotate(f"차이 {results[n]['gap']:.3f}", (i, results[n]["train_accuracy"]), ha="center",
                    va="bottom", fontsize=8)
    low = min(r["val_accuracy"] for r in results.values())
    ax.set_ylim(max(0.0, low - 0.1), 1.02)
    ax.set_xticks(pos, names, rotation=20)
    ax.set_ylabel("정확도 (평가 모드)")
    ax.set_title("학습/검증 정확도와 그 차이")
    ax.legend()
    ax = axes[0, 1]
    for n in names:
        h = results[n]["history"]
        ax.plot(np.arange(1, len(h["val_loss"]) + 1), h["val_loss"], label=n)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # 에폭은 정수
    ax.set_xlabel("에폭")
    ax.set_ylabel("검증 손실")
    ax.set_title("검증 손실: 다시 올라가면 과적합")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)


# %%
if __name__ == "__main__":
    section("5. 배치 정규화와 규제 (작은 학습 부분집합으로 과적합을 일부러 키움)")
    regs = run.stage("regularization", lambda: compare_regularization(splits, args, run.device, args.quick))
    print_regularization_table(regs)
    plot_regularization(regs, run.path("regularization.png"))
    smallest = min(regs, key=lambda n: regs[n]["gap"])
    print(f"  → 학습/검증 차이가 가장 작은 설정: {smallest} ({regs[smallest]['gap']:.4f}), "
          f"기본 설정의 차이: {regs['기본']['gap']:.4f}")
    for n in ("기본", "배치 정규화"):  # 배치 정규화는 더 빨리 맞추고, 최고 검증 정확도를 더 일찍 지나감
        h = regs[n]["history"]
        best = int(np.argmax(h["val_accuracy"]))
        fast = next((i + 1 for i, a in enumerate(h["train_accuracy"]) if a >= 0.9), "-")
        print(f"  {n}: 학습 정확도 0.9 도달 에폭 {fast}, 최고 검증 정확도 {h['val_accuracy'][best]:.4f} "
              f"(에폭 {best + 1}), 마지막 에폭 {h['val_accuracy'][-1]:.4f}")
    record |= {f"regularization_{k}_{key}": round(regs[n][k], 4) for key, n in
               zip(["none", "batchnorm", "dropout", "weight_decay", "all"], regs) for k in ("gap", "val_accuracy")}

# %% [markdown]
# ## 6. 하이퍼파라미터 탐색 (검증 세트로만 고름)
# 학습률 × 첫 은닉층 폭 × 드롭아웃의 격자(2×2×2 = 8개 후보)를 같은 짧은 예산(`--search-epochs`, 기본 4에폭)으로
# 학습하고 검증 정확도로 순위를 매깁니다. 학습률 후보는 `--lr` 과 그 3배입니다.
# 짧은 예산의 순위가 긴 학습의 순위와 늘 같지는 않지만, 후보를 싸게 거르는 흔한 방법입니다.

# %%
def search_grid(base_lr: float, quick: bool) -> list[dict]:
    """학습률 × 폭 × 드롭아웃의 격자. --lr 이 학습률 후보의 기준값입니다 (기준값과 그 3배)."""
    if quick:
        return [{"lr": base_lr, "width": 128, "dropout": 0.1}, {"lr": 3 * base_lr, "width": 128, "dropout": 0.1}]
    return [{"lr": lr, "width": w, "dropout": p}
            for lr, w, p in itertools.product((base_lr, 3 * base_lr), SEARCH_WIDTHS, SEARCH_DROPOUTS)]


def config_label(cfg: dict) -> str:
    return f"학습률 {cfg['lr']:g}, 폭 {cfg['width']}-{cfg['width'] // 2}, 드롭아웃 {cfg['dropout']:g}"


def build_model(cfg: dict) -> MLP:
    return MLP((cfg["width"], cfg["width"] // 2), batch_norm=True, dropout=cfg["dropout"])


def hyperparameter_search(splits, args, device, epochs: int) -> list[dict]:
    """후보마다 같은 짧은 예산으로 학습하고 검증 정확도를 기록합니다. 테스트 세트는 쓰지 않습니다."""
    results = []
    for i, cfg in enumerate(search_grid(args.lr, args.quick), 1):
        torch.manual_seed(args.seed)
        model = build_model(cfg).to(device)
        t0 = time.perf_counter()
        history = train_model(model, splits, lr=cfg["lr"], epochs=epochs, batch_size=args.batch_size,
                              seed=args.seed, device=device, weight_decay=WEIGHT_DECAY,
                              label_smoothing=LABEL_SMOOTHING, name=f"탐색 {i} ")
        results.append({**cfg, "val_accuracy": history["val_accuracy"][-1], "parameters": count_parameters(model),
                         "seconds": round(time.perf_counter() - t0, 1)})
    return sorted(results, key=lambda r: -r["val_accuracy"])


def print_search_table(ranked: list[dict]) -> None:
    print(f"\n  {'순위':<4}{'학습률':>8}{'폭':>11}{'드롭아웃':>8}{'파라미터 수':>12}{'검증 정확도':>10}{'시간(초)':>8}")
    for rank, r in enumerate(ranked, 1):
        print(f"  {rank:<4}{r['lr']:>8g}{r['width']:>7}-{r['width'] // 2:<4}{r['dropout']:>7g}"
              f"{r['parameters']:>12,}{r['val_accuracy']:>10.4f}{r['seconds']:>8}")


def plot_search(results: list[dict], path) -> None:
    """검증 정확도 순서의 가로 막대. 차이가 작으므로 축을 좁혀 보여 줍니다."""
    fig, axes = new_figure(size=(8, 0.45 * len(results) + 1.5))
    ax = axes[0, 0]
    accs = [r["val_accuracy"] for r in results][::-1]
    colors = ["tab:gray"] * (len(results) - 1) + ["tab:orange"]
    ax.barh([config_label(r) for r in results][::-1], accs, color=colors)
    for i, a in enumerate(accs):
        ax.annotate(f"{a:.4f}", (a, i), va="center", ha="left", fontsize=8)
    ax.set_xlim(max(0.0, min(accs) - 0.02), max(accs) + 0.015)
    ax.set_xlabel("검증 정확도 (같은 짧은 예산)")
    ax.set_title("하이퍼파라미터 탐색 결과 (주황 = 선택)")
    ax.grid(axis="x", alpha=0.3)
    save_figure(fig, path)


# %%
if __name__ == "__main__":
    section(f"6. 하이퍼파라미터 탐색 (검증 세트 {len(splits[3]):,}장으로만 비교)")
    search_epochs = 1 if args.quick else args.search_epochs
    search = run.stage("search", lambda: hyperparameter_search(splits, args, run.device, search_epochs))
    print_search_table(search)
    plot_search(search, run.path("search.png"))
    config = {k: search[0][k] for k in ("lr", "width", "dropout")}
    print(f"  → 선택: {config_label(config)} (검증 정확도 {search[0]['val_accuracy']:.4f})")

# %% [markdown]
# ## 7. 선택한 설정으로 최종 학습과 테스트 (테스트는 한 번만)
# 고른 설정으로 같은 학습·검증 분할에서 더 오래(기본 30에폭) 학습합니다. AdamW + 원사이클(one-cycle) 학습률
# 스케줄 + 레이블 스무딩 0.1. 에폭마다 체크포인트를 남기므로 중단해도 `--resume` 으로 이어서 학습할 수 있고,
# 그때 4~6절은 저장된 결과를 그대로 씁니다. 테스트 세트는 여기서 딱 한 번 평가해 혼동 행렬(행: 정답, 열: 예측)과
# 틀린 예시로 읽습니다.

# %%
def train_final(config: dict, splits, classes, args, run, epochs: int):
    torch.manual_seed(args.seed)
    model = build_model(config).to(run.device)
    describe_layers(model)
    history = train_model(model, splits, lr=config["lr"], epochs=epochs, batch_size=args.batch_size,
                          seed=args.seed, device=run.device, weight_decay=WEIGHT_DECAY,
                          label_smoothing=LABEL_SMOOTHING, run=run, resume=args.resume,
                          checkpoint_extra={"config": config, "classes": classes,
                                            "normalization": [FASHION_MEAN, FASHION_STD]})
    return model, history


def show_mistakes(data, result, path) -> None:
    wrong = (result["predictions"] != result["targets"]).nonzero().flatten()[:24]
    titles = [f"정답 {data.classes[result['targets'][i]]}\n예측 {data.classes[result['predictions'][i]]}"
              for i in wrong]
    plot_image_grid(data.test_x[wrong], titles, path, title="틀린 예시 (정답 / 예측)", ncols=8)


# %%
if __name__ == "__main__":
    epochs = 1 if args.quick else args.epochs
    section(f"7. 최종 학습: {config_label(config)}, {epochs} 에폭")
    model, history = train_final(config, splits, data.classes, args, run, epochs)
    plot_learning_curves({"최종 MLP": history}, run.path("learning_curves.png"), title="최종 MLP 학습 곡선")
    test = evaluate(model, batches(data.test_x, data.test_y, 1000, train=False), nn.CrossEntropyLoss(),
                    run.device)
    print(f"  테스트 정확도 (선택한 모델, 한 번만 평가): {test['accuracy']:.4f} ({len(data.test_y):,}장)")
    cm = confusion_matrix(test["targets"], test["predictions"], len(data.classes))
    plot_confusion_matrix(cm, data.classes, run.path("confusion_matrix.png"), title="Fashion-MNIST 혼동 행렬")
    show_mistakes(data, test, run.path("mistakes.png"))

# %% [markdown]
# ## 8. 결과 기록
# 테스트 정확도와 함께, 비교 실험(활성화 함수별 검증 정확도·그래디언트 비율, 규제별 학습/검증 차이)과
# 탐색 결과 전체를 `metrics.json` 에 남깁니다 (`docs/results/` 의 게시 기록과 같은 형식).

# %%
if __name__ == "__main__":
    section("8. 결과 기록")
    metrics = {"test_accuracy": round(test["accuracy"], 4), "test_loss": round(test["loss"], 4),
               "val_accuracy": round(history["val_accuracy"][-1], 4), **{f"chosen_{k}": v for k, v in config.items()},
               "parameters": count_parameters(model), "search": search, **record, "search_epochs": search_epochs}
    run.write_metrics(dataset=data.name, data_source=data.source, epochs=epochs, n_train=len(data.train_y),
                      n_test=len(data.test_y), metrics=metrics)
    print(f"  그림: {run.out}/*.png, 체크포인트: {run.checkpoint_path}")

# %% [markdown]
# ## 9. 내 이미지로 예측하기 (`--predict`)
# 저장된 체크포인트로 내가 찍은 옷 사진을 분류합니다. Fashion-MNIST 는 '어두운 배경 + 밝은 옷'이므로
# 밝은 배경의 사진은 뒤집어서 28×28 흑백으로 줄여 넣습니다. 정규화 값(평균·표준편차)도 체크포인트에서 읽습니다.
# 줄일 때는 Fashion-MNIST 를 만든 방법을 따릅니다: 배경과 다른 부분(옷)만 잘라 비율을 지킨 채 긴 변을 28로 맞추고
# 가운데에 놓습니다 (`utils.data_utils.frame_like_dataset`). 원본과 모델 입력은 `predict_inputs.png` 에 나란히 그립니다.
# 스크립트에서는 `python 02_neural_networks.py --predict 내옷.jpg` 로 이 절만 실행됩니다.

# %%
def predict(args, run, images=None, checkpoint=None):
    """저장된 체크포인트(기본: 전체 학습의 것)로 학습자가 가져온 옷 사진을 분류합니다."""
    state = load_checkpoint(checkpoint or run.out.parent / LESSON / "checkpoint.pt", map_location=run.device)
    model = build_model(state["config"]).to(run.device)
    model.load_state_dict(state["model"])
    paths, images = load_user_images(images or args.predict, size=28, channels=1, dark_background=True,
                                     framing="fashion")
    mean, std = state["normalization"]
    rows = print_predictions(model, images, paths, state["classes"], run.device,
                             lambda x: (x.float() / 255.0 - mean) / std)
    plot_prediction_inputs(paths, images, [f"{r['label']} ({r['probability']:.0%})" for r in rows],
                           run.path("predict_inputs.png"))
    return rows


# %%
if __name__ == "__main__":
    section("9. 내 이미지로 예측하기")
    sample = run.path("내 옷.png")  # 테스트 이미지 한 장을 흰 배경(400×300)의 왼쪽 아래에 5배로 놓은 '사진'으로
    photo = Image.new("L", (400, 300), 255)
    photo.paste(Image.fromarray(255 - data.test_x[0, 0].numpy()).resize((140, 140)), (20, 140))
    save_once(photo, sample)  # torchrun 으로 여러 프로세스일 때도 랭크 0만 씁니다
    predict(args, run, [str(sample)], checkpoint=run.checkpoint_path)
    print(f"  (정답: {data.classes[data.test_y[0]]})")

# %% [markdown]
# ## 해 보세요
# 전체 실행(약 9분) 대신 노트북에서 앞 절들을 실행한 뒤 바꾼 절의 셀만 다시 실행하면 각각 몇 분 안에 끝납니다. 아래 숫자는 이 과정을 만든
# 2코어 CPU(AMD EPYC)에서 잰 값이고, 같은 일을 하는 짧은 스크립트와 출력·걸린 시간은 `docs/notes/02_neural_networks.md` 에 있습니다.
# 기본값은 게시된 기본 실행(`docs/results/02_neural_networks.json`)의 값입니다.
#
# 1. **배치 정규화로 Sigmoid 살리기** (4절): 4절 코드 셀의 `compare_activations` 에서 `batch_norm=False` 를 `True` 로 바꾸고 4절 실행 셀을
#    다시 실행해 보세요. Sigmoid 의 검증 정확도가 0.0925(찍기 수준) →
#    0.7812 로 오르고(2에폭째 0.8313), 첫 층/마지막 층 그래디언트 비율이 0.0022 → 1.26 이 됩니다. 배치 정규화가 층마다 입력을 평균 0·분산 1
#    근처로 맞춰, 시그모이드가 도함수가 큰 가운데 구간에서 일하기 때문입니다. ReLU 는 0.8487 → 0.8352 로 오히려 조금 내려갑니다.
# 2. **이동 평균이 따라잡는 속도** (2절): `show_batch_norm_and_dropout` 의 작은 배치 `h`(샘플 4 × 특징 3)와 γ·β 로, 새 셀에서
#    `batch_norm_by_hand(h, gamma, beta, run_mean, run_var, training=True)` 를 되풀이해 이동 평균을 갱신하고 매번 평가 모드 출력과
#    비교해 보세요 (`run_mean, run_var = torch.zeros(3), torch.ones(3)` 에서 시작). 학습/평가 출력 차이의 최댓값이 1번 뒤 19.16,
#    10번 뒤 2.95, 50번 뒤 0.39 로 줄지만 100번 뒤에도 0.43 에서 멈춥니다. 이동 평균은 배치 평균(4, 14, 2)에 닿지만 이동 분산은
#    불편 분산(첫 특징 6.667 = 5 × 4/3)을 기록하므로, 샘플 4개짜리 배치에서는 평가 모드가 $\sqrt{3/4}$ 배쯤 작게 정규화합니다.
#    배치가 클수록 이 차이는 작아집니다.
# 3. **가장 헷갈리는 두 클래스** (7절): 기본 실행의 모델(`runs/02_neural_networks/checkpoint.pt`)로 테스트 세트를 다시 평가해
#    (`evaluate` 와 `confusion_matrix`, 몇 초) 대각선 밖에서 가장 큰 칸을 찾아보세요. 테스트 정확도 0.9099, 셔츠 → 티셔츠/탑 105장,
#    티셔츠/탑 → 셔츠 104장, 셔츠 → 풀오버 70장이고, 클래스별 정확도는 셔츠 0.744 가 가장 낮고 바지 0.984 가 가장 높습니다.
#    `mistakes.png` 에서 사람에게도 헷갈리는 옷인지 보세요 (28×28 흑백에서는 깃과 단추가 잘 보이지 않습니다).
#
# **질문**
#
# <details><summary>1. 배치 정규화 없는 4층 MLP에서 Sigmoid 만 학습이 거의 안 되는 이유는?</summary>
#
# 시그모이드의 도함수 $\sigma'(x) = \sigma(x)(1-\sigma(x))$ 는 최댓값이 0.25 입니다. 역전파는 층을 지날 때마다 이 도함수를 곱하므로 입력 쪽
# 층에 닿는 그래디언트가 층마다 4분의 1 이하로 줄어듭니다 (4절의 첫 층/마지막 층 비율 0.0022). 게다가 출력이 늘 양수(0~1)라 다음 층의
# 입력이 한쪽으로 치우칩니다. ReLU의 도함수는 1(양수 쪽), Tanh는 0에서 1이고 출력의 평균이 0 근처라 덜 줄어듭니다. 배치 정규화는
# 층마다 입력을 평균 0·분산 1 근처로 맞춰 시그모이드가 도함수가 큰 가운데 구간에서 일하게 합니다 (실험 1).
# </details>
#
# <details><summary>2. 배치 정규화를 쓰는 층에서는 왜 선형층의 편향(bias)을 빼도 될까요?</summary>
#
# 배치 정규화는 배치 평균을 뺍니다. 선형층의 편향은 모든 샘플에 같은 값을 더하므로 평균에도 똑같이 더해지고, 평균을 빼는 순간
# 사라집니다. 대신 배치 정규화의 $\beta$ 가 정규화 뒤에 같은 역할(이동)을 하므로, 2절의 `MLP` 는 `bias=not batch_norm` 으로 편향을 뺍니다.
# </details>
#
# <details><summary>3. 드롭아웃은 학습 때 남은 값을 $1/(1-p)$ 배 하는데, 평가 때는 왜 아무것도 하지 않나요?</summary>
#
# 학습 때 뉴런을 확률 $p$ 로 끄면 출력의 기댓값이 $(1-p)$ 배로 줄어듭니다. 남은 값을 $1/(1-p)$ 배 해 두면 기댓값이 끄지 않았을 때와
# 같아지므로, 평가 때(`model.eval()`)는 모든 뉴런을 그대로 쓰기만 하면 다음 층이 학습 때와 같은 크기의 입력을 받습니다.
# </details>
