# %% [markdown]
# # 01. PyTorch 기초 — 텐서, 자동 미분, 첫 신경망으로 MNIST 손글씨 숫자 분류
#
# **학습 목표**
# - 텐서(tensor)를 만들고 모양(shape)·자료형(dtype)·브로드캐스팅·인덱싱·모양 바꾸기를 다룹니다.
# - 자동 미분(autograd)이 계산한 그래디언트(gradient)를 손으로 유도한 값과 비교합니다.
# - `nn.Module` 로 다층 퍼셉트론(MLP)을 만들고 손실 함수(loss function)와 옵티마이저(optimizer)로 학습합니다.
# - SGD와 Adam을 같은 모델에서 비교하고, 혼동 행렬과 틀린 예시로 결과를 읽습니다.
#
# **데이터셋**: MNIST (28×28 흑백 손글씨 숫자, 학습 60,000장 / 테스트 10,000장, torchvision).
# 데이터가 없고 내려받을 수도 없으면 scikit-learn에 들어 있는 실제 손글씨 숫자 1,797장(8×8)을
# 28×28로 키워 대신 씁니다 (결과에 `fallback` 으로 기록).
#
# **핵심 개념**: 텐서, 브로드캐스팅, NumPy 연동, 장치(device), 자동 미분, `no_grad`/`detach`, `nn.Module`,
# 교차 엔트로피 손실, SGD/Adam, 에폭(epoch)·배치(batch), 정확도, 혼동 행렬
#
# **실행 방법**
# ```
# python 01_pytorch_basics.py                  # 전체 학습 (MNIST)
# python 01_pytorch_basics.py --quick          # 몇 초 만에 흐름만 확인
# python 01_pytorch_basics.py --predict 내숫자.png 폴더/   # 저장된 모델로 내 이미지 분류
# ```
# 노트북(`notebooks/01_pytorch_basics.ipynb`)에서는 아래 매개변수 셀의 `QUICK` 으로 고릅니다.
#
# **예상 시간** (측정값은 `docs/RESULTS.md`): 2코어 CPU에서 약 50초, `--quick` 은 10초 안팎.

# %%
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from utils.chapter import section, start_chapter
from utils.data_utils import TensorBatches, load_mnist_family, load_user_images, split_train_val, take_subset
from utils.distributed import save_once
from utils.model_utils import count_parameters, evaluate, fit, load_checkpoint, make_parser, print_predictions
from utils.visualization import (confusion_matrix, plot_confusion_matrix, plot_image_grid, plot_learning_curves,
                                 plot_prediction_inputs)

# %% tags=["parameters"]
QUICK = False      # True: 작은 부분집합과 1에폭으로 몇 초 만에 흐름만 확인
DATA_DIR = None    # 데이터 루트 (None: 환경 변수 DL_DATA_DIR, 없으면 ./data)
OUT_DIR = "runs"   # 그림·체크포인트·metrics.json 을 둘 곳

# %% [markdown]
# 실행 설정: 스크립트로 실행하면 명령행 옵션(`--quick`, `--epochs` …)을, 노트북에서는 위 매개변수 셀을 씁니다.
# 시드를 고정하고 장치(CPU/GPU)와 결과 폴더를 정합니다.

# %%
LESSON = "01_pytorch_basics"
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # 학습 세트 전체 픽셀의 평균·표준편차 (널리 쓰는 값)
HIDDEN = (512, 512)
QUICK_TRAIN, QUICK_TEST = 3000, 1000
OPTIMIZER_DEMO_SIZE = 10000  # SGD vs Adam 비교는 작은 부분집합으로 (본 학습에 시간을 남기려고)


def build_parser():
    p = make_parser(f"{LESSON}.py", "01. PyTorch 기초: 텐서, 자동 미분, MNIST MLP", epochs=12, batch_size=128, lr=2e-3)
    p.add_argument("--predict", nargs="+", metavar="IMAGE",
                   help="저장된 모델로 분류할 이미지 파일들 또는 폴더 (크기·형식 무관)")
    return p


