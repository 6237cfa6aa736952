"""데이터 찾기 → (가능하면) 내려받기와 검증 → 메모리에 올리기 → 배치 만들기.

우선순위: 데이터 루트에 이미 있는 파일 → 체크섬을 확인하며 내려받기(시간 제한 있음)
→ 눈에 띄는 한국어 안내와 함께 작은 내장 대체 데이터. 어떤 경로를 탔는지는
`data_source`("local" | "downloaded" | "fallback")로 metrics.json에 남습니다.
"""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from utils.model_utils import CourseError

DEFAULT_DATA_DIR = "data"
DOWNLOAD_TIMEOUT_S = 15  # 오프라인 컴퓨터에서 오래 멈춰 있지 않도록 짧게
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


# ---------------------------------------------------------------------------
# 1. 데이터 루트와 안내 문구
# ---------------------------------------------------------------------------
def resolve_data_dir(cli_value: str | None = None) -> Path:
    """--data-dir > 환경 변수 DL_DATA_DIR > ./data"""
    return Path(cli_value or os.environ.get("DL_DATA_DIR") or DEFAULT_DATA_DIR).expanduser()


def announce_fallback(dataset: str, expected: list[str], reason: str) -> None:
    """대체 데이터로 넘어갈 때는 결과가 실제 데이터의 것이 아님을 크게 알립니다."""
    bar = "!" * 72
    print(f"\n{bar}\n[주의] 실제 {dataset} 데이터를 쓸 수 없습니다: {reason}\n"
          f"       필요한 파일: {', '.join(expected)}\n"
          "       작은 내장 대체 데이터로 계속합니다. 정확도와 시간은 실제 데이터의 결과가 아닙니다.\n"
          "       실제 데이터 준비: python download_data.py --data-dir <폴더> 후 DL_DATA_DIR=<폴더>\n"
          f"{bar}\n")


def missing_data_error(dataset: str, expected: list[str]) -> CourseError:
    """--require-data 일 때: 대체 데이터 대신 무엇이 필요한지 알려 주고 종료 코드 2."""
    return CourseError(f"{dataset} 데이터를 찾을 수 없습니다. 필요한 파일:\n       "
                       + "\n       ".join(expected)
                       + "\n       --data-dir 또는 DL_DATA_DIR 를 확인하거나 "
                         "'python download_data.py --data-dir <폴더>' 로 먼저 내려받으세요.")