# %%
if __name__ == "__main__":
    args, run = start_chapter(LESSON, build_parser(), quick=QUICK, data_dir=DATA_DIR, out_dir=OUT_DIR,
                              actions={"predict": "predict"})

# %% [markdown]
# ## 1. 텐서 기본 연산
# 텐서는 같은 자료형의 숫자를 여러 차원으로 담은 배열입니다. NumPy 배열과 거의 같게 다루지만
# GPU로 옮길 수 있고 그래디언트를 추적할 수 있다는 점이 다릅니다.
# **브로드캐스팅**: 모양이 `(2,3)` 인 텐서와 `(3,)` 인 텐서를 더하면 작은 쪽이 행마다 복사된 것처럼 더해집니다.

# %%
def tensor_basics() -> dict:
    """텐서를 만들고 바꾸는 기본기. 출력과 함께 결과를 돌려줘 테스트가 값을 확인할 수 있게 합니다."""
    a = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])           # 파이썬 리스트 → 텐서
    print(f"  a = {a.tolist()}  모양 {tuple(a.shape)}, 자료형 {a.dtype}")
    ints = a.to(torch.int64)                                        # 자료형 바꾸기
    print(f"  정수로 변환: {ints.dtype}, 0으로 채운 텐서: {torch.zeros(2, 2).tolist()}")

    # 브로드캐스팅: (2,3) + (3,) → 작은 쪽이 행마다 복사된 것처럼 더해집니다 (실제 복사는 없음).
    row = torch.tensor([10.0, 20.0, 30.0])
    broadcast = a + row
    print(f"  브로드캐스팅 a + [10,20,30] = {broadcast.tolist()}")

    # 인덱싱과 슬라이싱: 파이썬/NumPy와 같은 규칙
    print(f"  a[1] = {a[1].tolist()}, a[:, 0] = {a[:, 0].tolist()}, a[a > 3] = {a[a > 3].tolist()}")

    # 모양 바꾸기: view/reshape는 원소 순서를 유지한 채 모양만 바꿉니다.
    reshaped = a.reshape(3, 2)
    flat = a.flatten()
    print(f"  reshape(3,2) = {reshaped.tolist()}, flatten = {flat.tolist()}, 전치 a.T 모양 {tuple(a.T.shape)}")

    # NumPy 연동: CPU 텐서와 NumPy 배열은 메모리를 공유합니다 (한쪽을 바꾸면 다른 쪽도 바뀜).
    arr = np.arange(3, dtype=np.float32)
    shared = torch.from_numpy(arr)
    arr[0] = 100.0
    print(f"  NumPy 배열을 바꾸면 텐서도 바뀜: {shared.tolist()}")
    return {"broadcast": broadcast, "reshaped": reshaped, "shared": shared, "int_dtype": ints.dtype}


def move_to_device(device: torch.device) -> torch.Tensor:
    """계산은 텐서가 있는 장치에서 일어납니다. 모델과 데이터는 같은 장치에 있어야 합니다."""
    x = torch.ones(2, 2).to(device)
    print(f"  텐서를 {x.device} 로 옮겼습니다.")
    return x


# %%
if __name__ == "__main__":
    section("1. 텐서 기본 연산")
    tensor_basics()
    move_to_device(run.device)

# %% [markdown]
# ## 2. 자동 미분(autograd)
# `requires_grad=True` 인 텐서로 계산하면 PyTorch가 계산 그래프를 기록해 두었다가 `backward()` 에서
# 연쇄 법칙으로 그래디언트를 구합니다. 예: $z = w\cdot x + b$, $y = z^2$ 이면 $\dfrac{\partial y}{\partial w} = 2z\,x$.
# 평가할 때처럼 그래디언트가 필요 없으면 `torch.no_grad()` 안에서 계산해 그래프를 만들지 않습니다.