# ---------------------------------------------------------------------------
# 2. 검증하며 내려받기 (부분 파일·잘못된 체크섬은 지우고 알림)
# ---------------------------------------------------------------------------
def file_digest(path: Path, algorithm: str = "md5") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_file(url: str, dest: Path, checksum: str | None, algorithm: str = "md5",
                  timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """url을 dest로 내려받습니다. 임시 파일에 받고, 체크섬이 맞을 때만 제자리로 옮깁니다.

    실패하면 OSError(네트워크) 또는 ValueError(체크섬 불일치)를 내고 부분 파일은 남기지 않습니다.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as f:
            expected_len = resp.headers.get("Content-Length")
            written = 0
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                f.write(chunk)
                written += len(chunk)
        if expected_len is not None and written != int(expected_len):
            raise OSError(f"내려받기가 중간에 끊겼습니다 ({written}/{expected_len} 바이트)")
        if checksum is not None and file_digest(tmp, algorithm) != checksum:
            raise ValueError(f"체크섬이 맞지 않습니다: {url}")
        os.replace(tmp, dest)
        return dest
    finally:
        tmp.unlink(missing_ok=True)


def hub_weights_path(url: str) -> Path:
    """torch.hub 가 사전 학습 가중치를 보관하는 곳 (~/.cache/torch/hub/checkpoints/<파일 이름>)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


def fetch_hub_weights(url: str, allow_download: bool) -> str | None:
    """사전 학습 가중치를 캐시에서 찾거나 짧은 시간 제한으로 받아 둡니다. 성공하면 None, 아니면 한국어 이유.

    파일 이름 끝의 해시 앞부분(torch.hub 관례: resnet18-f37072fd.pth)을 sha256 과 맞춰 봅니다.
    라이브러리가 스스로 받게 두면 오프라인에서 오래 멈출 수 있어, 시간 제한이 있는 내려받기를 먼저 합니다.
    """
    dest = hub_weights_path(url)
    if dest.is_file():
        return None
    if not allow_download:
        return f"가중치가 캐시에 없고 --no-download 입니다 ({dest})"
    try:
        print(f"  사전 학습 가중치 내려받기 시도: {url}")
        download_file(url, dest, checksum=None)
    except (OSError, ValueError) as err:
        return f"가중치를 받을 수 없습니다 ({err}); 인터넷이 되는 곳에서 한 번 실행하면 {dest} 에 저장됩니다"
    if not file_digest(dest, "sha256").startswith(dest.stem.split("-")[-1]):
        dest.unlink()
        return "내려받은 가중치 파일의 해시가 맞지 않아 지웠습니다"
    return None


def fetch_verified(candidates: list[str], dest: Path, checksum: str | None, algorithm: str = "md5") -> bool:
    """이미 검증된 파일이 있으면 True. 없으면 후보 URL을 차례로 시도합니다. 모두 실패하면 False."""
    if dest.is_file() and (checksum is None or file_digest(dest, algorithm) == checksum):
        return True
    for url in candidates:
        try:
            print(f"  내려받는 중: {url}")
            download_file(url, dest, checksum, algorithm)
            return True
        except (OSError, ValueError, urllib.error.URLError) as err:
            print(f"  실패: {err}")
    return False


def locate_dataset(args, dataset: str, expected: list[str], present, download) -> str:
    """모든 레슨이 같은 순서로 데이터를 찾습니다: 로컬 → 내려받기 → 대체 데이터.

    present(), download()는 인자 없는 함수(True/False). 돌려주는 값은 data_source:
    "local" | "downloaded" | "fallback". --require-data 이면 대체 데이터 대신 CourseError.
    """
    if present():
        return "local"
    if args.require_data:
        raise missing_data_error(dataset, expected)
    if not args.no_download and download() and present():
        return "downloaded"
    reason = "--no-download 로 내려받기를 껐습니다" if args.no_download else "내려받기에 실패했습니다 (오프라인?)"
    announce_fallback(dataset, expected, reason)
    return "fallback"


# ---------------------------------------------------------------------------
# 3. 메모리에 올린 데이터 묶음과 빠른 배치 반복기
# ---------------------------------------------------------------------------
@dataclass
class ImageData:
    """uint8 이미지 텐서(N,C,H,W)와 정수 레이블. 한 번만 디코딩해 두고 배치마다 잘라 씁니다."""
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]
    source: str  # "local" | "downloaded" | "fallback"
    name: str