# %%
def autograd_demo() -> tuple[torch.Tensor, torch.Tensor]:
    """y = sum(w·x + b)^2 의 w에 대한 그래디언트: autograd vs 손으로 유도한 식 2·(w·x+b)·x."""
    x = torch.tensor([1.0, 2.0, 3.0])
    w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)  # 이 텐서의 그래디언트를 추적
    b = torch.tensor(0.1, requires_grad=True)
    z = (w * x).sum() + b
    y = z ** 2
    y.backward()                                            # 역전파(backward pass): w.grad에 dy/dw 저장
    by_hand = 2 * z.detach() * x                            # 연쇄 법칙으로 직접 유도한 값
    print(f"  autograd dy/dw = {w.grad.tolist()}")
    print(f"  손으로 유도     = {by_hand.tolist()}  (같아야 합니다)")

    with torch.no_grad():                                   # 평가할 때: 계산 그래프를 만들지 않음
        frozen = w * 2
    print(f"  no_grad 안의 결과는 그래디언트를 추적하지 않음: requires_grad={frozen.requires_grad}, "
          f"detach()도 같은 효과: {w.detach().requires_grad}")
    return w.grad.clone(), by_hand


# %%
if __name__ == "__main__":
    section("2. 자동 미분(autograd)")
    autograd_demo()

# %% [markdown]
# ## 3. 데이터 불러오기
# torchvision 의 MNIST 를 uint8 텐서로 한 번 읽어 메모리에 두고, 배치마다 잘라 씁니다.
# 픽셀 값은 0~255 → 평균 0, 표준편차 1 근처로 바꿔(`normalize`) 입력 크기를 고르게 합니다.

# %%
def normalize(x_uint8: torch.Tensor) -> torch.Tensor:
    """uint8(0~255) → 평균 0, 표준편차 1 근처의 실수. 입력 크기가 고르면 학습이 안정적입니다."""
    return (x_uint8.float() / 255.0 - MNIST_MEAN) / MNIST_STD


# %%
if __name__ == "__main__":
    section("3. 데이터 불러오기")
    data = load_mnist_family("MNIST", args, quick_sizes=(QUICK_TRAIN, QUICK_TEST))
    args.epochs = 1 if args.quick else args.epochs
    print(f"  {data.name}: 학습 {len(data.train_y):,}장, 테스트 {len(data.test_y):,}장 (출처: {data.source})")
    plot_image_grid(data.train_x[:16], [f"레이블 {data.classes[i]}" for i in data.train_y[:16]],
                    run.path("samples.png"), title="학습 데이터 예시")

# %% [markdown]
# ## 4. 신경망 정의 (`nn.Module`)
# 다층 퍼셉트론(MLP)은 이미지를 784개 숫자로 편 뒤 `Linear → ReLU → Dropout` 을 쌓고,
# 마지막 층이 10개 클래스의 점수(logit)를 냅니다.
# - **활성화 함수(activation function) ReLU** $\max(0, x)$: 층 사이에 비선형 함수가 없으면 선형 층을 몇 개 쌓아도
#   선형 함수 하나와 같습니다. ReLU 는 가장 단순한 비선형 함수입니다 (02에서 여러 활성화 함수를 비교합니다).
# - **드롭아웃(dropout)**: 학습할 때만 은닉값의 일부(여기서는 20%)를 무작위로 0으로 만들어, 특정 뉴런에 기대는
#   과적합(overfitting)을 줄입니다. `model.eval()` 에서는 꺼집니다 (02에서 자세히).

# %%
class MLP(nn.Module):
    """다층 퍼셉트론: 28×28 이미지를 784개 숫자로 펴서 은닉층 → ReLU → ... → 10개 클래스 점수(logit)."""

    def __init__(self, hidden=HIDDEN, n_classes: int = 10, dropout: float = 0.2):
        super().__init__()
        layers, width = [nn.Flatten()], 28 * 28
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, n_classes))  # 소프트맥스는 손실 함수(CrossEntropy) 안에서 계산
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


# %%
if __name__ == "__main__":
    section("4. 신경망 정의")
    print(MLP())

# %% [markdown]
# ## 5. 소프트맥스와 교차 엔트로피 손실
# 모델의 출력 10개는 아직 확률이 아닌 점수(logit) $z$ 입니다. **소프트맥스**가 점수를 확률로 바꿉니다:
# $p_k = \dfrac{e^{z_k}}{\sum_j e^{z_j}}$. **교차 엔트로피 손실**은 정답 클래스 $y$ 의 확률이 높을수록 작아집니다:
# $L = -\log p_y$ (배치에서는 평균). 정답 확률이 1이면 손실 0, 0.1이면 2.3.
# 큰 점수의 $e^{z}$ 가 넘치지 않도록 가장 큰 점수를 빼고 계산합니다 (빼도 $p$ 는 그대로). 손으로 쓴 식을
# PyTorch 의 `F.cross_entropy` (소프트맥스와 로그를 한 번에 계산)와 비교합니다.

# %%
def log_softmax_by_hand(logits: torch.Tensor) -> torch.Tensor:
    """log p_k = z_k - log Σ_j e^{z_j}. 가장 큰 점수를 빼서 e^z 가 넘치지 않게 합니다."""
    z = logits - logits.max(dim=1, keepdim=True).values
    return z - z.exp().sum(dim=1, keepdim=True).log()


def cross_entropy_by_hand(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """L = 평균(-log p_정답)."""
    return -log_softmax_by_hand(logits)[torch.arange(len(targets)), targets].mean()


# %%
if __name__ == "__main__":
    section("5. 소프트맥스와 교차 엔트로피 손실")
    torch.manual_seed(args.seed)
    logits = MLP()(normalize(data.train_x[:8]))  # 학습 전 모델의 점수
    probs = log_softmax_by_hand(logits).exp()
    print(f"  첫 이미지의 확률(합 {probs[0].sum():.3f}): {[round(p, 3) for p in probs[0].tolist()]}")
    print(f"  손으로 계산한 손실 {cross_entropy_by_hand(logits, data.train_y[:8]):.6f}"
          f" = F.cross_entropy {F.cross_entropy(logits, data.train_y[:8]):.6f}"
          f"  (학습 전: 10개 중 찍기 수준 -log(0.1) ≈ 2.303 근처)")

# %% [markdown]
# ## 6. 학습 루프: 다섯 줄
# 배치마다 ① 이전 그래디언트를 지우고(`zero_grad`, 지우지 않으면 `.grad` 에 계속 더해집니다) ② 순전파로 점수를 내고
# ③ 손실을 계산해 ④ 역전파(`backward`)로 파라미터마다 그래디언트를 구한 뒤 ⑤ 옵티마이저가 파라미터를 갱신(`step`)합니다.
# 데이터 전체를 한 번 도는 것이 에폭(epoch)입니다. 이 과정의 모든 레슨은 이 다섯 줄에 기록·체크포인트·`--resume` 을
# 더한 공용 함수 `utils.model_utils.fit` 을 씁니다 — 아래에서 둘이 같은 가중치에 도달하는지 확인합니다.

# %%
def train_one_epoch_by_hand(model: nn.Module, batches, loss_fn, optimizer) -> float:
    """한 에폭 학습. 마지막 배치의 손실을 돌려줍니다."""
    model.train()  # 드롭아웃 켜기
    for x, y in batches:
        optimizer.zero_grad()      # ① 이전 배치의 그래디언트 지우기
        logits = model(x)          # ② 순전파(forward pass)
        loss = loss_fn(logits, y)  # ③ 손실
        loss.backward()            # ④ 역전파(backward pass): 파라미터마다 .grad
        optimizer.step()           # ⑤ 갱신
    return loss.item()


def same_as_fit(data, args, n: int = 2000) -> float:
    """같은 초기값·같은 배치 순서로 손으로 쓴 루프와 fit 을 한 에폭씩 돌려 가중치 차이의 최댓값을 돌려줍니다."""
    weights = []
    for use_fit in (False, True):
        torch.manual_seed(args.seed)
        model = MLP(hidden=(128,))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        batches = TensorBatches(data.train_x[:n], data.train_y[:n], 100, shuffle=True, transform=normalize,
                                seed=args.seed)
        if use_fit:
            fit(model, batches, None, nn.CrossEntropyLoss(), optimizer, torch.device("cpu"), 1, name="fit ")
        else:
            loss = train_one_epoch_by_hand(model, batches, nn.CrossEntropyLoss(), optimizer)
            print(f"  손으로 쓴 루프: 한 에폭 뒤 마지막 배치 손실 {loss:.4f}")
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    return (weights[0] - weights[1]).abs().max().item()


# %%
if __name__ == "__main__":
    section("6. 학습 루프: 다섯 줄")
    print(f"  손으로 쓴 루프와 fit 의 가중치 차이 (최댓값): {same_as_fit(data, args):.2e}")

# %% [markdown]
# ## 7. 옵티마이저 비교: SGD vs Adam
# 같은 모델·같은 초기값·같은 데이터로 옵티마이저만 바꿔 학습 곡선을 비교합니다 (테스트 세트는 쓰지 않고
# 학습 세트에서 떼어 낸 검증 세트로). SGD 는 모든 파라미터를 같은 학습률로 그래디언트 반대 방향으로 옮기고
# (모멘텀: 이전 이동 방향을 조금 이어 감), Adam은 파라미터마다 그래디언트의 크기에 맞춰 학습률을 조절해
# 초반에 더 빨리 내려가는 경우가 많습니다.

# %%
def make_optimizer(name: str, model: nn.Module, lr: float) -> torch.optim.Optimizer:
    if name == "SGD":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return torch.optim.Adam(model.parameters(), lr=lr)


def compare_optimizers(data, args, device, epochs: int) -> dict:
    """같은 모델·같은 초기값·같은 데이터로 옵티마이저만 바꿔 학습 곡선을 비교합니다."""
    x, y = take_subset(data.train_x, data.train_y, OPTIMIZER_DEMO_SIZE, seed=args.seed)
    train_x, train_y, val_x, val_y = split_train_val(x, y, 0.2, args.seed)  # 테스트 세트는 쓰지 않음
    histories = {}
    for name, lr in [("SGD", 0.01), ("Adam", 0.001)]:
        torch.manual_seed(args.seed)  # 같은 초기 가중치
        model = MLP(hidden=(128,)).to(device)
        batches = TensorBatches(train_x, train_y, 128, shuffle=True, transform=normalize, seed=args.seed)
        val = TensorBatches(val_x, val_y, 1000, transform=normalize)
        histories[name] = fit(model, batches, val, nn.CrossEntropyLoss(), make_optimizer(name, model, lr),
                              device, epochs, name=f"{name} ")
    return histories


# %%
if __name__ == "__main__":
    section("7. 옵티마이저 비교: SGD vs Adam (작은 부분집합, 같은 초기값)")
    histories = compare_optimizers(data, args, run.device, epochs=1 if args.quick else 3)
    plot_learning_curves(histories, run.path("optimizers.png"), title="SGD vs Adam 학습 곡선")

# %% [markdown]
# ## 8. MNIST 분류기 학습과 평가
# 본 학습은 세 가지를 더합니다 (02·03에서 하나씩 실험합니다):
# - **AdamW**: Adam 에 가중치 감쇠(weight decay, 매 단계 가중치를 조금씩 0 쪽으로 줄여 과적합을 막는 규제)를 더한 것.
# - **원사이클(one-cycle) 학습률 스케줄**: 학습률을 처음엔 작게 시작해 최대값까지 올렸다가 끝으로 갈수록 0 가까이 내립니다.
# - **레이블 스무딩(label smoothing)** 0.05: 정답 확률 목표를 1 대신 0.95(나머지는 다른 클래스에 고르게)로 두어
#   모델이 지나치게 확신하지 않게 합니다.
# 에폭마다 체크포인트를 남기므로 중단해도 `--resume` 으로 이어서 학습할 수 있습니다.
# 테스트 세트 결과는 혼동 행렬(행: 정답, 열: 예측)과 틀린 예시로 읽습니다.

# %%
def train_classifier(data, args, run):
    """본 학습: AdamW + 원사이클(one-cycle) 학습률 스케줄로 MLP를 학습합니다."""
    train_x, train_y, val_x, val_y = split_train_val(data.train_x, data.train_y, 0.1, args.seed)
    train = TensorBatches(train_x, train_y, args.batch_size, shuffle=True, transform=normalize, seed=args.seed)
    val = TensorBatches(val_x, val_y, 1000, transform=normalize)
    torch.manual_seed(args.seed)
    model = MLP().to(run.device)
    print(f"  학습할 파라미터 수: {count_parameters(model):,}")
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr,
                                                    total_steps=args.epochs * len(train))
    history = fit(model, train, val, nn.CrossEntropyLoss(label_smoothing=0.05), optimizer, run.device,
                  args.epochs, scheduler=scheduler, run=run, resume=args.resume,
                  checkpoint_extra={"classes": data.classes, "hidden": list(HIDDEN)})
    return model, history