class TensorBatches:
    """메모리의 텐서를 배치로 잘라 주는 반복기. DataLoader보다 CPU에서 훨씬 빠릅니다.

    transform(x_batch) 는 배치 단위로 적용됩니다(uint8 → float 변환, 데이터 증강 등).
    shuffle=True면 매 에폭(반복을 시작할 때마다) 새 순서로 섞습니다.
    """

    def __init__(self, x, y, batch_size: int, shuffle: bool = False, transform=None, seed: int = 0):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.shuffle, self.transform = shuffle, transform
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return (len(self.y) + self.batch_size - 1) // self.batch_size

    def state_dict(self) -> dict:
        """섞는 난수 상태. fit 이 체크포인트에 넣어 --resume 뒤에도 같은 순서로 섞습니다."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

    def __iter__(self):
        n = len(self.y)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for i in range(0, n, self.batch_size):
            idx = order[i:i + self.batch_size]
            xb = self.x[idx]
            yield (self.transform(xb) if self.transform else xb), self.y[idx]


def split_train_val(x, y, val_fraction: float, seed: int):
    """학습 데이터에서 검증 세트를 떼어 냅니다 (테스트 세트는 절대 건드리지 않음)."""
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(y), generator=g)
    n_val = int(len(y) * val_fraction)
    val_idx, train_idx = order[:n_val], order[n_val:]
    return x[train_idx], y[train_idx], x[val_idx], y[val_idx]


def take_subset(x, y, n: int, seed: int = 0):
    """앞에서부터가 아니라 무작위로 n개를 고릅니다 (클래스가 고르게 섞이도록)."""
    if n >= len(y):
        return x, y
    idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:n]
    return x[idx], y[idx]


# ---------------------------------------------------------------------------
# 4. MNIST / Fashion-MNIST (torchvision) 과 대체 데이터
# ---------------------------------------------------------------------------
MNIST_CLASSES = [str(d) for d in range(10)]
FASHION_CLASSES_KO = ["티셔츠/탑", "바지", "풀오버", "드레스", "코트", "샌들", "셔츠", "운동화", "가방", "앵클부츠"]


def _mnist_dataset_class(name: str):
    from torchvision import datasets
    return {"MNIST": datasets.MNIST, "FashionMNIST": datasets.FashionMNIST}[name]


def mnist_expected_files(root: Path, name: str) -> list[str]:
    return [str(root / name / "raw" / fname) for fname, _ in _mnist_dataset_class(name).resources]


def download_mnist_raw(root: Path, name: str) -> bool:
    """torchvision이 아는 공식 주소와 md5로 .gz 파일을 (시간 제한을 두고) 내려받습니다."""
    cls = _mnist_dataset_class(name)
    raw = root / name / "raw"
    ok = True
    for fname, md5 in cls.resources:
        urls = [f"{mirror}{fname}" for mirror in cls.mirrors]
        ok = fetch_verified(urls, raw / fname, md5) and ok
    return ok


def _mnist_raw_present(root: Path, name: str) -> bool:
    raw = root / name / "raw"
    return all((raw / f).is_file() or (raw / f.removesuffix(".gz")).is_file()
               for f, _ in _mnist_dataset_class(name).resources)


def _read_mnist(root: Path, name: str):
    """torchvision 데이터셋 클래스로 읽습니다. 압축만 있으면 md5를 확인한 뒤 torchvision이 풉니다."""
    cls = _mnist_dataset_class(name)
    try:
        # download=True여도 파일이 이미 있고 md5가 맞으면 네트워크를 쓰지 않고 압축만 풉니다.
        needs_extract = not all((root / name / "raw" / f.removesuffix(".gz")).is_file() for f, _ in cls.resources)
        train = cls(str(root), train=True, download=needs_extract)
        test = cls(str(root), train=False, download=False)
    except (RuntimeError, ValueError, OSError, EOFError) as err:
        raise CourseError(f"{name} 파일이 손상되었거나 일부만 있습니다: {root / name / 'raw'}\n"
                          f"       그 폴더를 지우고 다시 내려받으세요. (원인: {err})") from None
    return train.data.unsqueeze(1), train.targets, test.data.unsqueeze(1), test.targets


def digits_stand_in(seed: int = 0):
    """scikit-learn에 들어 있는 실제 손글씨 숫자(8×8, 1,797장)를 28×28로 키운 대체 데이터."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.pad(F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False), (4, 4, 4, 4))
    x = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    x, y = x[order], y[order]
    n_test = 300
    return x[n_test:], y[n_test:], x[:n_test], y[:n_test]