def show_mistakes(data, result, path):
    """틀린 테스트 이미지 몇 장: 모델이 어떤 숫자를 헷갈리는지 눈으로 확인합니다."""
    wrong = (result["predictions"] != result["targets"]).nonzero().flatten()[:24]
    titles = [f"정답 {data.classes[result['targets'][i]]} / 예측 {data.classes[result['predictions'][i]]}"
              for i in wrong]
    plot_image_grid(data.test_x[wrong], titles, path, title="틀린 예시 (정답 / 예측)", ncols=8)


# %%
if __name__ == "__main__":
    section("8. MNIST 분류기 학습 (MLP)")
    model, history = train_classifier(data, args, run)
    plot_learning_curves({"MLP": history}, run.path("learning_curves.png"), title="MNIST MLP 학습 곡선")
    test = evaluate(model, TensorBatches(data.test_x, data.test_y, 1000, transform=normalize),
                    nn.CrossEntropyLoss(), run.device)
    print(f"  테스트 정확도: {test['accuracy']:.4f} ({len(data.test_y):,}장)")
    cm = confusion_matrix(test["targets"], test["predictions"], len(data.classes))
    plot_confusion_matrix(cm, data.classes, run.path("confusion_matrix.png"), title="MNIST 혼동 행렬")
    show_mistakes(data, test, run.path("mistakes.png"))
    run.write_metrics(dataset=data.name, data_source=data.source, epochs=args.epochs,
                      n_train=len(data.train_y), n_test=len(data.test_y),
                      metrics={"test_accuracy": round(test["accuracy"], 4),
                               "test_loss": round(test["loss"], 4),
                               "sgd_val_accuracy": round(histories["SGD"]["val_accuracy"][-1], 4),
                               "adam_val_accuracy": round(histories["Adam"]["val_accuracy"][-1], 4),
                               "parameters": count_parameters(model)})

# %% [markdown]
# ## 9. 내 이미지로 예측하기 (`--predict`)
# 저장된 체크포인트로 내가 가져온 숫자 이미지를 분류합니다. 종이에 쓴 숫자처럼 밝은 배경의 사진은
# MNIST 처럼 '어두운 배경 + 밝은 글씨'가 되도록 뒤집어서 넣습니다.
# 그림 전체를 28×28 로 줄이면 큰 종이 한쪽에 쓴 숫자는 찌그러진 작은 점이 됩니다. 그래서 MNIST 를 만든 방법 그대로
# 잉크만 잘라 비율을 지킨 채 긴 변을 20픽셀로 줄이고, 질량 중심이 28×28 의 한가운데 오도록 놓습니다
# (`utils.data_utils.frame_like_dataset`). 원본과 모델이 보는 28×28 은 `predict_inputs.png` 에 나란히 그립니다.
# 스크립트에서는 `python 01_pytorch_basics.py --predict 내숫자.png` 로 이 절만 실행됩니다.

# %%
def predict(args, run, images=None, checkpoint=None):
    """저장된 체크포인트(기본: 전체 학습의 것)로 학습자가 가져온 숫자 이미지를 분류합니다."""
    state = load_checkpoint(checkpoint or run.out.parent / LESSON / "checkpoint.pt", map_location=run.device)
    model = MLP(hidden=tuple(state["hidden"])).to(run.device)
    model.load_state_dict(state["model"])
    paths, images = load_user_images(images or args.predict, size=28, channels=1, dark_background=True,
                                     framing="mnist")
    rows = print_predictions(model, images, paths, state["classes"], run.device, normalize)
    plot_prediction_inputs(paths, images, [f"예측 {r['label']} ({r['probability']:.0%})" for r in rows],
                           run.path("predict_inputs.png"))
    return rows