def fashion_stand_in(n_per_class: int = 150, seed: int = 0):
    """생성한 의류 실루엣 10종(28×28). 실제 Fashion-MNIST가 없을 때 흐름을 익히는 용도입니다."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 28), torch.linspace(-1, 1, 28), indexing="ij")
    box = lambda x0, x1, y0, y1: ((xx >= x0) & (xx <= x1) & (yy >= y0) & (yy <= y1)).float()
    templates = [
        box(-.5, .5, -.6, .8) + box(-.9, .9, -.6, -.2),             # 티셔츠: 몸통 + 짧은 소매
        box(-.5, -.1, -.8, .9) + box(.1, .5, -.8, .9),              # 바지: 두 다리
        box(-.5, .5, -.6, .8) + box(-.9, .9, -.6, .6),              # 풀오버: 긴 소매
        box(-.3, .3, -.8, -.2) + ((yy > -.2) & (xx.abs() < .3 + .5 * (yy + .2))).float(),  # 드레스
        box(-.6, .6, -.7, .9) + box(-.95, .95, -.7, .7),            # 코트
        box(-.9, .9, .3, .5) + box(-.9, -.5, 0, .3) + box(.5, .9, 0, .3),  # 샌들
        box(-.5, .5, -.7, .8) + box(-.85, .85, -.7, .3) - box(-.05, .05, -.7, .8),  # 셔츠(단추선)
        box(-.9, .9, .1, .5) + box(-.9, .1, -.2, .1),               # 운동화
        box(-.7, .7, -.3, .8) + box(-.3, .3, -.6, -.3) - box(-.15, .15, -.5, -.3),  # 가방
        box(-.3, .5, -.8, .5) + box(-.9, .5, .2, .5),               # 앵클부츠
    ]
    xs, ys = [], []
    for label, t in enumerate(templates):
        base = t.clamp(0, 1).expand(n_per_class, 1, 28, 28)
        shift = torch.randint(-2, 3, (n_per_class, 2), generator=g)
        imgs = torch.stack([torch.roll(b, shifts=tuple(s.tolist()), dims=(1, 2)) for b, s in zip(base, shift)])
        imgs = imgs * (0.5 + 0.5 * torch.rand(n_per_class, 1, 1, 1, generator=g))
        imgs = imgs + 0.15 * torch.randn(imgs.shape, generator=g)
        xs.append((imgs.clamp(0, 1) * 255).to(torch.uint8))
        ys.append(torch.full((n_per_class,), label))
    x, y = torch.cat(xs), torch.cat(ys)
    order = torch.randperm(len(y), generator=g)
    x, y = x[order], y[order]
    n_test = len(y) // 5
    return x[n_test:], y[n_test:], x[:n_test], y[:n_test]


def load_mnist_family(name: str, args, quick_sizes: tuple[int, int] | None = None) -> ImageData:
    """MNIST 또는 FashionMNIST를 uint8 텐서로 읽습니다 (로컬 → 내려받기 → 대체 데이터).

    quick_sizes=(학습, 테스트): --quick 이면 그만큼만 무작위로 남깁니다 (시드 args.seed).
    """
    root = resolve_data_dir(args.data_dir)
    label = {"MNIST": "MNIST", "FashionMNIST": "Fashion-MNIST"}[name]
    classes = MNIST_CLASSES if name == "MNIST" else FASHION_CLASSES_KO
    source = locate_dataset(args, label, mnist_expected_files(root, name),
                            present=lambda: _mnist_raw_present(root, name),
                            download=lambda: download_mnist_raw(root, name))
    if source == "fallback":
        parts = digits_stand_in(args.seed) if name == "MNIST" else fashion_stand_in(seed=args.seed)
        data = ImageData(*parts, classes=classes, source=source, name=f"{label} 대체 데이터")
    else:
        data = ImageData(*_read_mnist(root, name), classes=classes, source=source, name=label)
    if quick_sizes is not None and args.quick:
        data.train_x, data.train_y = take_subset(data.train_x, data.train_y, quick_sizes[0], args.seed)
        data.test_x, data.test_y = take_subset(data.test_x, data.test_y, quick_sizes[1], args.seed)
    return data


# ---------------------------------------------------------------------------
# 5. 학습자가 가져온 이미지 읽기 (--predict)
# ---------------------------------------------------------------------------
def collect_image_paths(items: list[str]) -> list[Path]:
    """파일 여러 개 또는 폴더를 받아 이미지 경로 목록으로. 없는 경로는 한국어 오류."""
    paths = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise CourseError(f"폴더에 이미지 파일이 없습니다: {p}")
            paths.extend(found)
        elif p.is_file():
            paths.append(p)
        else:
            raise CourseError(f"파일이나 폴더를 찾을 수 없습니다: {p}")
    return paths


def read_image(path: Path, mode: str = "RGB"):
    """PIL로 이미지를 엽니다. 이미지가 아니거나 깨진 파일이면 한국어 오류."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            return img.convert(mode)
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise CourseError(f"이미지로 읽을 수 없는 파일입니다: {path} ({type(err).__name__})") from None