# %%
if __name__ == "__main__":
    section("9. 내 이미지로 예측하기")
    sample = run.path("내 숫자.png")  # 테스트 숫자 한 장을 흰 종이(400×300)의 오른쪽 위에 6배로 '써서' 넣어 봅니다
    page = Image.new("L", (400, 300), 255)
    page.paste(Image.fromarray(255 - data.test_x[0, 0].numpy()).resize((168, 168)), (210, 20))
    save_once(page, sample)  # torchrun 으로 여러 프로세스일 때도 랭크 0만 씁니다
    predict(args, run, [str(sample)], checkpoint=run.checkpoint_path)
    print(f"  (정답: {data.classes[data.test_y[0]]})  그림: {run.out}/*.png, 체크포인트: {run.checkpoint_path}")

# %% [markdown]
# ## 해 보세요
# 명령 하나씩 바꿔 실행하고 `runs/01_pytorch_basics/metrics.json` 의 `test_accuracy` 를 기본 실행(98.6 % 안팎)과 비교해 보세요.
# 아래 숫자는 이 과정을 만든 2코어 CPU에서 잰 값입니다 (`docs/notes/01_pytorch_basics.md`).
#
# 1. **에폭을 줄이기**: `python 01_pytorch_basics.py --epochs 3` → 테스트 정확도 98.25 %. 12에폭보다 0.3 %p 낮지만
#    시간은 4분의 1 — 정확도의 대부분은 처음 몇 에폭에 얻습니다.
# 2. **학습률을 10배로**: `python 01_pytorch_basics.py --lr 0.02` → 96.14 %. 학습 손실이 기본보다 한참 높은 곳에서
#    맴돕니다. 너무 큰 학습률은 최솟값 근처를 계속 지나쳐 버립니다.
# 3. **배치를 8배로**: `python 01_pytorch_basics.py --batch-size 1024` → 98.45 %. 에폭당 갱신 횟수가 8분의 1로 줄어
#    같은 에폭 수에서는 조금 덜 배웁니다 (대신 한 에폭이 빠릅니다).
# 4. 6절의 `train_one_epoch_by_hand` 에서 `optimizer.zero_grad()` 줄을 지우고 6절을 다시 실행해 보세요.
#    손으로 쓴 루프와 `fit` 의 가중치 차이가 0이 아니게 됩니다.
#
# **질문**
#
# <details><summary>1. 왜 모델의 마지막 층에 소프트맥스를 넣지 않았을까요?</summary>
#
# `nn.CrossEntropyLoss` 가 안에서 로그 소프트맥스를 계산하기 때문입니다 (5절의 `cross_entropy_by_hand` 와 같은 식).
# 모델에 소프트맥스를 또 넣으면 두 번 적용되어 그래디언트가 작아지고 학습이 느려집니다. 확률이 필요할 때(예측)만
# `torch.softmax` 를 씁니다.
# </details>
#
# <details><summary>2. <code>zero_grad()</code> 를 빼면 무슨 일이 생길까요?</summary>
#
# `backward()` 는 그래디언트를 `.grad` 에 **더합니다**. 지우지 않으면 이전 배치들의 그래디언트가 쌓여 갱신 크기가
# 배치마다 커지고 방향도 현재 배치와 어긋나, 학습이 불안정해집니다. (일부러 여러 배치의 그래디언트를 모아 큰 배치처럼
# 쓰는 '그래디언트 누적'은 이 성질을 이용합니다.)
# </details>
#
# <details><summary>3. 검증 세트가 있는데 테스트 세트를 따로 두는 이유는?</summary>
#
# 검증 세트는 설정(학습률, 에폭 수…)을 고르는 데 쓰므로, 고른 설정은 검증 세트에 조금 맞춰져 있습니다. 한 번도 보지 않은
# 테스트 세트로 마지막에 한 번만 재야 새 데이터에서의 성능을 정직하게 추정할 수 있습니다.
# </details>