FRAMINGS = ("mnist", "fashion")
MNIST_BOX = 20             # MNIST: 숫자의 긴 변을 20픽셀로 맞춘 뒤 28×28 안에 놓았습니다
MNIST_INK_LEVEL = 0.3      # 늘인 밝기(0~1)에서 이보다 밝으면 잉크로 봅니다 (종이 결·JPEG 잡음은 이보다 어둡습니다)
FASHION_TRIM_LEVEL = 0.05  # Fashion-MNIST 논문: 배경색과 최대 밝기의 5 % 안쪽으로 가까운 가장자리는 잘라 냅니다


def _resize_float(arr: np.ndarray, width: int, height: int) -> np.ndarray:
    """실수 배열을 (height, width)로 줄이거나 키웁니다. PIL 의 쌍선형 필터는 줄일 때 주변을 평균해 계단이 생기지 않습니다."""
    from PIL import Image

    img = Image.fromarray(arr.astype(np.float32)).resize((width, height), Image.BILINEAR)
    return np.asarray(img, dtype=np.float32)


def _solid_mask(arr: np.ndarray, level: float) -> np.ndarray:
    """level 보다 밝으면서 3×3 이웃의 평균도 level 을 넘는 곳. 종이의 잡음 한두 픽셀이 자르는 범위를 넓히지 않게 합니다.

    그런 곳이 하나도 없으면(아주 가는 획뿐) 그냥 level 보다 밝은 곳.
    """
    h, w = arr.shape
    padded = np.pad(arr, 1, mode="edge")
    mean3 = sum(padded[i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9
    solid = (arr > level) & (mean3 > level)
    return solid if solid.any() else arr > level


def frame_like_dataset(gray: np.ndarray, framing: str, size: int = 28) -> np.ndarray:
    """학습자의 흑백 이미지(어두운 배경 + 밝은 글씨·물체, 크기 무관)를 데이터셋이 만들어진 방식 그대로 size×size 에 놓습니다.

    그림 전체를 28×28 로 줄이기만 하면 비율이 찌그러지고 빈 여백까지 들어가, 큰 종이 한쪽에 쓴 숫자는
    몇 픽셀짜리 점이 됩니다. 그래서 데이터셋을 만든 절차를 그대로 따릅니다.

    - 공통: 테두리 픽셀의 중앙값을 배경으로 보고 0이 되도록 뺍니다 (종이색이 회색이어도 배경은 검정).
    - "mnist" (LeCun 등이 NIST 손글씨로 MNIST 를 만든 방법): 가장 진한 잉크가 255가 되도록 밝기를 늘리고,
      잉크(밝기 30 % 초과)를 감싸는 사각형만 잘라 가로세로 비율을 지킨 채 긴 변을 20픽셀로 줄인 뒤,
      28×28 안에서 질량 중심(밝기로 가중한 평균 위치)이 (14, 14) 에 오도록 붙입니다.
    - "fashion" (Fashion-MNIST 논문의 방법): 배경과 5 % 넘게 다른 곳까지만 잘라, 비율을 지킨 채 긴 변을 28로 줄이고
      짧은 변 쪽을 검정으로 채워 사각형의 가운데에 둡니다. 밝기는 늘리지 않습니다.
    배경과 구별되는 것이 없으면(빈 이미지) 통째로 줄여 돌려줍니다. 돌려주는 값: (size, size) uint8 배열.
    """
    if framing not in FRAMINGS:
        raise ValueError(f"framing 은 {FRAMINGS} 중 하나여야 합니다: {framing!r}")
    arr = np.asarray(gray, dtype=np.float32)
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    arr = np.clip(arr - np.median(border), 0, None)
    peak = float(arr.max())
    if peak <= FASHION_TRIM_LEVEL * 255:
        return np.clip(_resize_float(arr, size, size), 0, 255).round().astype(np.uint8)
    if framing == "mnist":
        arr = arr * (255.0 / peak)
        mask, box = _solid_mask(arr, MNIST_INK_LEVEL * 255), round(size * MNIST_BOX / 28)
    else:
        mask, box = _solid_mask(arr, FASHION_TRIM_LEVEL * 255), size
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = arr[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = box / max(crop.shape)
    h, w = (max(1, min(box, round(n * scale))) for n in crop.shape)
    small = np.clip(_resize_float(crop, w, h), 0, 255)
    if framing == "mnist":  # 질량 중심 (cy, cx) 을 (14, 14) 에: 실제 MNIST 숫자들의 질량 중심 평균이 (14.0, 14.0) 입니다
        total = small.sum()
        cy = (small.sum(axis=1) * np.arange(h)).sum() / total
        cx = (small.sum(axis=0) * np.arange(w)).sum() / total
        top = int(np.clip(round(size / 2 - cy), 0, size - h))
        left = int(np.clip(round(size / 2 - cx), 0, size - w))
    else:  # 사각형의 가운데를 가운데에 (여백이 홀수면 Fashion-MNIST 처럼 위·왼쪽 여백을 한 픽셀 더)
        top, left = (size - h + 1) // 2, (size - w + 1) // 2
    out = np.zeros((size, size), dtype=np.float32)
    out[top:top + h, left:left + w] = small
    return out.round().astype(np.uint8)


def load_user_images(items: list[str], size: int, channels: int = 1, dark_background: bool = True,
                     framing: str | None = None) -> tuple[list[Path], torch.Tensor]:
    """--predict 용: 파일·폴더를 읽어 (N,C,size,size) uint8 텐서로. 크기·형식은 무엇이든 됩니다.

    dark_background=True면 MNIST/Fashion-MNIST처럼 '어두운 배경 + 밝은 물체'가 되도록
    밝은 배경의 사진(종이에 쓴 숫자 등)을 반전합니다.
    framing="mnist" | "fashion" (흑백만): 반전한 뒤 `frame_like_dataset` 으로 데이터셋과 같은 틀에 놓습니다
    (잉크·물체만 잘라 비율을 지켜 줄이고 가운데에). None 이면 그림 전체를 size×size 로 줄이기만 합니다.
    """
    if framing is not None and (framing not in FRAMINGS or channels != 1):
        raise ValueError(f"framing 은 흑백(channels=1)에서 {FRAMINGS} 중 하나입니다: {framing!r}")
    paths = collect_image_paths(items)
    tensors = []
    for path in paths:
        img = read_image(path, "L" if channels == 1 else "RGB")
        if framing is None:
            img = img.resize((size, size))
        arr = torch.tensor(np.asarray(img), dtype=torch.uint8)
        arr = arr.unsqueeze(0) if channels == 1 else arr.permute(2, 0, 1)
        if dark_background and arr.float().mean() > 127:
            arr = 255 - arr
        if framing is not None:
            arr = torch.from_numpy(frame_like_dataset(arr[0].numpy(), framing, size)).unsqueeze(0)
        tensors.append(arr)
    return paths, torch.stack(tensors)
